"""Submit requests as batches, and never create a batch twice.

The API takes no idempotency key, and a create whose answer is lost (timeout, cut connection, a 5xx
after the API accepted it) may or may not have made a batch. So a create is never simply retried:
the part is claimed with a conditional UPDATE, and an unknown outcome is resolved by looking for a
batch with this part's request count, created within the attempt's own call (give or take
SUBMIT_CLOCK_SKEW_SECONDS between our clock and the API's), that no other part has claimed.
One match is adopted, provisionally: the API shows a batch's custom_ids only in its results, so once
they are in (`verify_adoption`, at the end of its ingest) they must be ours exactly, or the batch is
another client's that happened to match, and it is given back (its label restored) and ours is sent.
None, once the API has had SUBMIT_LIST_GRACE_SECONDS to list a new batch, means the create did not
happen and it is tried again; several stop the part for a person to decide, with the evidence shown.
A part stays "creating" until then; its `error` says a check is under way. The beat's
`resume_submissions` picks up any part no task carries any more.
A double click or a resubmitted form is caught earlier: the same file for the same workspace has the
same Submission fingerprint.
An upload is first a draft: kept, estimated (batches/services/estimates.py), and sent only once an Operator
confirms it (`confirm`, a conditional UPDATE, so a double click sends once). Nothing sends a draft, not
even the beat's sweep. A retry is confirmed as it is made: its confirmation was the retry plan.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from itertools import islice
from typing import BinaryIO, NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, PositiveIntegerField, Q, Value, When
from django.utils import timezone

from batches import client
from batches.errors import APIError, RetryableAPIError
from batches.models import Batch, RequestInput, Result, Submission, SubmissionPart, Workspace
from batches.services import audit, durable, estimates, handoff, kept_bodies, mirror_rules, uploads, versions
from batches.services.notify import events
from batches.services.request_stream import BodyError
from batches.services.upsert import upsert

log = logging.getLogger(__name__)


# A part left "creating" this long had its worker die mid-call: resolve it like a lost answer.
STALE_CREATING = timedelta(minutes=15)
STORE_CHUNK = 2000


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


class Made(NamedTuple):
    """A submission asked for, and what came of asking."""

    submission: Submission
    created: bool  # False: the same one existed already (a double click, the same file again)
    queued: bool  # the worker was told; False when the broker could not take it (the beat resumes it)


def create_once(key: str, build: Callable[[], Submission]) -> Made:
    """The submission with fingerprint `key`, made by `build` in one transaction unless it exists.

    A new one is handed to the worker once that transaction commits: to be sent if it is confirmed
    already (a retry), to be estimated if it is a draft (an upload). Both paths that make batches
    come through here, so neither can make the same submission twice.
    """
    existing = Submission.objects.filter(fingerprint=key).first()
    if existing:
        return Made(existing, created=False, queued=True)
    try:
        with transaction.atomic():
            submission = build()
    except IntegrityError:  # the same submission, a moment earlier, from another request
        return Made(Submission.objects.get(fingerprint=key), created=False, queued=True)
    task = handoff.SUBMIT_BATCHES if submission.confirmed_at else handoff.ESTIMATE_SUBMISSION
    return Made(submission, created=True, queued=handoff.enqueue(task, submission.pk))


def prepare_upload(
    workspace: Workspace, user, f: BinaryIO, validation: uploads.Validation, *, label: str, filename: str,
    again: bool = False, betas: list[str] | tuple[str, ...] = (), user_profile_id: str = "",
) -> Made:  # fmt: skip
    """Record a validated upload and its requests as a draft, and have the worker estimate it: nothing
    is sent until `confirm`. The same file for the same workspace gives the existing submission unless
    `again` is asked for on purpose. `queued` False: no worker could be told, so no estimate is coming
    (the draft says so, and can still be sent)."""
    # The same file sent with other betas or another user profile is another submission; without, the key is as before.
    extra = [",".join(betas) + "|" + user_profile_id] if betas or user_profile_id else []
    key = fingerprint("upload", workspace.pk, validation.sha256, uuid.uuid4().hex if again else "", *extra)

    def build() -> Submission:
        submission = Submission.objects.create(
            workspace=workspace, kind=Submission.Kind.UPLOAD, label=label, created_by=user, fingerprint=key,
            request_count=validation.request_count, filename=filename[:255], estimate_asked_at=timezone.now(),
            betas=list(betas), user_profile_id=user_profile_id,
        )  # fmt: skip
        parts = SubmissionPart.objects.bulk_create(
            [SubmissionPart(submission=submission, index=i, request_count=p.request_count)
             for i, p in enumerate(validation.parts)]
        )  # fmt: skip
        f.seek(0)
        _store_inputs(uploads.iter_requests(f), validation.parts, parts)
        return submission

    made = create_once(key, build)
    if made.created and not made.queued:
        estimates.failed(made.submission.pk, estimates.NOT_QUEUED)
    return made


def confirm(submission: Submission, user) -> Made:
    """Send a draft: its batches are created by the worker. Once only, whoever asks and however often:
    `created` is False when it was sent already (or discarded) and nothing more happens."""
    now = timezone.now()
    sent = Submission.objects.filter(pk=submission.pk, confirmed_at=None, discarded_at=None).update(confirmed_at=now)
    submission.refresh_from_db(fields=["confirmed_at", "discarded_at"])
    if not sent:
        return Made(submission, created=False, queued=True)
    audit.record(user, "submit", f"submission {submission.pk}", params={
        "workspace": submission.workspace.name, "requests": submission.request_count,
        "parts": submission.parts.count(), "file": submission.filename, "label": submission.label,
    })  # fmt: skip
    return Made(submission, created=True, queued=handoff.enqueue(handoff.SUBMIT_BATCHES, submission.pk))


def discard(submission: Submission, user) -> bool:
    """Give up a draft: its kept requests are deleted and the same file may be uploaded again. False
    when it is not a draft any more (sent, or discarded already)."""
    with transaction.atomic():
        # The claim and the deletes commit together: a confirm at the same moment finds it discarded.
        claimed = Submission.objects.filter(pk=submission.pk, confirmed_at=None, discarded_at=None).update(
            discarded_at=timezone.now(), fingerprint=fingerprint("discarded", submission.pk)
        )
        if claimed:
            RequestInput.objects.filter(part__submission=submission).delete()
            SubmissionPart.objects.filter(submission=submission).delete()
    submission.refresh_from_db(fields=["confirmed_at", "discarded_at", "fingerprint"])
    if claimed:
        audit.record(user, "discard", f"submission {submission.pk}", params={
            "workspace": submission.workspace.name, "requests": submission.request_count, "file": submission.filename,
        })  # fmt: skip
    return bool(claimed)


def _store_inputs(requests, plan: list[uploads.Part], parts: list[SubmissionPart]) -> None:
    """Keep every request's params, compressed, in chunks: the file is never held whole."""
    part_of = iter(zip(plan, parts, strict=True))
    span, part = next(part_of)
    while chunk := list(islice(requests, STORE_CHUNK)):
        rows = []
        for line, request in chunk:
            while line > span.last_line:
                span, part = next(part_of)
            rows.append(RequestInput(part=part, custom_id=request["custom_id"], line=line,
                                     params=RequestInput.pack(request["params"])))  # fmt: skip
        RequestInput.objects.bulk_create(rows)


