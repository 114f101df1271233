"""The official SDK, unchanged but for base_url and api_key, against a live dashboard with the emulator upstream:
the same bytes as the emulator directly, each create kept with its submitter and inputs, results from the kept
copy, the SDK's retries converging on one batch, and a token's scope enforced."""

from __future__ import annotations

import json
from urllib.parse import quote

import anthropic
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches import tasks
from batches.models import (
    AuditEvent,
    Batch,
    KeptBody,
    MirrorRefusal,
    RequestInput,
    Submission,
    SubmissionPart,
    Workspace,
)
from batches.services import kept_bodies, retry, sync
from batches.services import tokens as token_service
from tests.builders import MODEL, batch_request, workspace_on

pytestmark = pytest.mark.django_db(transaction=True)
VERSION = {"HTTP_ANTHROPIC_VERSION": "2023-06-01"}  # as the SDK sends it: the API refuses a call without one


@pytest.fixture
def olga(make_user):
    return make_user("olga", "Operator")


@pytest.fixture
def sdk(live_server, workspace, olga, make_token):
    """The SDK as a pipeline uses it: the dashboard's /anthropic and an Operator's token."""
    raw = make_token(olga, [workspace], "Operator")
    return anthropic.Anthropic(base_url=f"{live_server.url}/anthropic", api_key=raw, max_retries=2)


@pytest.fixture
def direct(emulator, workspace):
    return anthropic.Anthropic(base_url=emulator.base_url, api_key=workspace.test_api_key, max_retries=0)


def _raw(call) -> bytes:
    return call.http_response.content


def test_the_sdk_gets_the_same_bytes_and_the_batch_is_kept_with_its_inputs(sdk, direct, emulator, workspace, olga):
    requests = [batch_request(f"q-{i}", "hi [emulate:succeeded]") for i in range(3)]
    requests.append(batch_request("bad", "x [emulate:errored:overloaded_error]"))
    made = sdk.messages.batches.create(requests=requests)
    kept = Batch.objects.get(pk=made.id)  # on the dashboard at once, as made through the API by olga
    assert kept.submitted_by == olga and kept.label == "via API (test)" and kept.processing_status == "in_progress"
    assert kept.model == MODEL  # read from the first request, for its ETA
    part = SubmissionPart.objects.get(batch=kept)
    assert part.submission.created_by == olga and part.submission.request_count == part.request_count == 4  # the API's
    # The body was kept whole before it was forwarded; the worker splits it into a row per request afterwards.
    assert kept_bodies.inputs_kept(kept) and not RequestInput.objects.filter(part=part).exists()
    tasks.split_kept_body(part.pk)  # the task the create handed the worker, run here
    assert not KeptBody.objects.exists() and kept_bodies.inputs_kept(kept)  # as rows now, the body dropped
    assert sorted(RequestInput.objects.filter(batch=kept).values_list("custom_id", flat=True)) == [
        "bad", "q-0", "q-1", "q-2"]  # fmt: skip
    assert RequestInput.objects.get(batch=kept, custom_id="q-1").unpack() == requests[1]["params"]
    retrieve = sdk.messages.batches.with_raw_response.retrieve(made.id)
    assert _raw(retrieve) == _raw(direct.messages.batches.with_raw_response.retrieve(made.id))
    assert retrieve.headers["request-id"]
    assert _raw(sdk.messages.batches.with_raw_response.list(limit=5)) == _raw(
        direct.messages.batches.with_raw_response.list(limit=5))  # fmt: skip
    emulator.advance(3600)
    streamed = b"".join(sdk.messages.batches.with_raw_response.results(made.id).http_response.iter_bytes())
    expected = b"".join(direct.messages.batches.with_raw_response.results(made.id).http_response.iter_bytes())
    assert streamed == expected and streamed.count(b"\n") >= 3
    ids = sorted(r.custom_id for r in sdk.messages.batches.results(made.id))
    assert ids == sorted(r["custom_id"] for r in requests)
    sync.catch_up(workspace.pk)  # ingested: from now on served from the kept copy
    assert Batch.objects.get(pk=made.id).results_ingested_at is not None
    emulator.faults.add(op="results", status=500, times=-1)  # the API cannot serve them any more
    with sdk.messages.batches.with_streaming_response.results(made.id) as kept_copy:
        assert kept_copy.headers["content-length"] == str(len(expected))  # sent as it is, not re-framed in chunks
        assert kept_copy.http_response.read() == expected


