"""The audit log: Auditors and Admins read, filter and export it; nobody edits it from the UI."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import User

from batches.models import AuditEvent
from batches.services import audit
from tests.html import element, elements, text


@pytest.fixture
def auditor_client(client, make_user):
    client.force_login(make_user("auditor", "Auditor"))
    return client


@pytest.fixture
def events(viewer):
    audit.record(viewer, "cancel", "msgbatch_a", params={"processing_count": 3})
    audit.record(viewer, "download", "msgbatch_b", params={"format": "csv"}, outcome="ok")
    audit.record(viewer, "cancel", "msgbatch_c", outcome="error", detail='=HYPERLINK("x")')


def test_auditors_see_and_filter_the_log(auditor_client, events):
    body = auditor_client.get("/audit/?action=cancel").content.decode()
    assert "msgbatch_a" in body and "msgbatch_c" in body and "msgbatch_b" not in body


def test_a_batch_ids_history_holds_the_retries_of_it(auditor_client, viewer, events):
    """A retry is recorded under its label ("Retry of msgbatch_a", or "Retry of 2 batches"): filtering the log by a
    batch id listed its cancel and not its retries."""
    audit.record(viewer, "retry", "Retry of msgbatch_a", params={"submission": 7, "parents": ["msgbatch_a"]})
    audit.record(
        viewer, "retry", "Retry of 2 batches", params={"submission": 8, "parents": ["msgbatch_b", "msgbatch_a"]}
    )
    audit.record(viewer, "retry", "Retry of msgbatch_b", params={"submission": 9, "parents": ["msgbatch_b"]})

    page = auditor_client.get("/audit/?target=msgbatch_a").content.decode()

    cells = [list(elements(row, "td")) for row in elements(page, "tr")]
    targets = sorted(text(row[3]).strip() for row in cells if len(row) == 7)  # When, Who, Action, Target, ...
    assert targets == ["Retry of 2 batches", "Retry of msgbatch_a", "msgbatch_a"]
    # From the start of an id, as the target is matched: a part from its middle names no batch's history.
    assert "Retry of" not in auditor_client.get("/audit/?target=batch_a").content.decode()


def test_the_export_holds_exactly_the_filtered_events_and_is_itself_recorded(auditor_client, events):
    response = auditor_client.get("/audit/export.csv?action=cancel")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["When (UTC)", "Who", "Action", "Target", "Outcome", "Parameters (JSON)", "Detail"]
    assert sorted(r[3] for r in rows[1:]) == ["msgbatch_a", "msgbatch_c"]
    assert {r[2] for r in rows[1:]} == {"Cancel"}  # named as the page names it
    assert json.loads(next(r[5] for r in rows[1:] if r[3] == "msgbatch_a")) == {"processing_count": 3}
    assert any(r[6] == '\'=HYPERLINK("x")' for r in rows[1:])  # a formula is neutralised
    assert AuditEvent.objects.filter(action="export", actor_name="auditor").exists()


def test_viewers_and_operators_cannot_read_it(viewer_client, operator_client, events):
    for client in (viewer_client, operator_client):
        assert client.get("/audit/").status_code == 403
        assert client.get("/audit/export.csv").status_code == 403


def test_nobody_edits_it_from_the_ui(db, client):
    user = User.objects.create_superuser("root", "", "pw")
    client.force_login(user)
    assert client.get("/admin/batches/auditevent/").status_code == 404  # not in the admin at all
    event = audit.record(user, "cancel", "x")
    assert client.post(f"/admin/batches/auditevent/{event.pk}/change/", {"target": "y"}).status_code in (403, 404)
    assert client.post(f"/admin/batches/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code in (403, 404)
    assert AuditEvent.objects.get(pk=event.pk).target == "x"


def test_a_retry_event_shows_its_parameters_and_names_edited_items_as_the_pages_do(auditor_client, viewer):
    # Its params hold a key named "items": the page once looked that up instead of the dict's pairs, and failed.
    audit.record(viewer, "retry", "Retry of msgbatch_a", params={
        "submission": 7, "items": 3, "parents": ["msgbatch_a"], "overrides": {"max_tokens": 64},
        "edited": ["msgbatch_a/bad-1"], "included_needing_fix": False,
    })  # fmt: skip
    for query in ("", "?action=retry", "?actor=viewer"):
        response = auditor_client.get(f"/audit/{query}")
        assert response.status_code == 200
        cell = text(element(response.content.decode(), "td", class_="mono params"))
        assert "items=3" in cell and 'overrides={"max_tokens": 64}' in cell and 'edited=["msgbatch_a/bad-1"]' in cell


def test_a_filter_that_cannot_be_read_is_said_and_never_exported_as_an_empty_log(auditor_client, events):
    """A mistyped date listed nothing under "Nothing recorded matching these filters", and exported a CSV of its header
    alone: both read as "nothing happened", an auditor's wrong finding."""
    page = auditor_client.get("/audit/?since=2026-13-01&action=cancel").content.decode()

    said = text(element(page, "p", class_="message warning"))
    assert "could not be read, so nothing is listed" in said and "since=2026-13-01: enter a valid date" in said
    assert "Nothing recorded" not in page and "Export CSV" not in page
    export = auditor_client.get("/audit/export.csv?since=2026-13-01")
    assert export.status_code == 400 and "since=2026-13-01: enter a valid date" in export.content.decode()
    assert not AuditEvent.objects.filter(action="export").exists()  # nothing was exported
