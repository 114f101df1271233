"""The submit service: a part's batch is created once, whatever happens to the create call."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from batches import client, tasks
from batches.models import AuditEvent, Batch, RequestInput, Result, Submission, SubmissionPart
from batches.services import retry, submit, sync, uploads
from config.celery import app
from tests.builders import batch_request, jsonl
from tests.threads import at_once


@pytest.fixture
def queue(draft, make_user):
    """Record an upload of these requests and confirm it as the services do, without running its task."""

    def prepare(requests: list[dict]):
        submission = draft(requests)
        assert submit.confirm(submission, submission.created_by).created
        return submission

    return prepare


@pytest.fixture
def draft(workspace, make_user):
    """Record an upload of these requests as a draft, as the service does, without running its task."""
    owner = make_user("owner", "Operator")

    def prepare(requests: list[dict]):
        f = io.BytesIO(jsonl(requests))
        made = submit.prepare_upload(workspace, owner, f, uploads.validate(f), label="nightly",
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


def test_nothing_is_sent_again_until_the_api_has_had_time_to_list_the_batch(
    queue, workspace, emulator, django_capture_on_commit_callbacks
):
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
        with django_capture_on_commit_callbacks(execute=True):  # a task commits as it goes; a test does not
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


# --- drafts: nothing is sent before an Operator confirms -----------------------------------------------
def test_a_draft_is_never_sent_by_the_task_or_the_sweep(draft, workspace, emulator):
    submission = draft([batch_request("a")])

    assert submit.submit(submission.pk) is False  # a task that somehow ran for a draft sends nothing
    assert submit.unfinished() == []
    app.conf.task_always_eager = True
    try:
        tasks.resume_submissions()
    finally:
        app.conf.task_always_eager = False
    assert SubmissionPart.objects.get().status == "pending" and emulator.calls.get("create", 0) == 0


def test_a_draft_is_confirmed_once_however_often_it_is_asked(draft, workspace, emulator):
    submission = draft([batch_request("a")])

    first = submit.confirm(submission, submission.created_by)
    again = submit.confirm(submission, submission.created_by)

    assert (first.created, again.created) == (True, False)
    assert AuditEvent.objects.filter(action="submit", target=f"submission {submission.pk}").count() == 1
    assert submit.unfinished() == [submission.pk]  # confirmed: the sweep may now carry it


def test_two_confirms_at_the_same_moment_send_once(draft, workspace, emulator, transactional_db):
    submission = draft([batch_request("a")])

    made = at_once(4, lambda: submit.confirm(Submission.objects.get(pk=submission.pk), submission.created_by))

    assert sorted(m.created for m in made) == [False, False, False, True]


def test_a_discarded_draft_keeps_nothing_and_cannot_be_sent(draft, workspace, emulator):
    submission = draft([batch_request("a"), batch_request("b")])

    assert submit.discard(submission, submission.created_by) is True
    assert submit.discard(submission, submission.created_by) is False
    assert not submit.confirm(submission, submission.created_by).created

    assert not RequestInput.objects.exists() and not SubmissionPart.objects.exists()
    assert AuditEvent.objects.filter(action="discard", target=f"submission {submission.pk}").count() == 1
    again = draft([batch_request("a"), batch_request("b")])  # the same file may be uploaded again
    assert again.pk != submission.pk and again.is_draft
    assert emulator.calls.get("create", 0) == 0


def test_a_sent_submission_cannot_be_discarded(queue, workspace, emulator):
    submission = queue([batch_request("a")])
    assert submit.discard(submission, submission.created_by) is False
    assert RequestInput.objects.count() == 1


def test_a_retry_is_confirmed_as_it_is_made(queue, workspace, emulator):
    parent = queue([batch_request("a", "x [emulate:errored:overloaded_error]")])
    submit.submit(parent.pk)
    emulator.advance(700)
    sync.catch_up(workspace.pk)

    made = retry.create(retry.plan(Result.objects.all()), parent.created_by, overrides={}, edits={},
                        include_needs_fix=False)  # fmt: skip

    assert made.created and made.submission.confirmed_at and not made.submission.is_draft
    assert made.submission.estimate_asked_at is None  # its confirmation page was the retry plan


def test_a_part_whose_task_dies_fails_visibly_with_its_audit_row_and_event(queue, emulator, monkeypatch):
    from batches.models import NotificationEvent

    submission = queue([batch_request("a"), batch_request("b")])

    def boom(self):
        raise RuntimeError("injected: the stored request could not be read")

    monkeypatch.setattr(RequestInput, "unpack", boom)

    assert submit.submit(submission.pk) is False

    part = SubmissionPart.objects.get(submission=submission)
    assert part.status == "failed" and "injected" in part.error  # not "creating" forever
    assert AuditEvent.objects.filter(outcome="error", target=f"submission {submission.pk} part 0").exists()
    assert NotificationEvent.objects.filter(kind="submission.failed").exists()
    assert emulator.calls["create"] == 0


def test_a_task_for_a_submission_deleted_after_it_was_queued_ends_quietly(queue, workspace, emulator, caplog):
    submission = queue([batch_request("a")])
    submission_id = submission.pk
    submission.delete()  # an admin's delete, or a discarded draft, while its task waited in the queue

    with caplog.at_level("INFO", logger="batches.services.submit"):
        tasks.submit_batches.apply(args=[submission_id]).get()  # raises if the task fails

    assert f"submission {submission_id} no longer exists" in caplog.text
    assert Batch.objects.count() == 0 and emulator.store.batches == {}