def test_a_streamed_results_answer_keeps_the_apis_content_length(sdk, direct, emulator):
    """Passed on with the stream, so the server in front sends the body as it is, not re-framed in chunks."""
    made = sdk.messages.batches.create(requests=[batch_request(f"q-{i}", "hi [emulate:succeeded]") for i in range(3)])
    emulator.advance(3600)
    with direct.messages.batches.with_streaming_response.results(made.id) as upstream:
        expected = upstream.http_response.read()
        declared = upstream.headers["content-length"]
    with sdk.messages.batches.with_streaming_response.results(made.id) as proxied:
        assert proxied.headers.get("content-length") == declared == str(len(expected))
        assert "transfer-encoding" not in proxied.headers
        assert proxied.http_response.read() == expected


def test_a_failed_item_of_a_pass_through_batch_is_retried_from_its_kept_inputs(sdk, emulator, workspace, olga):
    requests = [batch_request("ok", "hi [emulate:succeeded]"), batch_request("bad", "x [emulate:errored:api_error]")]
    made = sdk.messages.batches.create(requests=requests)
    emulator.advance(3600)
    sync.catch_up(workspace.pk)
    batch = Batch.objects.get(pk=made.id)
    plan = retry.plan(batch.results.filter(result_type="errored"))
    assert [r.custom_id for r, _ in plan.ready] == ["bad"]  # its inputs were kept: ready to send again
    child = retry.create(plan, olga, overrides={}, edits={}, include_needs_fix=False).submission
    assert child.parent_batch == batch and child.request_count == 1


def test_a_creates_user_profile_and_betas_go_upstream_and_are_kept(sdk, emulator, workspace):
    requests = [batch_request("mine", "hi [emulate:succeeded]", user_profile_id="uprof_1"),
                batch_request("theirs", "hi [emulate:succeeded]", user_profile_id="uprof_2")]  # fmt: skip
    made = sdk.messages.batches.create(requests=requests, user_profile_id="uprof_1",
                                       extra_headers={"anthropic-beta": "output-300k-2026-03-24"})  # fmt: skip
    kept = Batch.objects.get(pk=made.id)
    assert kept.user_profile_id == "uprof_1" and kept.betas == ["output-300k-2026-03-24"]
    emulator.advance(3600)
    sync.catch_up(workspace.pk)
    # The header reached the API: the request naming another profile was errored there, as the docs say.
    assert dict(kept.results.values_list("custom_id", "result_type")) == {"mine": "succeeded", "theirs": "errored"}
    assert set(kept.usage.values_list("user_profile_id", flat=True)) == {"uprof_1"}  # spent under its profile


def test_cancel_and_delete_go_through_audited(sdk, direct, emulator):
    running = sdk.messages.batches.create(requests=[batch_request("a", "hi [emulate:succeeded]")])
    canceled = sdk.messages.batches.with_raw_response.cancel(running.id)
    assert _raw(canceled) == _raw(direct.messages.batches.with_raw_response.retrieve(running.id))
    assert Batch.objects.get(pk=running.id).processing_status == "canceling"
    emulator.advance(3600)
    assert sdk.messages.batches.delete(running.id).id == running.id
    with pytest.raises(anthropic.NotFoundError):
        direct.messages.batches.retrieve(running.id)
    assert set(AuditEvent.objects.filter(target=running.id, actor_name="olga").values_list("action", flat=True)) >= {
        "cancel", "delete"}  # fmt: skip