def unfinished() -> list[int]:
    """Confirmed submissions with a part still to create or to check: a task that gave up, or a worker that
    died. Never a draft: it waits for an Operator."""
    stale = timezone.now() - STALE_CREATING
    waiting = Q(status=SubmissionPart.Status.PENDING) | Q(status=SubmissionPart.Status.CREATING, attempted_at__lt=stale)
    waiting |= Q(status=SubmissionPart.Status.CREATING) & ~Q(error="")
    parts = SubmissionPart.objects.filter(waiting, submission__confirmed_at__isnull=False)
    return list(parts.values_list("submission_id", flat=True).distinct())


def submit(submission_id: int) -> bool:
    """Create the batches of every part not created yet. True when some part must be tried again."""
    submission = Submission.objects.select_related("workspace", "created_by").filter(pk=submission_id).first()
    if submission is None:  # deleted (a discarded draft, an admin's delete) after its task was queued
        log.info("submission %s no longer exists: nothing to send", submission_id)
        return False
    if submission.confirmed_at is None:
        log.warning("submission %s is a draft: not sent until an Operator confirms it", submission_id)
        return False
    again = False
    for part in submission.parts.exclude(status=SubmissionPart.Status.CREATED).order_by("index"):
        try:
            again |= submit_part(submission, part)
        except Exception as exc:
            if durable.connection_lost(exc):
                raise  # left as it was: the task retries, or the beat's sweep resumes it
            # No task dies leaving a part "creating" forever: failed on its page, audited, submission.failed.
            log.exception("part %s of submission %s failed", part.pk, submission.pk)
            fail_part(submission, part, f"the worker failed while sending this part ({type(exc).__name__}: {exc}); "
                                        "if a batch was made it shows in the batch list")  # fmt: skip
    return again


