"""403, 404 and 500 in the site's layout: navigation, a way to log out, and what the 403 needed."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.html import element, elements, text


def _in_layout(body: str) -> None:
    assert element(body, "nav") and element(body, "a", class_="skip")
    assert any("Log out" in text(b) for b in elements(body, "button"))


def test_a_403_says_which_role_is_needed_in_the_layout(viewer_client):
    response = viewer_client.get("/spend/")
    assert response.status_code == 403
    body = response.content.decode()
    _in_layout(body)
    assert "This needs the Auditor or Admin role." in text(element(body, "main"))


def test_a_404_is_in_the_layout(viewer_client):
    response = viewer_client.get("/batches/msgbatch_nope/")
    assert response.status_code == 404
    _in_layout(response.content.decode())
    assert "Not found" in text(element(response.content.decode(), "h1"))


@pytest.fixture
def failing_view(settings):
    """A URL whose view raises, as a bug would."""
    settings.ROOT_URLCONF = "tests.dashboard.failing_urls"


def test_a_500_is_in_the_layout_and_says_nothing_was_lost(viewer, failing_view):
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    _in_layout(body)
    assert "Nothing you sent was lost" in body


def test_favicon_ico_leads_to_the_dashboards_icon_not_a_404(client):
    """The admin's pages name no icon, so browsers ask for /favicon.ico (issue 21, point 19)."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("dashboard/favicon.svg")
    assert client.get(response["Location"]).status_code == 200
