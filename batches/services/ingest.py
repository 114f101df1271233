"""Ingest one ended batch's results: its own unit of work, with its own lease and its own back-off.

The sync pass mirrors metadata only; for every ended batch whose results are not kept yet it queues
one `ingest_batch` task (`claim_due`). Ingests run in parallel across workers; a conditional UPDATE
leases each batch to one of them, so two tasks never both stream it. Faults are handled here, where
they happen:
- a stream cut (or a 5xx, 529) is met by opening it again within the task, skipping the results
  already stored, up to INGEST_STREAM_ATTEMPTS opens;
- after that the batch backs off on its own: exponential with jitter, its next attempt and last error
  kept on the batch and shown on its page. The workspace is never marked failing for it;
- a 429 whose `retry-after` is too long to wait pauses every ingest of the workspace until then (the
  metadata sync carries on), and no worker sleeps through it;
- an error the API calls permanent (a coded error, a refused key) backs off at once to the longest
  wait: someone has to change something, and the batch then picks up by itself.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from batches import client
from batches.errors import APIError, PermanentAPIError, ResultsUnavailableError, RetryableAPIError
from batches.models import Batch, Workspace
from batches.services import audit, durable, result_store, submit, versions
from batches.services.notify import events

log = logging.getLogger(__name__)


@dataclass
class IngestReport(result_store.Counts):
    batch_id: str = ""
    # ingested, unavailable, busy (another task holds it), paused (its workspace), waiting (backing off),
    # not_needed (already kept, or not ended), failed, deferred (a group stopped by an API storm left it as it was)
    outcome: str = ""
    lease_until: datetime | None = None  # when busy: when the holder's lease runs out (a dead holder's is taken over)
    streams: int = 0  # how many times the results stream was opened
    error: str = ""

    @property
    def complete(self) -> bool:
        return self.outcome == "ingested"

    @property
    def unavailable(self) -> bool:
        return self.outcome == "unavailable"


# --- queueing --------------------------------------------------------------------------------------
def free(now: datetime) -> Q:
    """Not leased (or its lease has run out: a worker died holding it)."""
    return Q(ingest_lease_until=None) | Q(ingest_lease_until__lt=now)


def claim_due(workspace_id: int, *, ids: list[str] | None = None) -> list[str]:
    """Mark the workspace's batches whose ingest is due as queued, and return their ids to enqueue.

    Due: ended, results not settled, not backing off, not leased, and not already queued within
    INGEST_REQUEUE_SECONDS or the lease, whichever is shorter: a queue mark never outlives a lease, so a
    worker killed holding the batch (its message acknowledged, or lost with the broker) delays it by one
    lease, not an hour. A task queued twice is harmless: the lease lets one stream. Nothing is due while
    the workspace's ingests are paused by a rate limit.
    """
    now = timezone.now()
    if Workspace.objects.filter(pk=workspace_id, ingest_not_before__gt=now).exists():
        return []
    mark_lives = min(settings.INGEST_REQUEUE_SECONDS, settings.INGEST_LEASE_SECONDS)
    requeue = now - timedelta(seconds=mark_lives)
    due = (
        Batch.objects.filter(workspace_id=workspace_id)
        .needing_ingest()
        .filter(free(now), Q(ingest_not_before=None) | Q(ingest_not_before__lte=now))
        .filter(Q(ingest_queued_at=None) | Q(ingest_queued_at__lt=requeue))
    )
    if ids is not None:
        due = due.filter(pk__in=ids)
    batch_ids = list(due.order_by("created_at").values_list("id", flat=True))
    Batch.objects.filter(pk__in=batch_ids).update(ingest_queued_at=now)
    return batch_ids


def unqueue(batch_ids: list[str]) -> None:
    """The broker did not take these tasks: let the next pass queue them again."""
    Batch.objects.filter(pk__in=batch_ids).update(ingest_queued_at=None)


# --- one batch ---------------------------------------------------------------------------------------
def ingest_batch(batch_id: str, *, force: bool = False) -> IngestReport:
    """Store every result of an ended batch not stored yet, under the batch's lease.

    `force` (a person asked, in the foreground) ignores the batch's back-off and its workspace's pause.
    """
    report = IngestReport(batch_id=batch_id)
    batch = Batch.objects.select_related("workspace").filter(pk=batch_id).first()
    now = timezone.now()
    if batch is None or not batch.needs_ingest:
        report.outcome = "not_needed"
    elif not force and batch.workspace.ingest_not_before and batch.workspace.ingest_not_before > now:
        report.outcome = "paused"
    elif not force and batch.ingest_not_before and batch.ingest_not_before > now:
        report.outcome = "waiting"
    if report.outcome:
        Batch.objects.filter(pk=batch_id, ingest_lease_token="").update(ingest_queued_at=None)
        return report
    token = _claim(batch_id)
    if token is None:
        # Another task holds it: alive (it clears the queue mark when done), or killed (its lease runs out,
        # and the task that comes back then takes it over: tasks.ingest_batch).
        report.outcome = "busy"
        report.lease_until = Batch.objects.filter(pk=batch_id).values_list("ingest_lease_until", flat=True).first()
        return report
    try:
        _run(batch, token, report)
    finally:
        durable.reconnecting(lambda: _release(batch_id, token), f"ingest {batch_id}")
    log.info("ingest %s: %s, %d new, %d skipped, %d streams%s", batch_id, report.outcome, report.new_items,
             report.skipped_items, report.streams, f": {report.error}" if report.error else "")  # fmt: skip
    return report


def run_claimed(batch: Batch, token: str) -> IngestReport:
    """`ingest_batch`'s work on a batch the caller claimed with `token` (ingest_group's claim of several),
    read after that claim. The caller releases it."""
    report = IngestReport(batch_id=batch.pk)
    if not batch.needs_ingest:
        report.outcome = "not_needed"
        return report
    _run(batch, token, report)
    return report


def _run(batch: Batch, token: str, report: IngestReport) -> None:
    if batch.results_expired():
        _mark_unavailable(batch, "results expired: the API keeps them for 29 days after creation", report)
        return
    try:
        creds = batch.workspace.credentials
    except APIError as exc:
        _record_failure(batch, report, exc)
        return
    # `batch` was read before this task's claim: with no attempt before it, nothing can be stored yet.
    resuming = batch.items_ingested > 0 or (batch.ingest_attempts > 0 and batch.chunks.exists())
    fresh = not resuming  # then every stored row is one this task stored, and counted as it did
    renew = _renewer(batch.pk, token)
    error: BaseException | str | None = None
    for attempt in range(settings.INGEST_STREAM_ATTEMPTS):
        try:
            with client.stream_results(creds, batch.id, results_url=batch.results_url) as lines:
                report.streams += 1
                result_store.store(batch, lines, report, resuming=resuming, renew=renew)
        except ResultsUnavailableError as exc:
            if batch.results_expired():
                _mark_unavailable(batch, f"results no longer available: {exc.message}", report)
                return
            error = exc  # just ended: the API may not serve them everywhere yet (SDK issue #1432)
            break
        except RetryableAPIError as exc:
            error, resuming = exc, True
            wait = _short_wait(exc, attempt)
            if wait is None:
                _pause_workspace(batch, exc)
                break
            if attempt + 1 < settings.INGEST_STREAM_ATTEMPTS:
                time.sleep(wait)
            continue
        except PermanentAPIError as exc:
            error = exc
            break
        except Exception as exc:  # noqa: BLE001 - this batch's own failure: recorded on it, never on the others
            if durable.connection_lost(exc) and durable.reconnect():
                # The database went away mid-chunk (that chunk's transaction is lost whole): open the stream
                # again on a new connection, skipping what is stored, as after a cut stream.
                log.warning("ingest %s: database connection lost (%s); reconnected, resuming", batch.id, exc)
                error, resuming = exc, True
                continue
            log.exception("ingest %s failed", batch.id)
            error = exc
            break
        try:
            error = result_store.finish(batch, counted=report if fresh else None)
        except Exception as exc:  # noqa: BLE001 - as above: recorded on this batch, which tries again later
            log.exception("ingest %s failed to finish", batch.id)
            error = exc
            break
        if not error:
            _record_success(batch, report)
            return
        resuming = True
        break  # a stream that ends early again at once would only cost another download: back off
    _record_failure(batch, report, error)


def _short_wait(exc: RetryableAPIError, attempt: int) -> float | None:
    """How long to wait before opening the stream again in this task; None when the API asks for longer
    than a worker should sleep (the workspace's ingests pause instead)."""
    if exc.retry_after:
        return exc.retry_after if exc.retry_after <= settings.ANTHROPIC_MAX_RETRY_WAIT_SECONDS else None
    return min(settings.INGEST_RESUME_WAIT_SECONDS * 2**attempt, settings.ANTHROPIC_MAX_RETRY_WAIT_SECONDS)


# --- lease and outcome -------------------------------------------------------------------------------
def _claim(batch_id: str) -> str | None:
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        Batch.objects.filter(pk=batch_id)
        .needing_ingest()
        .filter(free(now))
        .update(
            ingest_lease_token=token,
            ingest_lease_until=now + timedelta(seconds=settings.INGEST_LEASE_SECONDS),
            ingest_attempts=F("ingest_attempts") + 1,
        )
    )
    return token if claimed else None