@pytest.mark.parametrize("status", [429, 529, 503])
def test_an_upstream_refusal_reaches_the_sdk_which_retries_to_one_batch(sdk, emulator, status, settings):
    settings.SUBMIT_LIST_GRACE_SECONDS = 0  # a 503 may come after a create: it is looked for, then sent once
    emulator.faults.add(op="create", status=status, retry_after=0.1)
    made = sdk.messages.batches.create(requests=[batch_request("a", "hi")])
    assert emulator.calls["create"] == 2  # the refusal, then the SDK's retry through the pass-through
    assert list(Batch.objects.values_list("pk", flat=True)) == [made.id]
    assert Submission.objects.count() == 1


def test_the_refusal_and_its_headers_come_back_verbatim(sdk, emulator):
    emulator.faults.add(op="create", status=529, times=-1, retry_after=0.1)
    with pytest.raises(anthropic.APIStatusError) as raised:
        sdk.with_options(max_retries=0).messages.batches.create(requests=[batch_request("a", "hi")])
    error = raised.value
    assert error.status_code == 529 and error.body["error"]["type"] == "overloaded_error"
    assert error.response.headers["retry-after"] and error.response.headers["request-id"]
    assert not Submission.objects.exists()  # nothing was made: nothing kept


def test_a_lost_answer_is_settled_by_the_create_once_rules_never_twice(sdk, emulator, settings):
    settings.SUBMIT_LIST_GRACE_SECONDS = 0
    emulator.faults.add(op="create", status=500, after=True)  # made, but the answer is a 500
    made = sdk.messages.batches.create(requests=[batch_request("a", "hi"), batch_request("b", "hi")])
    assert emulator.calls["create"] == 1  # the SDK's retry found the batch the first call made
    assert list(Batch.objects.values_list("pk", flat=True)) == [made.id]
    assert Batch.objects.get().submitted_by.username == "olga"
    # The retry split the kept body (to match the batch's size) before it linked it: each request is the batch's.
    assert sorted(RequestInput.objects.filter(batch_id=made.id).values_list("custom_id", flat=True)) == ["a", "b"]


def test_a_cut_connection_is_retried_by_the_sdk_to_one_batch(sdk, emulator, settings):
    settings.SUBMIT_LIST_GRACE_SECONDS = 0
    emulator.faults.add(op="create", after=True, drop=True)  # made, then the connection closes unanswered
    made = sdk.messages.batches.create(requests=[batch_request("a", "hi")])
    assert emulator.calls["create"] == 1
    assert list(Batch.objects.values_list("pk", flat=True)) == [made.id]


