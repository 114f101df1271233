"""Celery tasks: thin wrappers that take ids and call one service.

Periodic work is not retried by Celery: the beat runs it again (the sync every SYNC_INTERVAL_SECONDS,
with any retry-after honoured by the service). `submit_batches` alone retries itself, because a part
whose create did not happen must be tried again soon, not at the next sweep. Work that must not be
lost is in the database before it is enqueued, so a broker that cannot take a task loses nothing:
`handoff.enqueue` says so, and a beat sweep (`resume_submissions`) picks the work up once it is back.
"""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from batches.errors import APIError
from batches.models import Batch, Heartbeat, Workspace
from batches.services import bulk, estimates, ingest, ingest_group, kept_bodies, pricing, reconcile, submit, sync
from batches.services import tally as batch_tally
from batches.services.handoff import enqueue
from batches.services.notify import checks, send
from batches.services.workspaces import ensure_default_workspace

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sync_all_workspaces() -> None:
    ensure_default_workspace()
    for workspace_id in Workspace.objects.filter(is_active=True).values_list("id", flat=True):
        # A tick that waited longer than one interval is stale: the next tick supersedes it.
        enqueue(sync_workspace, workspace_id, expires=max(settings.SYNC_INTERVAL_SECONDS, 5))


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Sent by beat every SYNC_INTERVAL_SECONDS (recorded as it is sent, config/celery.py); a worker
    running it shows that workers take tasks off the queue. /readyz reads both times."""
    Heartbeat.beat(Heartbeat.WORKER)


@shared_task(ignore_result=True)
def sync_workspace(workspace_id: int, full: bool = False) -> None:
    """The metadata pass, then one ingest task per ended batch that is due (whether or not the pass got
    through: a batch already known to have ended need not wait for the list)."""
    try:
        sync.sync_workspace(workspace_id, full=full)
    except APIError as exc:
        log.info("workspace %s: %s (recorded; the next pass tries again)", workspace_id, exc)
    queue_ingests(workspace_id)


@shared_task(bind=True, ignore_result=True, max_retries=None)
def ingest_batch(self, batch_id: str) -> None:
    report = ingest.ingest_batch(batch_id)
    if report.outcome == "busy" and report.lease_until:
        # Held by another task: alive, it finishes and this comes back to "not needed"; killed (this is its
        # redelivered message), its lease runs out and this takes the batch over then, not an hour later.
        wait = (report.lease_until - timezone.now()).total_seconds()
        raise self.retry(countdown=max(1.0, wait + 1.0))


@shared_task(ignore_result=True)
def refresh_batch(batch_id: str) -> None:
    batch = Batch.objects.select_related("workspace").filter(pk=batch_id).first()
    if batch is None:
        return
    try:
        sync.refresh_batch(batch)
    except APIError as exc:
        # Not written on the batch: a failed retrieve is no ingest error. The page stops waiting for the
        # refresh after a minute and says so.
        log.warning("refresh of %s failed: %s", batch_id, exc)
        return
    # An ingest already under way (or queued) is joined, not started again: its lease and queue mark.
    queue_ingests(batch.workspace_id, ids=[batch_id])


@shared_task(ignore_result=True)
def ingest_batches(batch_ids: list[str]) -> None:
    """Small batches ingested together (ingest_group); one held by another task is left to its own task."""
    for report in ingest_group.ingest_batches(batch_ids):
        if report.outcome == "busy":
            enqueue(ingest_batch, report.batch_id)


def queue_ingests(workspace_id: int, ids: list[str] | None = None) -> None:
    due = ingest.claim_due(workspace_id, ids=ids)
    alone, groups = ingest_group.plan(due) if len(due) > 1 else (due, [])
    unsent = [batch_id for batch_id in alone if not enqueue(ingest_batch, batch_id)]
    unsent += [batch_id for group in groups if not enqueue(ingest_batches, group) for batch_id in group]
    ingest.unqueue(unsent)


@shared_task(ignore_result=True)
def cancel_batches(batch_ids: list[str], user_id: int) -> None:
    """A bulk cancel: many API calls, so the worker makes them."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    outcomes = bulk.cancel_many(batch_ids, user)
    log.info("bulk cancel by %s: %s", user, dict(outcomes))


@shared_task(ignore_result=True)
def fetch_cost_report() -> None:
    """Keep Anthropic's Cost Report beside the local costs (a no-op without an Admin key)."""
    reconcile.fetch()


@shared_task(ignore_result=True)
def reprice_usage(since: str | None = None) -> None:
    """After a price edit: every report and batch cost from `since` (ISO date) on follows the new table."""
    pricing.reprice(date.fromisoformat(since) if since else None)


@shared_task(ignore_result=True)
def resume_submissions() -> None:
    """Carry on submissions no task carries any more (retries spent, or the worker died mid-create)."""
    for submission_id in submit.unfinished():
        enqueue(submit_batches, submission_id)
    kept_bodies.split_all()  # pass-through bodies whose split was never run (a dead worker, a broker that was down)


@shared_task(ignore_result=True)
def compact_batch_tally() -> None:
    """Fold the batch list's tab counts into one row per key (batches/services/tally.py)."""
    batch_tally.compact()


@shared_task(ignore_result=True)
def split_kept_body(part_id: int) -> None:
    """A pass-through create's body, kept before it was forwarded, as a row per request now that it has an answer."""
    kept_bodies.split(part_id)


@shared_task(ignore_result=True)
def estimate_submission(submission_id: int) -> None:
    """The pre-flight estimate of a draft: token counting of a sample, max_tokens of every request. A failure
    is recorded on the draft (which can still be sent, or estimated again), not retried here."""
    try:
        estimates.estimate(submission_id)
    except Exception as exc:
        # Not an API error (those are recorded by the service): the page must not wait for it forever.
        estimates.died(submission_id, exc)
        raise


@shared_task(bind=True, ignore_result=True, max_retries=20)
def submit_batches(self, submission_id: int) -> None:
    """Create the submission's batches; parts whose create did not happen are tried again later."""
    if submit.submit(submission_id):
        raise self.retry(countdown=30)


@shared_task(ignore_result=True)
def send_notifications() -> None:
    """The outbox: fan new events out to channels and send what is due. Retries are per delivery, kept in the
    database (next attempt, back-off), so a lost task or broker loses nothing: the next tick carries on."""
    send.send_due()


@shared_task(ignore_result=True)
def check_notifications() -> None:
    """Batches expiring, results at risk, sync failing, budgets crossed: events that time brings."""
    checks.run()
