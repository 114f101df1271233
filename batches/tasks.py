"""Celery tasks: thin wrappers that take ids and call one service.

No task retries itself: the beat schedule runs the sync again every SYNC_INTERVAL_SECONDS, and a
failure is recorded on the workspace by the service (with any retry-after honoured there).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from batches import pricing, reconcile, submit, sync
from batches.errors import APIError
from batches.models import Batch, Heartbeat, Workspace
from batches.workspaces import ensure_default_workspace

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def sync_all_workspaces() -> None:
    ensure_default_workspace()
    for workspace_id in Workspace.objects.filter(is_active=True).values_list("id", flat=True):
        # A tick that waited longer than one interval is stale: the next tick supersedes it.
        sync_workspace.apply_async((workspace_id,), expires=max(settings.SYNC_INTERVAL_SECONDS, 5))


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Sent by beat every SYNC_INTERVAL_SECONDS (recorded as it is sent, dashboard/celery.py); a worker
    running it shows that workers take tasks off the queue. /readyz reads both times."""
    Heartbeat.beat(Heartbeat.WORKER)


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