def test_a_tokens_scope_is_enforced(live_server, make_user, make_workspace, make_token, emulator, olga):
    main, other = make_workspace("main"), make_workspace("other")
    theirs = anthropic.Anthropic(base_url=emulator.base_url, api_key=other.test_api_key)
    foreign = theirs.messages.batches.create(requests=[batch_request("a", "hi")])
    sync.catch_up(other.pk)
    url = f"{live_server.url}/anthropic"
    mine = anthropic.Anthropic(base_url=url, api_key=make_token(olga, [main], "Operator"), max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        mine.messages.batches.retrieve(foreign.id)
    with pytest.raises(anthropic.NotFoundError):
        mine.messages.batches.cancel(foreign.id)
    viewer = anthropic.Anthropic(base_url=url, api_key=make_token(olga, [main], "Viewer"), max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError, match="Operator or Admin"):
        viewer.messages.batches.create(requests=[batch_request("a", "hi")])
    both = make_token(olga, [main, other], "Operator")
    with pytest.raises(anthropic.BadRequestError, match="anthropic-workspace-id"):
        anthropic.Anthropic(base_url=url, api_key=both, max_retries=0).messages.batches.list()
    chosen = anthropic.Anthropic(base_url=url, api_key=both, default_headers={"anthropic-workspace-id": "other"})
    assert [b.id for b in chosen.messages.batches.list()] == [foreign.id]
    token_service.revoke(token_service.authenticate(both), by=olga)
    with pytest.raises(anthropic.AuthenticationError):
        chosen.messages.batches.list()


def test_a_create_whose_id_the_mirror_holds_elsewhere_answers_the_apis_batch_and_says_so(
    emulator, twin, make_user, make_token, client
):
    """The API made the batch, but under an id the mirror holds for another workspace (a stand-in restarted with its
    seed). Its answer goes back as it came: an error would have the SDK retry, and a retry would make a second batch.
    The mirror keeps its own batch, and the submission says why this one could not be recorded. Never a 500."""
    holder, sender = workspace_on(emulator, "holder"), workspace_on(twin, "sender")
    held = emulator.seed_batch(holder.test_api_key, 3, status="ended")  # the seed's first id
    sync.sync_workspace(holder.pk)
    raw = make_token(make_user("olga", "Operator"), [sender], "Operator")
    body = json.dumps({"requests": [batch_request("a"), batch_request("b")]})

    response = client.post("/anthropic/v1/messages/batches", body, content_type="application/json",
                           HTTP_X_API_KEY=raw, **VERSION)  # fmt: skip

    assert response.status_code == 200 and response.json()["id"] == held and twin.calls["create"] == 1
    assert Batch.objects.get(pk=held).workspace_id == holder.pk  # the mirror's own batch, untouched
    part = SubmissionPart.objects.get(submission__workspace=sender)
    assert part.status == "failed" and held in part.error and "could not record it" in part.error
    assert AuditEvent.objects.filter(outcome="error", target__contains=f"submission {part.submission_id}").exists()
    assert "another workspace" in MirrorRefusal.objects.get(workspace=sender, batch_id=held).reason  # on its health bar


def test_a_workspace_key_the_dashboard_cannot_use_is_said_in_json_and_nothing_is_kept(
    emulator, workspace, olga, make_token, client
):
    """A key stored under another secret (SECRET_KEY changed) is the dashboard's to fix: each call says so in the
    API's shape, with no retry advised, asks the API nothing and keeps nothing. Never a 500."""
    raw = make_token(olga, [workspace], "Operator")
    Workspace.objects.filter(pk=workspace.pk).update(api_key_encrypted="stored-under-another-secret")
    body = json.dumps({"requests": [batch_request("a")]})
    emulator.reset_calls()

    answers = [
        client.post(
            "/anthropic/v1/messages/batches", body, content_type="application/json", HTTP_X_API_KEY=raw, **VERSION
        ),
        client.get("/anthropic/v1/messages/batches", HTTP_X_API_KEY=raw, **VERSION),
        client.get("/anthropic/v1/messages/batches/msgbatch_01", HTTP_X_API_KEY=raw, **VERSION),
        client.post(
            "/anthropic/v1/messages/count_tokens", b"{}", content_type="application/json", HTTP_X_API_KEY=raw, **VERSION
        ),
    ]

    for response in answers:
        assert response.status_code == 502 and response["x-should-retry"] == "false"
        error = response.json()["error"]
        assert error["type"] == "api_error" and "cannot be decrypted" in error["message"]
        assert "sk-ant" not in response.content.decode()
    assert not Submission.objects.exists() and not any(emulator.calls.values())


@pytest.mark.parametrize("batch_id", ["..", ".", "a b", "msgbatch_01;x", "é"])
def test_a_batch_id_outside_the_apis_shape_is_not_found_and_never_forwarded(
    emulator, workspace, olga, make_token, client, batch_id
):
    """ ".." would take the workspace's key to another path of the API (/v1/messages/batches/../cancel is
    /v1/messages/cancel): ids outside the shape the mirror accepts are answered here, as the API would."""
    raw = make_token(olga, [workspace], "Operator")
    emulator.reset_calls()
    url = f"/anthropic/v1/messages/batches/{quote(batch_id)}"
    key = {"HTTP_X_API_KEY": raw, **VERSION}
    answers = [client.get(url, **key), client.get(f"{url}/results", **key), client.post(f"{url}/cancel", **key),
               client.delete(url, **key)]  # fmt: skip
    assert [r.status_code for r in answers] == [404] * 4
    assert all(r.json()["error"]["type"] == "not_found_error" for r in answers)
    assert not any(emulator.calls.values()) and not AuditEvent.objects.filter(action__in=["cancel", "delete"]).exists()


def test_a_body_over_the_apis_256_mb_gets_its_413_unread(client, workspace, olga, make_token):
    raw = make_token(olga, [workspace], "Operator")
    response = client.post("/anthropic/v1/messages/batches", data=b"{}", content_type="application/json",
                           HTTP_X_API_KEY=raw, CONTENT_LENGTH=str(256 * 1024 * 1024 + 1))  # fmt: skip
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert not Submission.objects.exists()


def test_a_create_makes_a_known_number_of_queries(client, workspace, olga, make_token):
    """Each query is paid in series with the client's create (bench/proxy.py): counted here so none creeps in."""
    raw = make_token(olga, [workspace], "Operator")
    for run in range(2):  # the second: the token's last use was stamped by the first, as in a running pipeline
        body = json.dumps({"requests": [batch_request(f"q{run}-{i}", "hi [emulate:succeeded]") for i in range(3)]})
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/anthropic/v1/messages/batches", body, content_type="application/json",
                                   HTTP_X_API_KEY=raw, **VERSION)  # fmt: skip
        assert response.status_code == 200
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    statements = [verb for verb in statements if verb in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    # The token, its workspaces (the one it acts in among them), its user's roles and permissions (two), the same
    # body before: 6 reads. Kept before forwarding: the submission, its part, the body (one piece): 3. Linked after the
    # answer: the batch looked up, then inserted with its label and submitter, the workspace's version, the part
    # with its request count, its rows, the audit event, the submission's request count: 7.
    assert len(statements) == 6 + 3 + 7, statements
    assert not [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]  # two round trips each


def test_the_same_body_created_again_on_purpose_makes_a_second_batch_as_the_api_does(sdk, direct, emulator):
    """The SDK numbers its attempts (`x-stainless-retry-count`): a first attempt is a create asked on purpose, even
    of a body sent a minute before; only a retry gets the batch the first call made."""
    requests = [batch_request("a", "hi")]
    first = sdk.messages.batches.create(requests=requests)
    second = sdk.messages.batches.create(requests=requests)
    assert second.id != first.id and emulator.calls["create"] == 2
    assert set(Batch.objects.values_list("pk", flat=True)) == {first.id, second.id}
    assert Submission.objects.count() == 2


def test_the_same_body_after_its_batch_was_deleted_is_created_anew(client, workspace, olga, make_token, emulator):
    """A client that does not number its attempts (curl) is deduplicated within PASSTHROUGH_SAME_BODY_SECONDS; but
    once the batch the body made is deleted, the body again is a new create, not the deleted batch's 404."""
    raw = make_token(olga, [workspace], "Operator")
    body = json.dumps({"requests": [batch_request("a", "hi")]})

    def create():
        return client.post("/anthropic/v1/messages/batches", body, content_type="application/json",
                           HTTP_X_API_KEY=raw, **VERSION)  # fmt: skip

    first = create().json()["id"]
    assert create().json()["id"] == first  # the same body again, unnumbered: the same batch
    client.post(f"/anthropic/v1/messages/batches/{first}/cancel", HTTP_X_API_KEY=raw, **VERSION)
    emulator.advance(3600)
    assert client.delete(f"/anthropic/v1/messages/batches/{first}", HTTP_X_API_KEY=raw, **VERSION).status_code == 200
    again = create()
    assert again.status_code == 200 and again.json()["id"] != first
    assert emulator.calls["create"] == 2


def test_a_model_with_a_nul_is_created_and_linked(sdk, emulator):
    """Valid JSON the API takes; PostgreSQL refuses a NUL in text. It answered 500 after the API had made the batch,
    and every SDK retry then got 409: the batch was made and lost to its client."""
    request = batch_request("a", "hi")
    request["params"]["model"] = MODEL + "\x00"
    made = sdk.messages.batches.create(requests=[request])
    assert emulator.calls["create"] == 1
    assert Batch.objects.get(pk=made.id).model == MODEL


def test_a_link_that_fails_still_answers_the_batch_the_api_made(sdk, emulator, monkeypatch):
    """Whatever befalls the dashboard's own bookkeeping after the API has made the batch (here the database refusing
    the link), the client gets the API's answer, not a 500 that its retries could only meet with 409. The part stays
    "creating" with the reason, for the create-once rules to adopt the batch."""
    from django.db import DataError

    from batches.services import submit

    def refuse(*args, **kwargs):
        raise DataError("refused")

    monkeypatch.setattr(submit, "link", refuse)
    made = sdk.messages.batches.create(requests=[batch_request("a", "hi")])
    assert emulator.calls["create"] == 1
    part = SubmissionPart.objects.get()
    assert part.status == "creating" and made.id in part.error and "refused" in part.error


def _wsgi_post(path: str, body: bytes, headers: dict, **environ):
    """A request as a server hands it to Django (WSGIHandler): the input a file, the headers as the server set them."""
    import io

    from django.core.handlers.wsgi import WSGIHandler

    env = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "testserver", "SERVER_PORT": "80",
           "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "CONTENT_TYPE": "application/json",
           **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()},
           **environ}  # fmt: skip
    out = {}
    chunks = WSGIHandler()(env, lambda status, headers: out.update(status=int(status.split()[0])))
    return out["status"], json.loads(b"".join(chunks))


