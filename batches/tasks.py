"""Celery tasks: thin wrappers that take ids and call one service.

Periodic work is not retried by Celery: the beat runs it again (the sync every SYNC_INTERVAL_SECONDS,
with any retry-after honoured by the service). `submit_batches` alone retries itself, because a part
whose create did not happen must be tried again soon, not at the next sweep. Work that must not be
lost is in the database before it is enqueued, so a broker that cannot take a task loses nothing:
`enqueue` says so, and a beat sweep (`resume_submissions`) picks the work up once it is back.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

from batches import pricing, reconcile, submit, sync
from batches.errors import APIError
from batches.models import Batch, Workspace
from batches.workspaces import ensure_default_workspace

log = logging.getLogger(__name__)


def enqueue(task: Task, *args) -> bool:
    """Send a task once the current transaction commits (at once outside one), so the worker finds what
    the request wrote. False, logged, when the broker cannot take it (down, unreachable): the caller
    says so. Inside a transaction that has not committed yet the answer is not known: True."""
    sent: list[bool] = []
    transaction.on_commit(lambda: sent.append(_send(task, args)))
    return all(sent)


def _send(task: Task, args: tuple) -> bool:
    try:
        task.apply_async(args)
    except (OperationalError, OSError) as exc:
        log.warning("could not enqueue %s%r: %s", task.name, args, exc)
        return False
    return True


@shared_task(ignore_result=True)
def sync_all_workspaces() -> None:
    ensure_default_workspace()
    for workspace_id in Workspace.objects.filter(is_active=True).values_list("id", flat=True):
        # A tick that waited longer than one interval is stale: the next tick supersedes it.
        sync_workspace.apply_async((workspace_id,), expires=max(settings.SYNC_INTERVAL_SECONDS, 5))


@shared_task(ignore_result=True)
def sync_workspace(workspace_id: int, full: bool = False) -> None:
    try:
        sync.sync_workspace(workspace_id, full=full)
    except APIError as exc:
        log.info("workspace %s: %s (recorded; the next pass tries again)", workspace_id, exc)


@shared_task(ignore_result=True)
def refresh_batch(batch_id: str) -> None:
    batch = Batch.objects.select_related("workspace").filter(pk=batch_id).first()
    if batch is None:
        return
    try:
        sync.refresh_batch(batch)
    except APIError as exc:
        # Not written on the batch: an ingest failure is recorded there by the ingest itself, and a failed
        # retrieve is no ingest error. The page stops waiting for the refresh after a minute and says so.
        log.warning("refresh of %s failed: %s", batch_id, exc)


@shared_task(ignore_result=True)
def fetch_cost_report() -> None:
    """Keep Anthropic's Cost Report beside the local costs (a no-op without an Admin key)."""
    reconcile.fetch()


@shared_task(ignore_result=True)
def reprice_usage() -> None:
    """After a price edit: every report and batch cost follows the new table."""
    pricing.reprice()


@shared_task(ignore_result=True)
def resume_submissions() -> None:
    """Carry on submissions no task carries any more (retries spent, or the worker died mid-create)."""
    for submission_id in submit.unfinished():
        submit_batches.delay(submission_id)


@shared_task(bind=True, ignore_result=True, max_retries=20)
def submit_batches(self, submission_id: int) -> None:
    """Create the submission's batches; parts whose create did not happen are tried again later."""
    if submit.submit(submission_id):
        raise self.retry(countdown=30)
