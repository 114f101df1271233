"""The submit service: a part's batch is created once, whatever happens to the create call."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from batches import client, submit, sync, tasks, uploads
from batches.models import AuditEvent, Batch, RequestInput, Result, SubmissionPart
from dashboard.celery import app
from tests.builders import batch_request, jsonl


@pytest.fixture
def queue(workspace, make_user):
    """Record an upload of these requests as the service does, without running its task."""

    def prepare(requests: list[dict]):
        f = io.BytesIO(jsonl(requests))
        made = submit.prepare_upload(workspace, make_user("owner", "Operator"), f, uploads.validate(f), label="nightly",
                                     filename="requests.jsonl")  # fmt: skip
        return made.submission

    return prepare


@pytest.mark.parametrize("fault", [{"status": 500, "after": True}, {"after": True, "drop": True},
                                   {"status": 529, "after": True}])  # fmt: skip
def test_a_create_whose_answer_is_lost_is_adopted_not_repeated(queue, workspace, emulator, fault):
    submission = queue([batch_request("a"), batch_request("b")])
    emulator.faults.add(op="create", **fault)

    assert submit.submit(submission.pk) is False

    part = SubmissionPart.objects.get()
    assert part.status == "created" and part.batch_id
    assert emulator.calls["create"] == 1
    assert len(client.list_batches(workspace.credentials).batches) == 1  # the API holds one batch, not two


def test_a_create_that_did_not_happen_is_tried_again(queue, workspace, emulator, settings):
    settings.SUBMIT_LIST_GRACE_SECONDS = 0  # the API lists batches at once (the grace has its own test)
    submission = queue([batch_request("a")])
    emulator.faults.add(op="create", status=503)  # refused before the API did anything

    assert submit.submit(submission.pk) is True  # no batch was made: send it again
    assert submit.submit(submission.pk) is False

    part = SubmissionPart.objects.get()
    assert part.status == "created" and part.attempts == 2
    assert emulator.calls["create"] == 2


def test_nothing_is_sent_again_until_the_api_has_had_time_to_list_the_batch(queue, workspace, emulator):
    queue([batch_request("a")])
    part = SubmissionPart.objects.get()
    emulator.faults.add(op="create", status=503)

    assert submit.submit(part.submission_id) is True  # not listed, but it may just not be listed yet
    assert submit.submit(part.submission_id) is True

    part.refresh_from_db()
    assert part.status == "creating" and "checking" in part.error and emulator.calls["create"] == 1
    # Past the grace, the beat's sweep finds the part no task carries any more and sends it again.
    SubmissionPart.objects.filter(pk=part.pk).update(attempted_at=timezone.now() - timedelta(minutes=3))
    assert submit.unfinished() == [part.submission_id]
    app.conf.task_always_eager = True
    try:
        tasks.resume_submissions()
    finally:
        app.conf.task_always_eager = False
    part.refresh_from_db()
    assert part.status == "created" and emulator.calls["create"] == 2 and submit.unfinished() == []


def test_a_worker_killed_mid_create_is_resolved_without_a_second_batch(queue, workspace, emulator):
    queue([batch_request("a"), batch_request("b")])
    part = SubmissionPart.objects.get()
    # The create went out 20 minutes ago and the worker died before recording the answer.
    sent = timezone.now() - timedelta(minutes=20)
    emulator.create_batch(workspace.test_api_key, [batch_request("a"), batch_request("b")], created_at=sent)
    SubmissionPart.objects.filter(pk=part.pk).update(status="creating", attempted_at=sent)

    assert submit.submit(part.submission_id) is False

    part.refresh_from_db()
    assert part.status == "created" and emulator.calls.get("create", 0) == 0


def test_two_new_batches_of_the_same_size_stop_for_a_person(queue, workspace, emulator):
    queue([batch_request("a")])
    part = SubmissionPart.objects.get()
    sent = timezone.now() - timedelta(minutes=20)
    for n in range(2):
        emulator.create_batch(workspace.test_api_key, [batch_request("z")], created_at=sent + timedelta(seconds=n))
    SubmissionPart.objects.filter(pk=part.pk).update(status="creating", attempted_at=sent)

    submit.submit(part.submission_id)

    part.refresh_from_db()
    assert part.status == "ambiguous" and "several new batches" in part.error


def test_a_foreign_batch_of_the_same_size_is_given_back_and_ours_is_sent(queue, workspace, emulator):
    submission = queue([batch_request("ours-a"), batch_request("ours-b")])
    # Our create is refused before anything is made, while another client makes a batch of the same size.
    emulator.faults.add(op="create", status=500)
    foreign = emulator.create_batch(workspace.test_api_key, [batch_request("theirs-x"), batch_request("theirs-y")])
    Batch.objects.create(id=foreign, workspace=workspace, processing_status="in_progress", label="their run",
                         created_at=timezone.now(), expires_at=timezone.now())  # fmt: skip

    assert submit.submit(submission.pk) is False
    part = SubmissionPart.objects.get()
    # Taken for ours, but only provisionally: the API shows custom_ids only in the results.
    assert (part.batch_id, part.adoption, part.replaced_label) == (foreign, "provisional", "their run")

    emulator.advance(700)
    sync.catch_up(workspace.pk)  # the foreign batch ends; its results are not ours

    part.refresh_from_db()
    assert part.status == "pending" and part.batch_id is None and "given back" in part.error
    assert Batch.objects.values_list("label", "submitted_by").get(pk=foreign) == ("their run", None)
    assert not RequestInput.objects.filter(batch_id=foreign).exists()
    assert AuditEvent.objects.filter(target=foreign, outcome="error", params__given_back=True).exists()

    assert submit.submit(submission.pk) is False  # ours is sent at last
    part.refresh_from_db()
    assert part.status == "created" and part.batch_id != foreign and part.adoption == ""
    assert emulator.calls["create"] == 2 and len(client.list_batches(workspace.credentials).batches) == 2
    emulator.advance(700)
    sync.catch_up(workspace.pk)
    assert set(Result.objects.filter(batch_id=part.batch_id).values_list("custom_id", flat=True)) == {
        "ours-a",
        "ours-b",
    }


def test_an_adopted_batch_whose_results_are_ours_is_kept(queue, workspace, emulator):
    submission = queue([batch_request("a"), batch_request("b")])
    emulator.faults.add(op="create", status=500, after=True)  # made, but the answer was lost

    submit.submit(submission.pk)
    emulator.advance(700)
    sync.catch_up(workspace.pk)

    part = SubmissionPart.objects.get()
    assert (part.status, part.adoption) == ("created", "verified") and emulator.calls["create"] == 1


def test_a_batch_made_well_before_our_attempt_is_not_taken_for_ours(queue, workspace, emulator, settings):
    settings.SUBMIT_LIST_GRACE_SECONDS = 0
    submission = queue([batch_request("a")])
    old = timezone.now() - timedelta(seconds=settings.SUBMIT_CLOCK_SKEW_SECONDS + 30)
    emulator.create_batch(workspace.test_api_key, [batch_request("z")], created_at=old)
    emulator.faults.add(op="create", status=503)

    assert submit.submit(submission.pk) is True  # nothing made by our call: it is sent again

    part = SubmissionPart.objects.get()
    assert part.status == "pending" and part.batch_id is None and "no batch was made" in part.error