def test_a_chunked_body_is_read_where_the_server_ends_it(workspace, olga, make_token, emulator):
    """A body sent chunked has no Content-Length, and Django reads it as empty: the create was answered "could not
    be read" and count_tokens sent nothing upstream. gunicorn de-chunks it and ends it (`wsgi.input_terminated`):
    it is read there. A server that does not end it gets a 411 that says what to send."""
    raw = make_token(olga, [workspace], "Operator")
    headers = {"x-api-key": raw, "anthropic-version": "2023-06-01", "transfer-encoding": "chunked"}
    body = json.dumps({"requests": [batch_request("a", "hi")]}).encode()
    status, answer = _wsgi_post("/anthropic/v1/messages/batches", body, headers, **{"wsgi.input_terminated": True})
    assert status == 200 and Batch.objects.filter(pk=answer["id"]).exists()
    counted = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hello there"}]}).encode()
    status, answer = _wsgi_post("/anthropic/v1/messages/count_tokens", counted, headers,
                                **{"wsgi.input_terminated": True})  # fmt: skip
    assert status == 200 and answer["input_tokens"] > 0
    status, answer = _wsgi_post("/anthropic/v1/messages/batches", body, headers)
    assert status == 411 and "Content-Length" in answer["error"]["message"]


@pytest.mark.parametrize("path", ["/anthropic/v1/messages/batches", "/anthropic/v1/messages/count_tokens"])
def test_a_malformed_chunked_body_is_a_400_not_a_500(workspace, olga, make_token, emulator, path):
    """gunicorn's own parser de-chunks the wire bytes: a chunk size of "ZZ" raised its InvalidChunkSize, a plain
    Exception, through the view (a 500). Nothing is kept or sent."""
    from gunicorn.config import Config
    from gunicorn.http.parser import RequestParser

    raw = make_token(olga, [workspace], "Operator")
    wire = (f"POST {path} HTTP/1.1\r\nHost: testserver\r\nTransfer-Encoding: chunked\r\n\r\n"
            "ZZ\r\n{}\r\n0\r\n\r\n").encode()  # fmt: skip
    parsed = next(RequestParser(Config(), iter([wire]), ("127.0.0.1", 1)))
    headers = {"x-api-key": raw, "anthropic-version": "2023-06-01", "transfer-encoding": "chunked"}

    status, answer = _wsgi_post(path, b"", headers, **{"wsgi.input": parsed.body, "wsgi.input_terminated": True})

    assert status == 400 and answer["error"]["type"] == "invalid_request_error"
    assert "could not be read whole (InvalidChunkSize)" in answer["error"]["message"]
    assert not Submission.objects.exists() and not any(emulator.calls.values())


