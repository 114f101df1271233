"""Sync one workspace's batches from the API into the mirror, incrementally.

A steady-state pass costs one list page (newest first, stopping at the first known batch) plus one
retrieve per running batch the list did not already show, whatever the history. Until a full pass
has completed once, and then every SYNC_FULL_PASS_HOURS, the pass pages through the whole history
and marks batches the API no longer lists. Ended batches then have their results ingested.

Idempotent and safe to run concurrently: one pass per workspace holds a lease (a conditional
UPDATE, so no long row lock); a second pass finds it taken and returns at once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from batches import client
from batches.client import RemoteBatch
from batches.errors import APIError, NotFoundAPIError, RetryableAPIError
from batches.ingest import ingest_results
from batches.models import REQUEST_COUNTS, Batch, Credentials, Workspace

log = logging.getLogger(__name__)

FIRST_PAGE_LIMIT = 100
FULL_PAGE_LIMIT = 1000  # the API's maximum: the first pass over a long history takes few calls
SYNCED_FIELDS = [
    "processing_status", *(f"{key}_count" for key in REQUEST_COUNTS), "created_at", "expires_at", "ended_at",
    "cancel_initiated_at", "archived_at", "results_url", "refreshed_at", "gone_from_api_at",
]  # fmt: skip


@dataclass
class SyncReport:
    workspace: str
    skipped: str = ""
    full: bool = False
    listed: int = 0
    new: int = 0
    retrieved: int = 0
    gone: int = 0
    ingested: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # batches whose ingest failed this pass

    def summary(self) -> str:
        if self.skipped:
            return f"{self.workspace}: skipped ({self.skipped})"
        kind = "full" if self.full else "incremental"
        return (
            f"{self.workspace}: {kind} pass, {self.listed} listed, {self.new} new, {self.retrieved} retrieved, "
            f"{self.gone} gone, {len(self.ingested)} ingested"
            + (f", {len(self.failed)} failed to ingest" if self.failed else "")
        )


def sync_workspace(workspace_id: int, *, full: bool = False, force: bool = False) -> SyncReport:
    """One whole pass over a workspace. Records the outcome on it; re-raises API errors after."""
    workspace = Workspace.objects.get(pk=workspace_id)
    report = SyncReport(workspace.name)
    now = timezone.now()
    if not force and workspace.sync_not_before and workspace.sync_not_before > now:
        report.skipped = f"rate limited until {workspace.sync_not_before:%H:%M:%S}"
        return report
    token = _claim(workspace_id)
    if token is None:
        report.skipped = "another sync of this workspace is running"
        return report
    try:
        creds = workspace.credentials
        _pass(workspace, creds, report, full=full, token=token)
    except APIError as exc:
        _record_failure(workspace_id, exc)
        raise
    else:
        _record_success(workspace_id, full=report.full)
    finally:
        Workspace.objects.filter(pk=workspace_id, sync_lease_token=token).update(
            sync_lease_token="", sync_lease_until=None
        )
    log.info("sync %s", report.summary())
    return report


def refresh_batch(batch: Batch) -> Batch:
    """Retrieve one batch now (the "refresh now" button), ingesting its results if it has ended."""
    remote = client.retrieve_batch(batch.workspace.credentials, batch.id)
    upsert_remote(batch.workspace, remote)
    batch.refresh_from_db()
    if batch.needs_ingest:
        ingest_results(batch)
    return batch


# --- the pass ------------------------------------------------------------------------------------
def _pass(workspace: Workspace, creds: Credentials, report: SyncReport, *, full: bool, token: str) -> None:
    last_full = workspace.last_full_sync_at
    report.full = (
        full or last_full is None or last_full < timezone.now() - timedelta(hours=settings.SYNC_FULL_PASS_HOURS)
    )
    listed = _list(workspace, creds, report)
    _refresh_running(workspace, creds, listed, report)
    pending = Batch.objects.filter(workspace=workspace).needing_ingest()
    for batch in pending.select_related("workspace").order_by("created_at"):
        _renew(workspace.pk, token)
        try:
            result = ingest_results(batch)
        except RetryableAPIError:
            raise  # rate limited, overloaded or cut off: stop, record it on the workspace, resume next pass
        except Exception:
            # Anything else is this batch's own (ingest_results wrote it on the batch, shown on its page):
            # the batches that ended after it must not wait behind it, pass after pass.
            log.exception("batch %s: ingest failed; the next pass tries again", batch.id)
            report.failed.append(batch.id)
            continue
        if result.complete or result.unavailable:
            report.ingested.append(batch.id)


def _list(workspace: Workspace, creds: Credentials, report: SyncReport) -> set[str]:
    """Page newest first; stop at the first known batch unless this is a full pass."""
    seen: set[str] = set()
    after_id = None
    limit = FULL_PAGE_LIMIT if report.full else FIRST_PAGE_LIMIT
    while True:
        page = client.list_batches(creds, limit=limit, after_id=after_id)
        ids = [b.id for b in page.batches]
        known = set(Batch.objects.filter(id__in=ids).values_list("id", flat=True))
        report.listed += len(ids)
        report.new += len(set(ids) - known)
        _upsert(workspace, page.batches)
        seen.update(ids)
        if not page.has_more or not page.last_id or (known and not report.full):
            break
        after_id = page.last_id
    if report.full:
        report.gone = (
            Batch.objects.filter(workspace=workspace, gone_from_api_at=None)
            .exclude(id__in=seen)
            .filter(created_at__lt=timezone.now() - timedelta(seconds=settings.SYNC_NOT_FOUND_GRACE_SECONDS))
            .update(gone_from_api_at=timezone.now())
        )
    return seen


def _refresh_running(workspace: Workspace, creds: Credentials, listed: set[str], report: SyncReport) -> None:
    running = (
        Batch.objects.filter(workspace=workspace, gone_from_api_at=None)
        .running()
        .exclude(id__in=listed)
        .values_list("id", "created_at")
    )
    grace = timedelta(seconds=settings.SYNC_NOT_FOUND_GRACE_SECONDS)
    for batch_id, created_at in running:
        try:
            remote = client.retrieve_batch(creds, batch_id)
        except NotFoundAPIError:
            report.retrieved += 1
            if timezone.now() - created_at > grace:
                Batch.objects.filter(pk=batch_id).update(gone_from_api_at=timezone.now())
                report.gone += 1
            continue  # younger than the grace period: the API may not have it everywhere yet
        report.retrieved += 1
        _upsert(workspace, [remote])


def upsert_remote(workspace: Workspace, remote: RemoteBatch) -> None:
    """Mirror one batch as the API just reported it (after an action or a refresh)."""
    _upsert(workspace, [remote])


def _upsert(workspace: Workspace, remotes: list[RemoteBatch]) -> None:
    if not remotes:
        return
    now = timezone.now()
    rows = [_row(workspace, remote, now) for remote in remotes]
    Batch.objects.bulk_create(rows, update_conflicts=True, unique_fields=["id"], update_fields=SYNCED_FIELDS)


def _row(workspace: Workspace, remote: RemoteBatch, now) -> Batch:
    return Batch(
        id=remote.id,
        workspace=workspace,
        processing_status=remote.processing_status,
        **{f"{key}_count": remote.request_counts[key] for key in REQUEST_COUNTS},
        created_at=remote.created_at,
        expires_at=remote.expires_at,
        ended_at=remote.ended_at,
        cancel_initiated_at=remote.cancel_initiated_at,
        archived_at=remote.archived_at,
        results_url=remote.results_url or "",
        first_seen_at=now,
        refreshed_at=now,
        gone_from_api_at=None,
    )


# --- lease and health ------------------------------------------------------------------------------
def _claim(workspace_id: int) -> str | None:
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        Workspace.objects.filter(pk=workspace_id)
        .filter(Q(sync_lease_until=None) | Q(sync_lease_until__lt=now))
        .update(sync_lease_token=token, sync_lease_until=now + timedelta(seconds=settings.SYNC_LEASE_SECONDS))
    )
    return token if claimed else None


def _renew(workspace_id: int, token: str) -> None:
    until = timezone.now() + timedelta(seconds=settings.SYNC_LEASE_SECONDS)
    Workspace.objects.filter(pk=workspace_id, sync_lease_token=token).update(sync_lease_until=until)


def _record_success(workspace_id: int, *, full: bool) -> None:
    now = timezone.now()
    fields = {
        "last_synced_at": now, "failing_since": None, "consecutive_failures": 0,
        "last_error_type": "", "last_error_message": "", "sync_not_before": None,
    }  # fmt: skip
    if full:
        fields["last_full_sync_at"] = now
    Workspace.objects.filter(pk=workspace_id).update(**fields)


def _record_failure(workspace_id: int, exc: APIError) -> None:
    now = timezone.now()
    retry_after = exc.retry_after if isinstance(exc, RetryableAPIError) else None
    Workspace.objects.filter(pk=workspace_id).update(
        failing_since=Coalesce(F("failing_since"), now),
        consecutive_failures=F("consecutive_failures") + 1,
        last_error_type=exc.error_type[:64],
        last_error_message=exc.message[:2000],
        sync_not_before=now + timedelta(seconds=retry_after) if retry_after else None,
    )
    log.warning("sync of workspace %s failed: %s", workspace_id, exc)
