"""The REST API with tokens: the list page's filters, a batch with its figures, results streamed from the kept
copy, errors, cancel; another workspace's batch is a 404, a Viewer token may not cancel."""

from __future__ import annotations

import json

from batches.models import AuditEvent, Result, WorkspaceAccess
from tests.api.conftest import auth


def test_the_list_filters_as_the_list_page_and_pages_by_cursor(client, make_user, mirrored, make_token):
    raw = make_token(make_user("vic", "Viewer"), [mirrored["workspace"]])
    ids = {b["id"] for b in client.get("/api/v1/batches", **auth(raw)).json()["results"]}
    assert ids == {mirrored["ended"].pk, mirrored["running"].pk, mirrored["old"].pk}
    ended = client.get("/api/v1/batches?status=errors", **auth(raw)).json()["results"]
    assert [b["id"] for b in ended] == [mirrored["ended"].pk]
    assert ended[0]["request_counts"] == {"processing": 0, "succeeded": 120, "errored": 4, "canceled": 0,
                                          "expired": 1}  # fmt: skip
    first = client.get("/api/v1/batches?limit=2", **auth(raw)).json()
    rest = client.get(first["next"], **auth(raw)).json()
    assert len(first["results"]) == 2 and len(rest["results"]) == 1 and rest["next"] is None
    assert {b["id"] for b in first["results"] + rest["results"]} == ids
    bad = client.get("/api/v1/batches?created_from=yesterday", **auth(raw))
    assert bad.status_code == 400 and "created_from" in bad.json()["error"]["message"]


def test_a_batch_with_its_errors_and_results_from_the_kept_copy(client, make_user, mirrored, make_token):
    raw = make_token(make_user("vic", "Viewer"), [mirrored["workspace"]])
    batch = mirrored["ended"]
    detail = client.get(f"/api/v1/batches/{batch.pk}", **auth(raw)).json()
    assert detail["workspace"] == "main" and detail["processing_status"] == "ended"
    assert detail["errors_by_type"] == [{"error_type": "overloaded_error", "count": 3},
                                        {"error_type": "invalid_request_error", "count": 1}]  # fmt: skip
    lineage = detail["lineage"]
    assert lineage["items"] == 125 and lineage["recovered"] == 0 and lineage["retry_of"] is None
    assert lineage["still_failing"] >= 5 and lineage["succeeded"] + lineage["still_failing"] == 125
    assert lineage["inputs_kept"] is False  # made outside the dashboard: nothing to retry from
    response = client.get(f"/api/v1/batches/{batch.pk}/results?result_type=errored", **auth(raw))
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert sorted(line["custom_id"] for line in lines) == ["bad-1", "over-0", "over-1", "over-2"]
    whole = client.get(f"/api/v1/batches/{batch.pk}/results", **auth(raw))
    everything = b"".join(whole.streaming_content)
    assert len(everything.splitlines()) == Result.objects.filter(batch=batch).count() == 125
    assert int(whole["Content-Length"]) == len(everything)  # its size declared: a download cut short is seen
    csv = b"".join(client.get(f"/api/v1/batches/{batch.pk}/results?format=csv", **auth(raw)).streaming_content)
    assert csv.count(b"\n") == 126  # the header and every result
    running = client.get(f"/api/v1/batches/{mirrored['running'].pk}/results", **auth(raw))
    assert running.status_code == 409 and "still processing" in running.json()["error"]["message"]
    errors = client.get("/api/v1/errors", **auth(raw)).json()["error_types"]
    assert {e["error_type"]: e["total"] for e in errors} == {"overloaded_error": 3, "invalid_request_error": 1}


def test_another_workspaces_batch_is_a_404(client, make_user, make_workspace, mirrored, make_token):
    other = make_workspace("other")
    user = make_user("sam", "Operator")
    WorkspaceAccess.objects.create(user=user, workspace=other, role="Operator")
    WorkspaceAccess.objects.create(user=user, workspace=mirrored["workspace"], role="Operator")
    raw = make_token(user, [other], "Operator")  # this token holds only "other"
    batch = mirrored["running"].pk
    for call in (client.get(f"/api/v1/batches/{batch}", **auth(raw)),
                 client.post(f"/api/v1/batches/{batch}/cancel", **auth(raw))):  # fmt: skip
        assert call.status_code == 404 and call.json()["error"]["type"] == "not_found_error"
    assert client.get("/api/v1/batches", **auth(raw)).json()["results"] == []


def test_a_viewer_token_cannot_cancel_and_an_operator_token_does_once(client, make_user, mirrored, make_token):
    running = mirrored["running"]
    viewer = make_token(make_user("vic", "Viewer"), [mirrored["workspace"]])
    refused = client.post(f"/api/v1/batches/{running.pk}/cancel", **auth(viewer))
    assert refused.status_code == 403 and refused.json()["error"]["message"] == "This needs the Operator or Admin role."
    # An Operator who made a Viewer token: the token's role, not hers.
    olga = make_user("olga", "Operator")
    low = make_token(olga, [mirrored["workspace"]], "Viewer")
    assert client.post(f"/api/v1/batches/{running.pk}/cancel", **auth(low)).status_code == 403
    raw = make_token(olga, [mirrored["workspace"]], "Operator")
    first = client.post(f"/api/v1/batches/{running.pk}/cancel", **auth(raw))
    again = client.post(f"/api/v1/batches/{running.pk}/cancel", **auth(raw))
    assert first.status_code == 202 and again.status_code == 409
    running.refresh_from_db()
    assert running.cancel_requested_at is not None
    assert AuditEvent.objects.filter(action="cancel", actor_name="olga").exists()


def test_a_nul_sent_by_code_is_answered_in_the_api_error_shape(client, workspace, make_user, make_token):
    """A script reads the API's JSON error (the SDK raises it with its message), never a line of plain text."""
    raw = make_token(make_user("olga", "Operator"), [workspace], "Operator")
    for url in ("/api/v1/batches/msgbatch_a%00b", "/api/v1/batches?q=%00", "/anthropic/v1/messages/batches/a%00b"):
        response = client.get(url, HTTP_X_API_KEY=raw)
        assert response.status_code == 400 and response["content-type"] == "application/json", url
        assert response.json()["error"] == {"type": "invalid_request_error", "message": "NUL characters are not "
                                            "allowed in URLs or forms."}  # fmt: skip
    assert client.get("/batches/a%00b/")["content-type"].startswith("text/plain")  # a person's page: as before


def test_a_cursor_whose_position_is_no_date_is_refused_as_invalid(client, make_user, workspace, make_token):
    """A cursor is base64 the client can write: one that decoded to `p=x` then failed the query (a 500)."""
    import base64

    viewer = make_token(make_user("vic", "Viewer"), [workspace], "Viewer")
    auditor = make_token(make_user("ann", "Auditor"), [workspace], "Auditor")
    for position in ("p=x", "o=1&p=2", "r=1&p=" + "9" * 30):
        cursor = base64.b64encode(position.encode()).decode()
        for path, raw in (("/api/v1/batches", viewer), ("/api/v1/audit", auditor)):
            response = client.get(path, {"cursor": cursor}, HTTP_X_API_KEY=raw)
            assert response.status_code == 404, (path, position, response.status_code)
            assert response.json()["error"]["message"] == "Invalid cursor"