def _release(batch_id: str, token: str) -> None:
    Batch.objects.filter(pk=batch_id, ingest_lease_token=token).update(
        ingest_lease_token="", ingest_lease_until=None, ingest_queued_at=None
    )


def _renewer(batch_id: str, token: str) -> Callable[[], None]:
    """Renew the lease after a chunk once an eighth of it has passed since the claim or the last renewal:
    a lease is only lost to a chunk that takes seven eighths of it, and a small batch renews not at all
    (an UPDATE per chunk was a query in 25 of a 100-result batch's ingest)."""
    every = settings.INGEST_LEASE_SECONDS / 8
    last = time.monotonic()

    def renew() -> None:
        nonlocal last
        if time.monotonic() - last < every:
            return
        last = time.monotonic()
        until = timezone.now() + timedelta(seconds=settings.INGEST_LEASE_SECONDS)
        Batch.objects.filter(pk=batch_id, ingest_lease_token=token).update(ingest_lease_until=until)

    return renew


def _record_success(batch: Batch, report: IngestReport) -> None:
    report.outcome = "ingested"  # result_store.finish cleared the failures it had before
    submit.verify_adoption(batch)


def _record_failure(batch: Batch, report: IngestReport, error: BaseException | str | None) -> None:
    """Back off this batch alone: the next attempt after base × 2^(failures − 1), ±25%, at most the max."""
    permanent = isinstance(error, PermanentAPIError) and not isinstance(error, ResultsUnavailableError)
    failures = batch.ingest_failures + 1
    base, most = settings.INGEST_BACKOFF_SECONDS, settings.INGEST_BACKOFF_MAX_SECONDS
    delay = most if permanent else min(base * 2 ** (failures - 1), most) * random.uniform(0.75, 1.25)
    if isinstance(error, RetryableAPIError) and error.retry_after:
        delay = max(delay, error.retry_after)
    error_type = error.error_type if isinstance(error, APIError) else "incomplete" if isinstance(error, str) else ""
    # PostgreSQL text cannot hold NUL (an API error's text may): the failure must be recorded whatever it says.
    report.outcome, report.error = "failed", str(error or "unknown error").replace("\x00", "\ufffd")

    def record() -> None:
        with transaction.atomic():
            versions.bump(batch.workspace_id)  # the batch's page shows the failure and its next attempt
            Batch.objects.filter(pk=batch.pk).update(
                ingest_failures=failures,
                ingest_not_before=timezone.now() + timedelta(seconds=delay),
                ingest_error=report.error[:2000],
                ingest_error_type=(error_type or type(error).__name__)[:64].replace("\x00", "\ufffd"),
                ingest_error_permanent=permanent,
            )
            if isinstance(error, BaseException) and not isinstance(error, APIError):
                # The worker died on something not the API's (a bug, the database): an operator reading the
                # audit log sees it beside the people's actions. The API's own refusals (a storm of 429s) are
                # the batch's back-off alone, or the log would drown. Only the type: the text may quote a result.
                audit.record(None, "ingest", batch.id, outcome="error", workspace=batch.workspace_id,
                             detail=f"the ingest failed in the worker ({type(error).__name__}); the batch tries "
                                    f"again by itself after {round(delay)} s")  # fmt: skip

    durable.reconnecting(record, f"ingest {batch.id}")  # a lost connection is a failure to record too


