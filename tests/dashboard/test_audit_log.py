"""The audit log: Auditors and Admins read, filter and export it; nobody edits it from the UI."""

import csv
import io

import pytest
from django.contrib.auth.models import User

from batches import audit
from batches.models import AuditEvent


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


def test_the_export_holds_exactly_the_filtered_events_and_is_itself_recorded(auditor_client, events):
    response = auditor_client.get("/audit/export.csv?action=cancel")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["at", "actor_name", "action"]
    assert sorted(r[3] for r in rows[1:]) == ["msgbatch_a", "msgbatch_c"]
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
