"""Retry, spend and audit through the REST API: the pages' own rules and figures."""

from __future__ import annotations

import csv
import io

from django.test import Client

from batches.models import AuditEvent, Batch, Workspace
from batches.services import pricing, submit, sync, uploads
from tests.api.conftest import auth
from tests.builders import batch_request, ended_batch, jsonl, stored_result


def test_the_spend_json_has_the_figures_of_the_csv(client, make_user, mirrored, make_token):
    auditor = make_user("aude", "Auditor")
    raw = make_token(auditor, [mirrored["workspace"]], "Auditor")
    query = "group=model&from=2000-01-01&to=2100-01-01"
    report = client.get(f"/api/v1/spend?{query}", **auth(raw))
    assert report.status_code == 200, report.content
    page = Client()
    page.force_login(auditor)
    rows = list(csv.reader(io.StringIO(b"".join(page.get(f"/spend/export.csv?{query}").streaming_content).decode())))
    data = report.json()
    assert data["columns"] == rows[0]
    assert [[("" if v is None else str(v)) for v in row] for row in [*data["rows"], data["total"]]] == rows[1:]
    assert client.get(f"/api/v1/spend?{query}", **auth(make_token(auditor, [mirrored["workspace"]]))).status_code == 403


def test_the_spend_json_groups_by_user_profile(client, make_user, make_token):
    # Haiku 4.5 at its published $1 / $5 per MTok, half in a batch: 1,000,000 input + 200,000 output = $1.00 for
    # uprof_01acme; 2,000,000 output = $5.00 with no user profile.
    for name, profile, tokens in [("p1", "uprof_01acme", (1_000_000, 200_000)), ("p2", "", (0, 2_000_000))]:
        batch = ended_batch(name)
        Batch.objects.filter(pk=batch.pk).update(user_profile_id=profile)
        batch.refresh_from_db()
        stored_result(batch, "a", "claude-haiku-4-5-20251001", input_tokens=tokens[0], output_tokens=tokens[1])
        pricing.roll_up(batch)
    auditor = make_user("aude", "Auditor")
    raw = make_token(auditor, [Workspace.objects.get(name="acme")], "Auditor")
    data = client.get("/api/v1/spend?group=user_profile&from=2026-05-01&to=2026-05-31", **auth(raw)).json()
    cost = data["columns"].index("Cost at batch prices (USD)")
    assert data["columns"][1] == "User profile"
    assert [(row[1], row[cost]) for row in data["rows"]] == [("(no user profile)", "5.00"), ("uprof_01acme", "1.00")]
    assert data["total"][cost] == "6.00"


def test_a_failed_item_is_planned_and_retried_once(client, make_user, workspace, make_token, emulator):
    olga = make_user("olga", "Operator")
    raw = make_token(olga, [workspace], "Operator")
    body = io.BytesIO(jsonl([batch_request("ok", "hi [emulate:succeeded]"),
                             batch_request("bad", "x [emulate:errored:overloaded_error]")]))  # fmt: skip
    validation = uploads.validate(body)
    draft = submit.prepare_upload(workspace, olga, body, validation, label="n", filename="f.jsonl").submission
    submit.confirm(draft, olga)
    submit.submit(draft.pk)
    batch_id = draft.parts.get().batch_id
    emulator.advance(3600)
    sync.catch_up(workspace.pk)
    url = f"/api/v1/retry?batch={batch_id}&result_type=errored"
    plan = client.get(url, **auth(raw)).json()
    assert plan["selected"] == 1 and plan["ready"] == 1 and plan["problem"] == ""
    first = client.post(url, {"max_tokens": 32}, content_type="application/json", **auth(raw))
    again = client.post(url, {"max_tokens": 32}, content_type="application/json", **auth(raw))
    assert first.status_code == 201 and again.status_code == 200 and first.json()["id"] == again.json()["id"]
    assert first.json()["parent_batch"] == batch_id and first.json()["request_count"] == 1
    # A body that is no object of options (a list, null), or one nested too deep for Python, was a 500.
    for odd in ("[]", "null", "[" * 100_000 + "]" * 100_000, '{"model": "claude\\ud800"}'):
        refused = client.post(url, odd, content_type="application/json", **auth(raw))
        assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
    # Days it cannot read: asked again, never "no failed result matches" (which reads as a finding).
    for day in ("yesterday", "1969-12-31"):
        odd_dates = client.get(f"/api/v1/retry?workspace=main&created_from={day}", **auth(raw))
        assert (
            odd_dates.status_code == 400
            and "days from 1970-01-01 to 2999-12-31" in odd_dates.json()["error"]["message"]
        )
    viewer = make_token(olga, [workspace], "Viewer")
    assert client.post(url, **auth(viewer)).status_code == 403
    # A kind the dashboard does not know is refused with the ones it does, never answered as an empty plan; an error
    # type it has not met yet (the API adds them) is a kind.
    misspelt = client.get(f"/api/v1/retry?batch={batch_id}&kind=retriable", **auth(raw))
    assert misspelt.status_code == 400
    assert "retriable" in misspelt.json()["error"]["message"] and "retryable" in misspelt.json()["error"]["message"]
    new_type = client.get(
        f"/api/v1/retry?batch={batch_id}&kind=brand_new_error&kind=request_too_large&kind=malformed_line&kind=expired",
        **auth(raw),
    )
    assert new_type.status_code == 200 and new_type.json()["selected"] == 0
    assert client.get(f"/api/v1/retry?batch={batch_id}&kind=retryable", **auth(raw)).json()["selected"] == 1


def test_the_audit_log_pages_by_cursor_and_keeps_to_the_tokens_workspaces(client, make_user, make_workspace,
                                                                          make_token):  # fmt: skip
    main, other = make_workspace("main"), make_workspace("other")
    ada = make_user("ada", "Admin")
    for i in range(3):
        AuditEvent.objects.create(actor_name="x", action="cancel", target=f"main-{i}", workspace=main)
    AuditEvent.objects.create(actor_name="x", action="cancel", target="other-0", workspace=other)
    raw = make_token(ada, [main], "Auditor")
    first = client.get("/api/v1/audit?action=cancel&limit=2", **auth(raw)).json()
    rest = client.get(first["next"], **auth(raw)).json()
    targets = [e["target"] for e in first["results"] + rest["results"]]
    assert targets == ["main-2", "main-1", "main-0"]
    assert client.get("/api/v1/audit", **auth(make_token(ada, [main], "Operator"))).status_code == 403