def retry_now(batch_ids: list[str] | None = None, *, workspace_id: int | None = None) -> int:
    """A person asked ("Refresh now", or a fixed key): batches backing off try again at the next queueing,
    not after their back-off. Batches leased right now keep their lease."""
    backing_off = Batch.objects.needing_ingest().exclude(ingest_not_before=None)
    if batch_ids is not None:
        backing_off = backing_off.filter(pk__in=batch_ids)
    if workspace_id is not None:
        backing_off = backing_off.filter(workspace_id=workspace_id)
        Workspace.objects.filter(pk=workspace_id).update(ingest_not_before=None)
    return backing_off.filter(ingest_lease_token="").update(ingest_not_before=None, ingest_queued_at=None)


def _pause_workspace(batch: Batch, exc: RetryableAPIError) -> None:
    until = timezone.now() + timedelta(seconds=exc.retry_after or 0)
    Workspace.objects.filter(pk=batch.workspace_id).filter(
        Q(ingest_not_before=None) | Q(ingest_not_before__lt=until)
    ).update(ingest_not_before=until)
    log.warning("workspace %s: ingests paused until %s (%s)", batch.workspace_id, until, exc)


def _mark_unavailable(batch: Batch, reason: str, report: IngestReport) -> None:
    now = timezone.now()
    with transaction.atomic():
        versions.bump(batch.workspace_id)
        Batch.objects.filter(pk=batch.pk).update(results_unavailable_at=now, results_unavailable_reason=reason[:300])
        batch.results_unavailable_at, batch.results_unavailable_reason = now, reason[:300]
        # It ended all the same: batch.ended with what is known (counts, no error types nor cost).
        events.batch_settled(batch, "unavailable")
    report.outcome, report.error = "unavailable", reason