def test_count_tokens_over_the_apis_32_mb_gets_its_413_unread(client, workspace, olga, make_token, emulator):
    """It read on, waiting for 999,999,999 bytes that never came: a thread held per such call."""
    raw = make_token(olga, [workspace], "Viewer")
    response = client.post("/anthropic/v1/messages/count_tokens", data=b"{}", content_type="application/json",
                           HTTP_X_API_KEY=raw, CONTENT_LENGTH="999999999", **VERSION)  # fmt: skip
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"
    assert not any(emulator.calls.values())


def test_a_header_naming_another_workspace_is_refused_even_for_a_one_workspace_token(
    client, make_workspace, olga, make_token
):
    """The API refuses an `anthropic-workspace-id` that is not its key's workspace; a token of one workspace took no
    notice of it, so a create meant for the named workspace landed in the token's."""
    main, _ = make_workspace("main"), make_workspace("other")
    raw = make_token(olga, [main], "Operator")
    named = client.get("/anthropic/v1/messages/batches", HTTP_X_API_KEY=raw, HTTP_ANTHROPIC_WORKSPACE_ID="other",
                       HTTP_ANTHROPIC_VERSION="2023-06-01")  # fmt: skip
    assert named.status_code == 403 and named.json()["error"]["type"] == "permission_error"
    assert "'other'" in named.json()["error"]["message"] and "main" in named.json()["error"]["message"]
    own = client.get("/anthropic/v1/messages/batches", HTTP_X_API_KEY=raw, HTTP_ANTHROPIC_WORKSPACE_ID="main",
                     HTTP_ANTHROPIC_VERSION="2023-06-01")  # fmt: skip
    assert own.status_code == 200