def submit_part(submission: Submission, part: SubmissionPart) -> bool:
    try:
        if kept_bodies.split(part.pk):  # a pass-through body: its rows and count first, to send or match them
            part.refresh_from_db()
    except BodyError as exc:  # the API refuses a body that is not a create body: it made nothing
        fail_part(submission, part, f"the request body is not a create-batch body: {exc}")
        return False
    now = timezone.now()
    Status = SubmissionPart.Status
    claimed = SubmissionPart.objects.filter(pk=part.pk, status=Status.PENDING).update(
        status=Status.CREATING, attempted_at=now, attempts=F("attempts") + 1, error=""
    )
    if not claimed:
        part.refresh_from_db()
        if part.status != Status.CREATING:
            return False  # created, failed or ambiguous
        if part.error:  # a create answered without telling whether it made a batch: look again
            return _resolve_unknown(submission, part, part.error.partition("; ")[0])
        if part.attempted_at and part.attempted_at < now - STALE_CREATING:
            return _resolve_unknown(submission, part, "the worker stopped during the create call")
        return True  # another worker's create call is out: look again later
    part.refresh_from_db()
    requests = [{"custom_id": i.custom_id, "params": i.unpack()} for i in part.inputs.order_by("line")]
    try:
        remote = client.create_batch(
            submission.workspace.credentials,
            requests,
            betas=submission.betas,
            user_profile_id=submission.user_profile_id,
        )
    except RetryableAPIError as exc:
        return _resolve_unknown(submission, part, str(exc))
    except APIError as exc:
        fail_part(submission, part, f"the API refused: {exc}")
        return False
    try:
        _link(submission, part, remote)
    except Exception as exc:  # noqa: BLE001 - the API made a batch: say so, never leave the part "creating"
        if durable.connection_lost(exc):
            raise  # the part stays "creating" with no error: the beat's sweep resolves it like a lost answer
        log.exception("part %s: the API made %s, but the mirror could not take it", part.pk, remote.id)
        fail_unrecorded(submission, part, remote, exc)
    return False


def fail_unrecorded(submission: Submission, part: SubmissionPart, remote: client.RemoteBatch, exc: Exception) -> None:
    """The API made a batch the mirror would not take (an id it holds for another workspace, say): the part failed,
    saying so, and nothing sent again."""
    fail_part(submission, part, f"the API made batch {remote.id[:80]}, but the dashboard could not record it "
                                f"({exc}): nothing was sent again; check the batch in the Console")  # fmt: skip


