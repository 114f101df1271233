"""Operator actions on batches: cancel and refresh. Safe to run twice: the second run says so.

A page never calls the API: `request_cancel` marks the batch (pages show "canceling…" at once) and hands the
call to the worker, which runs `cancel_batch`, the same path as a bulk cancel. The worker's call updates the
mirror and records an audit event whatever the outcome; a refusal is kept on the batch for its page to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from batches import client
from batches.errors import APIError, RetryableAPIError
from batches.models import Batch
from batches.services import audit, handoff, ingest, versions
from batches.services.upsert import upsert

CANCEL_BATCHES = "batches.tasks.cancel_batches"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


ENDED_ALREADY = "This batch has already ended: there is nothing left to cancel."
CANCELING_ALREADY = "This batch is already being canceled."
NOT_QUEUED = "Nothing was canceled: the worker is unreachable right now. Try again in a moment."


def request_cancel(batch: Batch, user) -> Outcome:
    """A page's "Cancel": mark the batch and have the worker ask the API. Once, however often it is clicked."""
    if batch.processing_status == Batch.Status.ENDED:
        return _noop(batch, user, ENDED_ALREADY)
    with transaction.atomic():
        asked = (
            Batch.objects.filter(pk=batch.pk, processing_status=Batch.Status.IN_PROGRESS, cancel_requested_at=None)
            .update(cancel_requested_at=timezone.now(), cancel_error="")
        )  # fmt: skip
        if asked:
            versions.bump(batch.workspace_id)
    if not asked:
        return _noop(batch, user, CANCELING_ALREADY)
    if not handoff.enqueue(CANCEL_BATCHES, [batch.pk], user.pk):
        # The request lives only in the task: nothing would send it once the broker is back.
        _settle(batch, error="")
        return Outcome(False, NOT_QUEUED)
    return Outcome(True, "Canceling: the page shows the API's answer in a moment. Requests already being processed "
                         "may still finish.")  # fmt: skip


def cancel_batch(batch: Batch, user) -> Outcome:
    """The API call of a cancel, made by the worker (one asked for on a page, or each of a bulk cancel)."""
    if batch.processing_status != Batch.Status.IN_PROGRESS:
        _settle(batch, error="")
        ended = batch.processing_status == Batch.Status.ENDED
        return _noop(batch, user, ENDED_ALREADY if ended else CANCELING_ALREADY)
    try:
        remote = client.cancel_batch(batch.workspace.credentials, batch.id)
    except APIError as exc:
        if exc.status == 400:
            # Typically it ended (or began canceling) since the last sync: show what the API says now.
            _refresh_quietly(batch)
        audit.record(user, "cancel", batch.id, outcome="error", detail=str(exc))
        _settle(batch, error=_explain(exc))
        return Outcome(False, _explain(exc))
    with transaction.atomic():
        upsert(batch.workspace, [remote])
        _settle(batch, error="")
    audit.record(user, "cancel", batch.id, params={"processing_count": batch.processing_count})
    return Outcome(True, "Canceled: the batch is canceling.")


def _settle(batch: Batch, *, error: str) -> None:
    """The cancel asked for has had its answer: pages stop saying "canceling…", and say a refusal."""
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(cancel_requested_at=None, cancel_error=error[:500])
        versions.bump(batch.workspace_id)


def _noop(batch: Batch, user, message: str) -> Outcome:
    audit.record(user, "cancel", batch.id, outcome="noop", detail=message)
    return Outcome(False, message)


def _refresh_quietly(batch: Batch) -> None:
    try:
        upsert(batch.workspace, [client.retrieve_batch(batch.workspace.credentials, batch.id)])
    except APIError:
        pass  # the next sync pass will catch up; the operator already gets the API's answer


def _explain(exc: APIError) -> str:
    if isinstance(exc, RetryableAPIError):
        return f"The API could not take the request now ({exc.error_type}): nothing was canceled. Try again shortly."
    return f"The API refused: {exc.message} ({exc.error_type})."


# "Refresh now" asks the API about one batch; more clicks within this join the refresh already asked for.
REFRESH_EVERY = timedelta(seconds=10)


def request_refresh(batch: Batch) -> tuple[datetime, bool]:
    """Claim a refresh of the batch: (when it was asked for, whether this call asked). A refresh asked for
    less than REFRESH_EVERY ago is not asked again: the caller waits for that one's answer."""
    now = timezone.now()
    recent = now - REFRESH_EVERY
    claimed = (
        Batch.objects.filter(pk=batch.pk)
        .filter(Q(refresh_requested_at=None) | Q(refresh_requested_at__lt=recent))
        .update(refresh_requested_at=now)
    )
    if claimed:
        # A person asked: a batch whose ingest is backing off (a refused key since fixed, say) tries at once.
        ingest.retry_now([batch.pk])
        return now, True
    asked = Batch.objects.filter(pk=batch.pk).values_list("refresh_requested_at", flat=True).first()
    return asked or now, False


def forget_refresh(batch: Batch) -> None:
    """A refresh that could not be queued: the next click asks again rather than waiting for it."""
    Batch.objects.filter(pk=batch.pk).update(refresh_requested_at=None)
