"""Odd input is answered, never with a 500: each case here was a 500 found by sending every page odd values
(stop 41). Each answer says what it could not take, in the page's own way (a form's message, a 400)."""

from __future__ import annotations

import pytest

EDGE_DATES = ["9999-12-31", "0001-01-01"]


@pytest.fixture
def admin(make_user, workspace, client):
    client.force_login(make_user("ada", "Admin"))
    return client


@pytest.mark.parametrize("day", EDGE_DATES)
@pytest.mark.parametrize(
    "url",
    [
        "/?created_to={day}", "/?created_from={day}", "/batches/export.csv?created_to={day}",
        "/errors/?created_to={day}", "/retry/?workspace=main&created_to={day}", "/spend/?from={day}&to={day}",
        "/spend/?period=month&from={day}&to={day}", "/spend/export.csv?from={day}&to={day}",
        "/spend/reconcile/?end={day}", "/spend/reconcile/?start={day}", "/audit/?since={day}",
        "/api/v1/batches?created_to={day}", "/api/v1/errors?created_to={day}", "/api/v1/spend?from={day}&to={day}",
    ],
)  # fmt: skip
def test_a_date_at_the_calendars_edge_is_refused_as_out_of_range(admin, url, day):
    """9999-12-31 + 1 day, or 0001-01-01 − 31 days, overflowed Python's dates: every date filter now takes the days
    from 1970 to 2999, and says so of any other."""
    response = admin.get(url.format(day=day))

    assert response.status_code in (200, 400), response.status_code
    assert "from 1970-01-01 to 2999-12-31" in response.content.decode()


def test_a_bulk_action_over_an_edge_date_takes_nothing(admin):
    """ "All matching" a filter it cannot read takes no batch, never every batch."""
    from batches.models import AuditEvent

    response = admin.post("/batches/bulk/?created_to=9999-12-31",
                          {"action": "cancel", "all_matching": "1", "confirmed": "yes"}, follow=True)  # fmt: skip

    assert response.status_code == 200
    assert "None of the selected batches can take this action: nothing was done." in response.content.decode()
    assert not AuditEvent.objects.filter(action="cancel").exists()
