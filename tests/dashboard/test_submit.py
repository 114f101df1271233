"""Submitting a JSONL file: validated first, split at the API's limits, never created twice."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batches.models import AuditEvent, Batch, RequestInput, Submission, SubmissionPart
from dashboard.celery import app
from tests.builders import batch_request, jsonl


@pytest.fixture
def post(operator_client, workspace, django_capture_on_commit_callbacks):
    """POST a file as the operator; the task it enqueues runs in-process as the request commits
    (the worker has its own test). Pass queue_only=True to leave it queued."""

    def post_lines(lines, *, queue_only: bool = False, **extra):
        data = {"workspace": workspace.name, "label": "nightly", "file": _file(lines), **extra}
        app.conf.task_always_eager = True
        try:
            with django_capture_on_commit_callbacks(execute=not queue_only):
                response = operator_client.post("/submit/", data)
        finally:
            app.conf.task_always_eager = False
        return operator_client.get(response["Location"]) if response.status_code == 302 else response

    return post_lines


def _file(lines: list, name: str = "requests.jsonl") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jsonl(lines), content_type="application/jsonl")


def test_a_valid_file_becomes_a_batch_with_its_inputs_kept(post, operator_client, workspace, emulator):
    response = post([batch_request(f"item-{i}") for i in range(3)])

    assert response.status_code == 200 and "3 requests validated" in response.content.decode()
    part = SubmissionPart.objects.get()
    assert part.status == "created" and part.batch_id
    assert emulator.calls["create"] == 1
    batch = Batch.objects.get(pk=part.batch_id)
    assert (batch.label, batch.submitted_by, batch.total_requests) == ("nightly", operator_client.user, 3)
    inputs = RequestInput.objects.filter(batch=batch).order_by("custom_id")
    assert [i.custom_id for i in inputs] == ["item-0", "item-1", "item-2"]
    assert inputs[0].unpack()["messages"][0]["content"] == "hi [emulate:succeeded]"
    assert part.batch_id in response.content.decode()
    assert AuditEvent.objects.filter(action="submit", outcome="ok").count() == 2  # the submission, its batch


def test_every_problem_is_reported_with_its_line_and_nothing_is_sent(post, workspace, emulator):
    lines = [
        batch_request("ok-1"),
        "{not json",
        batch_request("x" * 65),
        batch_request("ok-1"),
        {"custom_id": "p", "params": {"model": "m"}},
    ]
    response = post(lines)

    body = response.content.decode()
    assert response.status_code == 400 and "Nothing was submitted" in body
    for line in ("2", "3", "4", "5"):
        assert f'<td class="num">{line}</td>' in body
    assert "ok-1" in body and "65" in body and "max_tokens" in body
    assert not Submission.objects.exists() and not RequestInput.objects.exists()
    assert emulator.calls.get("create", 0) == 0


def test_an_empty_file_is_refused(post, workspace, emulator):
    response = post([])
    assert response.status_code == 400 and "empty" in response.content.decode()
    assert emulator.calls.get("create", 0) == 0


def test_a_file_of_blank_lines_holds_no_requests(post, workspace, emulator):
    response = post(["", "   "])
    assert response.status_code == 400 and "holds no requests" in response.content.decode()


def test_the_same_file_twice_creates_one_batch(post, operator_client, workspace, emulator):
    lines = [batch_request("a"), batch_request("b")]
    post(lines)
    second = post(lines)

    assert "already submitted" in second.content.decode()
    assert Submission.objects.count() == 1 and emulator.calls["create"] == 1


def test_submitting_again_on_purpose_makes_a_new_batch(post, operator_client, workspace, emulator):
    lines = [batch_request("a")]
    post(lines)
    post(lines, again="on")
    assert Submission.objects.count() == 2 and emulator.calls["create"] == 2


def test_a_file_over_the_limit_is_split_into_batches_shown_together(post, workspace, settings):
    settings.SUBMIT_MAX_REQUESTS = 2
    response = post([batch_request(f"i{n}") for n in range(5)])

    parts = list(SubmissionPart.objects.order_by("index"))
    assert [p.request_count for p in parts] == [2, 2, 1] and all(p.status == "created" for p in parts)
    labels = sorted(Batch.objects.values_list("label", flat=True))
    assert labels == ["nightly (part 1 of 3)", "nightly (part 2 of 3)", "nightly (part 3 of 3)"]
    assert sorted(RequestInput.objects.filter(batch=parts[2].batch).values_list("custom_id", flat=True)) == ["i4"]
    body = response.content.decode()
    assert all(p.batch_id in body for p in parts)


def test_a_refusal_is_shown_and_nothing_is_created(post, operator_client, workspace, emulator):
    emulator.faults.add(op="create", status=400, message="requests.0.params.model: unknown model")
    response = post([batch_request("a")])

    part = SubmissionPart.objects.get()
    assert part.status == "failed" and "unknown model" in part.error
    assert "unknown model" in response.content.decode() and not Batch.objects.exists()


def test_viewers_cannot_submit(viewer_client, workspace, emulator):
    assert viewer_client.get("/submit/").status_code == 403
    response = viewer_client.post("/submit/", {"workspace": workspace.name, "file": _file([batch_request("a")])})
    assert response.status_code == 403 and not Submission.objects.exists()
