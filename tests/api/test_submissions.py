"""A file of requests submitted through the REST API: a draft with its estimate, sent once, its batch made by
the token's user with its inputs kept; refused lines name themselves and keep nothing."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batches.models import AuditEvent, Batch, RequestInput, Submission
from config.celery import app
from tests.api.conftest import auth
from tests.builders import batch_request, jsonl


@contextmanager
def _eager() -> Iterator[None]:
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture
def api(client, django_capture_on_commit_callbacks):
    """POST with a token, the tasks it hands the worker run in-process as the request commits."""

    def post(path: str, raw: str, data=None):
        with _eager(), django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data or {}, **auth(raw))

    return post


def _file(lines, name="requests.jsonl", compress=False) -> SimpleUploadedFile:
    body = jsonl(lines)
    return SimpleUploadedFile(name, gzip.compress(body) if compress else body)


def test_a_file_becomes_a_draft_then_one_batch_made_by_the_tokens_user(api, client, make_user, workspace,
                                                                        make_token, emulator):  # fmt: skip
    olga = make_user("olga", "Operator")
    raw = make_token(olga, [workspace], "Operator")
    lines = [batch_request(f"q-{i}", "hi [emulate:succeeded]") for i in range(3)]
    made = api(
        "/api/v1/submissions", raw, {"workspace": "main", "label": "nightly", "file": _file(lines, compress=True)}
    )
    assert made.status_code == 201
    draft = made.json()
    assert draft["is_draft"] and draft["request_count"] == 3 and draft["created_by"] == "olga"
    assert draft["estimating"] and draft["estimate"] is None  # the worker makes it once the draft is kept
    estimate = client.get(f"/api/v1/submissions/{draft['id']}", **auth(raw)).json()["estimate"]
    assert estimate["requests"] == 3 and estimate["input_tokens"] > 0 and estimate["unpriced_models"] == []
    assert not Batch.objects.exists()  # nothing sent before it is confirmed
    again = api("/api/v1/submissions", raw, {"workspace": "main", "file": _file(lines, compress=True)})
    assert again.status_code == 200 and again.json()["id"] == draft["id"]
    sent = api(f"/api/v1/submissions/{draft['id']}/send", raw)
    assert sent.status_code == 202
    assert api(f"/api/v1/submissions/{draft['id']}/send", raw).status_code == 409  # once
    batch = Batch.objects.get()
    assert batch.submitted_by == olga and batch.label == "nightly"
    assert sorted(RequestInput.objects.filter(batch=batch).values_list("custom_id", flat=True)) == ["q-0", "q-1", "q-2"]
    shown = client.get(f"/api/v1/submissions/{draft['id']}", **auth(raw)).json()
    assert shown["parts"][0]["batch"] == batch.pk and shown["parts"][0]["status"] == "created"
    assert AuditEvent.objects.filter(action="submit", actor_name="olga").exists()


def test_a_wrong_line_is_named_and_nothing_is_kept(api, make_user, workspace, make_token):
    raw = make_token(make_user("olga", "Operator"), [workspace], "Operator")
    refused = api("/api/v1/submissions", raw, {"workspace": "main", "file": _file([batch_request("a", "hi"), "{nope"])})
    assert refused.status_code == 400
    assert "line 2" in refused.json()["error"]["message"]
    assert not Submission.objects.exists()


def test_a_draft_is_discarded_once_and_a_viewer_token_cannot_submit(api, make_user, workspace, make_token):
    olga = make_user("olga", "Operator")
    raw = make_token(olga, [workspace], "Operator")
    draft = api("/api/v1/submissions", raw, {"workspace": "main", "file": _file([batch_request("a", "hi")])}).json()
    assert api(f"/api/v1/submissions/{draft['id']}/discard", raw).status_code == 200
    assert api(f"/api/v1/submissions/{draft['id']}/discard", raw).status_code == 409
    assert api(f"/api/v1/submissions/{draft['id']}/send", raw).status_code == 409
    viewer = make_token(olga, [workspace], "Viewer")
    denied = api("/api/v1/submissions", viewer, {"workspace": "main", "file": _file([batch_request("b", "hi")])})
    assert denied.status_code == 403 and Submission.objects.count() == 1