def fail_part(submission: Submission, part: SubmissionPart, message: str) -> None:
    """A part that will not be created as it is: failed on its page, in the audit log, and as submission.failed."""
    with transaction.atomic():
        SubmissionPart.objects.filter(pk=part.pk).update(status=SubmissionPart.Status.FAILED, error=message[:2000])
        events.submission_failed(submission, part, message[:2000])
    audit.record(submission.created_by, "submit", f"submission {submission.pk} part {part.index}",
                 outcome="error", detail=message[:2000])  # fmt: skip


def _resolve_unknown(submission: Submission, part: SubmissionPart, reason: str) -> bool:
    """The create may or may not have made a batch: find out before anything is sent again."""
    Status = SubmissionPart.Status
    skew = timedelta(seconds=settings.SUBMIT_CLOCK_SKEW_SECONDS)
    # The batch our call made was created while the call was out: after we sent it, before it timed out.
    since, until = part.attempted_at - skew, part.attempted_at + timedelta(seconds=client.CREATE_TIMEOUT_SECONDS) + skew
    try:
        recent = [b for b in _created_since(submission.workspace.credentials, since) if b.created_at <= until]
    except APIError as exc:
        # Cannot tell yet; leave it "creating" so nothing is sent again, and look once more later.
        SubmissionPart.objects.filter(pk=part.pk).update(error=f"{reason}; checking: {exc}")
        return True
    sized = [b for b in recent if sum(b.request_counts.values()) == part.request_count]
    claimed = set(SubmissionPart.objects.filter(batch_id__in=[b.id for b in sized]).values_list("batch_id", flat=True))
    candidates = [b for b in sized if b.id not in claimed]
    if len(candidates) == 1:
        log.info("part %s: the create answered %r but had made %s; adopted until its results show our custom_ids",
                 part.pk, reason, candidates[0].id)  # fmt: skip
        _link(submission, part, candidates[0], adopted=True)
        return False
    if not candidates:
        grace = timedelta(seconds=settings.SUBMIT_LIST_GRACE_SECONDS)
        if timezone.now() - part.attempted_at < grace:
            # A batch may not be listed the moment it is made: concluding now could send it twice.
            SubmissionPart.objects.filter(pk=part.pk).update(error=f"{reason}; checking: not listed yet")
            return True
        SubmissionPart.objects.filter(pk=part.pk).update(status=Status.PENDING, error=f"{reason}; no batch was made")
        return True
    evidence = ", ".join(f"{b.id} created {b.created_at:%Y-%m-%d %H:%M:%S} UTC" for b in candidates)
    SubmissionPart.objects.filter(pk=part.pk).update(
        status=Status.AMBIGUOUS,
        error=f"{reason}; sent at {part.attempted_at:%Y-%m-%d %H:%M:%S} UTC, and several new batches of "
        f"{part.request_count:,} requests were made while it was out ({evidence}): check which is ours",
    )
    return False


def _created_since(creds, since) -> list[client.RemoteBatch]:
    """Every batch of the workspace created since `since`, paging back as far as that (newest first)."""
    found, after_id = [], None
    while True:
        page = client.list_batches(creds, limit=100, after_id=after_id)
        found += [b for b in page.batches if b.created_at >= since]
        if not page.has_more or not page.last_id or any(b.created_at < since for b in page.batches):
            return found
        after_id = page.last_id


