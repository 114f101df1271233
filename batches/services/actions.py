"""Operator actions on batches. Each calls the API through the client, updates the mirror, and
records an audit event whatever the outcome. Safe to run twice: the second run says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from batches import client
from batches.errors import APIError, RetryableAPIError
from batches.models import Batch
from batches.services import audit
from batches.services.upsert import upsert


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


def cancel_batch(batch: Batch, user) -> Outcome:
    if batch.processing_status == Batch.Status.ENDED:
        return _noop(batch, user, "This batch has already ended: there is nothing left to cancel.")
    if batch.processing_status == Batch.Status.CANCELING:
        return _noop(batch, user, "This batch is already being canceled.")
    try:
        remote = client.cancel_batch(batch.workspace.credentials, batch.id)
    except APIError as exc:
        if exc.status == 400:
            # Typically it ended (or began canceling) since the last sync: show what the API says now.
            _refresh_quietly(batch)
        audit.record(user, "cancel", batch.id, outcome="error", detail=str(exc))
        return Outcome(False, _explain(exc))
    upsert(batch.workspace, [remote])
    audit.record(user, "cancel", batch.id, params={"processing_count": batch.processing_count})
    return Outcome(
        True, "Cancellation requested: the batch is canceling. Requests already being processed may still finish."
    )


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
        return now, True
    asked = Batch.objects.filter(pk=batch.pk).values_list("refresh_requested_at", flat=True).first()
    return asked or now, False
