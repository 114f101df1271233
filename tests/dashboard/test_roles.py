"""The whole matrix of role × action, enforced by the server (direct requests included), and
buttons shown only to those who may use them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batches.models import AuditEvent

ROLES = ["Viewer", "Operator", "Auditor", "Admin", None]

# action -> roles allowed; every other role must get a 403 and change nothing.
MATRIX = {
    "read batches": {"Viewer", "Operator", "Auditor", "Admin"},
    "download results": {"Viewer", "Operator", "Auditor", "Admin"},
    "cancel": {"Operator", "Admin"},
    "submit": {"Operator", "Admin"},
    "retry": {"Operator", "Admin"},
    "attach inputs": {"Operator", "Admin"},
    "audit log": {"Auditor", "Admin"},
    "audit export": {"Auditor", "Admin"},
}

# What an allowed role gets: the page, a redirect once done, or the attach page with what matched. The
# retry is refused for a reason it explains (400): this batch was created outside the dashboard, so no
# inputs were kept to send again.
ALLOWED_STATUS = {
    "read batches": 200, "download results": 200, "cancel": 302, "submit": 302, "retry": 400,
    "attach inputs": 200, "audit log": 200, "audit export": 200,
}  # fmt: skip


def _request(client, action: str, mirrored, workspace):
    running, ended = mirrored["running"].id, mirrored["ended"].id
    jsonl = (
        b'{"custom_id": "a", "params": {"model": "m", "max_tokens": 1, '
        b'"messages": [{"role": "user", "content": "x"}]}}\n'
    )
    if action == "read batches":
        return client.get(f"/batches/{ended}/")
    if action == "download results":
        return client.get(f"/batches/{ended}/download.jsonl")
    if action == "cancel":
        return client.post(f"/batches/{running}/cancel/", {"confirmed": "yes"})
    if action == "submit":
        return client.post("/submit/", {"workspace": workspace.name, "file": SimpleUploadedFile("a.jsonl", jsonl)})
    if action == "retry":
        return client.post(f"/retry/?batch={ended}&kind=overloaded_error")
    if action == "attach inputs":
        return client.post(f"/batches/{ended}/inputs/", {"file": SimpleUploadedFile("a.jsonl", jsonl)})
    if action == "audit log":
        return client.get("/audit/")
    return client.get("/audit/export.csv")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(MATRIX))
def test_each_role_may_do_exactly_its_actions(client, make_user, mirrored, workspace, role, action):
    client.force_login(make_user("someone", *([role] if role else [])))
    events_before = AuditEvent.objects.count()

    response = _request(client, action, mirrored, workspace)

    if role in MATRIX[action]:
        assert response.status_code == ALLOWED_STATUS[action], (role, action, response.status_code)
    else:
        assert response.status_code == 403, (role, action, response.status_code)
        assert AuditEvent.objects.count() == events_before  # nothing happened, nothing recorded


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("Viewer", [], ["Cancel batch", "Submit</a>", "Retry selected", "Attach request file", "Audit log</a>"]),
        ("Operator", ["Cancel batch", "Submit</a>", "Retry selected"], ["Audit log</a>"]),
        ("Auditor", ["Audit log</a>"], ["Cancel batch", "Submit</a>", "Retry selected"]),
    ],
)
def test_buttons_are_shown_only_to_those_who_may_use_them(client, make_user, mirrored, role, shown, hidden):
    client.force_login(make_user("someone", role))
    pages = client.get(f"/batches/{mirrored['running'].id}/").content.decode()
    pages += client.get(f"/batches/{mirrored['ended'].id}/").content.decode()
    for text in shown:
        assert text in pages, (role, text)
    for text in hidden:
        assert text not in pages, (role, text)