def test_the_dashboards_own_errors_carry_a_request_id_and_a_retry_cue(live_server, make_workspace, olga, make_token):
    """As the API's errors do: the SDK's `err.request_id` names the dashboard's log line, and `x-should-retry` says
    whether its retry loop should go on. An unknown batch is said in the API's own words (other words would tell
    that the dashboard holds another workspace's batch)."""
    main, other = make_workspace("main"), make_workspace("other")
    url = f"{live_server.url}/anthropic"
    with pytest.raises(anthropic.AuthenticationError) as refused:
        anthropic.Anthropic(base_url=url, api_key="dash_not-a-token", max_retries=0).messages.batches.list()
    error = refused.value
    assert error.request_id and error.request_id.startswith("req_")
    assert error.response.json()["request_id"] == error.request_id
    assert error.response.headers["x-should-retry"] == "false"
    foreign = anthropic.Anthropic(base_url=other.base_url, api_key=other.test_api_key).messages.batches.create(
        requests=[batch_request("a", "hi")]
    )
    sync.catch_up(other.pk)
    mine = anthropic.Anthropic(base_url=url, api_key=make_token(olga, [main], "Operator"), max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as missing:
        mine.messages.batches.retrieve(foreign.id)
    assert missing.value.response.json()["error"]["message"] == f"Message batch {foreign.id} not found."
    assert missing.value.request_id.startswith("req_")
    raw = make_token(olga, [main], "Operator")
    wrong = mine._client.put(f"{url}/v1/messages/batches", headers={"x-api-key": raw})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST"
    for root in ("", "/"):  # the JSON 404 of every other path, not the site's HTML page
        answer = mine._client.get(f"{url}{root}", headers={"x-api-key": raw})
        assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found_error"


def test_a_call_without_anthropic_version_is_the_apis_to_refuse(client, workspace, olga, make_token, emulator):
    """The pass-through sends what came: it added a version of its own, so a call the API refuses went through."""
    raw = make_token(olga, [workspace], "Operator")
    answer = client.get("/anthropic/v1/messages/batches", HTTP_X_API_KEY=raw)
    assert answer.status_code == 400 and "anthropic-version" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ('{"model": "m", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"model": "m", "max_tokens": ' + "9" * 5_000 + "}", "cannot be read"),
    ],
    ids=["nested 100,000 deep", "an integer of 5,000 digits"],
)
def test_a_body_python_cannot_read_is_refused_in_the_apis_shape(client, workspace, olga, make_token, params, said):
    """Valid JSON that Python's parser refuses (RecursionError, ValueError) was a 500; nothing is kept or sent."""
    raw = make_token(olga, [workspace], "Operator")
    body = '{"requests": [{"custom_id": "a", "params": ' + params + "}]}"

    response = client.post("/anthropic/v1/messages/batches", body, content_type="application/json",
                           HTTP_X_API_KEY=raw, **VERSION)  # fmt: skip

    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    assert said in response.json()["error"]["message"]
    assert not Submission.objects.exists()