def _link(
    submission: Submission, part: SubmissionPart, remote: client.RemoteBatch, *, adopted: bool = False,
    model: str | None = None, parts: int | None = None, counted: int | None = None,
) -> None:  # fmt: skip
    parts = parts or submission.parts.count()
    label = submission.label + (f" (part {part.index + 1} of {parts})" if parts > 1 else "")
    if model is None:  # for an ETA until its results say
        first = part.inputs.order_by("line").first()
        model = str(first.unpack().get("model") or "")[:128] if first else ""
    # The model is the caller's text: a NUL in it (valid JSON, and the API takes it) cannot be stored in PostgreSQL,
    # and failing here would leave the batch the API made unlinked.
    model = model.replace("\x00", "")
    # The label an adopted batch had, to give back if the adoption is undone (a batch we made has none).
    replaced = (Batch.objects.filter(pk=remote.id).values_list("label", flat=True).first() or "") if adopted else ""
    ours = {"label": label, "submitted_by": submission.created_by, "model": model, "betas": submission.betas,
            "user_profile_id": submission.user_profile_id}  # fmt: skip
    linked = {"status": SubmissionPart.Status.CREATED, "batch_id": remote.id, "error": "",
              "adoption": "provisional" if adopted else "", "replaced_label": replaced}  # fmt: skip
    if counted is not None:  # unless the part's rows were split and counted already
        linked["request_count"] = Case(When(request_count=0, then=Value(counted)), default=F("request_count"),
                                       output_field=PositiveIntegerField())  # fmt: skip
    # No savepoint inside the pass-through's own transaction (two round trips): a refusal is raised once the block is
    # left, with the refusal recorded, and any other error rolls the caller's transaction back, as it should.
    with transaction.atomic(savepoint=False):
        # The API's fields and ours in one statement; the version bumped once, after it.
        refused = upsert(submission.workspace, [remote], bump=False, also=ours)
        if not refused:
            versions.bump(submission.workspace_id)
            SubmissionPart.objects.filter(pk=part.pk).update(**linked)
            RequestInput.objects.filter(part=part).update(batch_id=remote.id)
    if refused:
        raise mirror_rules.MirrorRefused(refused[0][1])
    params = {"submission": submission.pk, "part": part.index, "requests": part.request_count or counted or 0}
    audit.record(submission.created_by, "submit", remote.id, params={**params, "adopted": adopted},
                 workspace=submission.workspace_id)  # fmt: skip


def verify_adoption(batch: Batch) -> None:
    """Once an adopted batch's results are in: keep it if its custom_ids are exactly ours, else give it
    back (its label restored, our inputs unlinked) and send ours. Nothing to do for any other batch."""
    part = SubmissionPart.objects.filter(batch=batch, adoption="provisional").select_related("submission").first()
    if part is None:
        return
    kept_bodies.split(part.pk)
    ours = RequestInput.objects.filter(part=part).values("custom_id")
    results = Result.objects.filter(batch=batch)
    if results.count() == part.request_count and not results.exclude(custom_id__in=ours).exists():
        SubmissionPart.objects.filter(pk=part.pk).update(adoption="verified")
        return
    message = (f"{batch.id} was adopted after a lost answer, but its results are not our requests "
               "(their custom_ids differ): it was given back and ours was sent again")  # fmt: skip
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(label=part.replaced_label, submitted_by=None)
        versions.bump(batch.workspace_id)
        RequestInput.objects.filter(part=part).update(batch=None)
        SubmissionPart.objects.filter(pk=part.pk).update(
            status=SubmissionPart.Status.PENDING, batch=None, adoption="", replaced_label="", error=message
        )
    log.warning("part %s: %s", part.pk, message)
    audit.record(part.submission.created_by, "submit", batch.id, outcome="error", detail=message,
                 params={"submission": part.submission_id, "part": part.index, "given_back": True})  # fmt: skip
    handoff.enqueue(handoff.SUBMIT_BATCHES, part.submission_id)


def link(
    submission: Submission, part: SubmissionPart, remote: client.RemoteBatch, *, model: str | None = None,
    counted: int | None = None,
) -> None:  # fmt: skip
    """Link a part to the batch its create made (the pass-through's own create call): as the worker's would.
    `model`: its first request's, when its rows are not written yet. `counted`: the requests the API took, the
    part's count until its rows are split and count themselves. A pass-through submission has one part."""
    _link(submission, part, remote, model=model, parts=1, counted=counted)