def test_a_lone_surrogate_in_a_custom_id_is_kept_as_a_row_can_hold_it(client, workspace, olga, make_token, emulator):
    """JSON lets "\\ud800" stand alone; no UTF-8 holds it. The body goes to the API as it came (the API judges it: its
    custom_id pattern holds no such thing); but where the API's answer leaves its requests kept (a 503: the batch may
    have been made), splitting them into rows failed whole, in the task and in the request."""
    raw = make_token(olga, [workspace], "Operator")
    body = '{"requests": [{"custom_id": "a\\ud800", "params": {"model": "m", "max_tokens": 5, "messages": []}}]}'

    emulator.faults.add(op="create", status=503)
    response = client.post("/anthropic/v1/messages/batches", body, content_type="application/json",
                           HTTP_X_API_KEY=raw, **VERSION)  # fmt: skip

    assert response.status_code == 503
    kept_bodies.split(SubmissionPart.objects.get().pk)
    assert list(RequestInput.objects.values_list("custom_id", flat=True)) == ["a?"]


@pytest.mark.parametrize("header", ["HTTP_ANTHROPIC_VERSION", "HTTP_ANTHROPIC_BETA", "HTTP_ACCEPT"])
def test_a_header_that_is_not_ascii_is_a_400_and_nothing_is_kept(client, workspace, olga, make_token, emulator, header):
    """The SDK's HTTP client encodes headers as ASCII: "é" raised in it (a 500), and on a create left the part
    "creating", so the same body again was told 409 for minutes."""
    raw = make_token(olga, [workspace], "Operator")
    body = json.dumps({"requests": [batch_request("a", "hi")]})
    odd = {**VERSION, header: "é"}

    created = client.post("/anthropic/v1/messages/batches", body, content_type="application/json",
                          HTTP_X_API_KEY=raw, **odd)  # fmt: skip
    listed = client.get("/anthropic/v1/messages/batches", HTTP_X_API_KEY=raw, **odd)

    for response in (created, listed):
        assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
        assert "header must be ASCII" in response.json()["error"]["message"]
    assert not Submission.objects.exists() and not any(emulator.calls.values())
    again = client.post("/anthropic/v1/messages/batches", body, content_type="application/json",
                        HTTP_X_API_KEY=raw, **VERSION)  # fmt: skip
    assert again.status_code == 200
