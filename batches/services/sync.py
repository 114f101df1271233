"""Sync one workspace's batches from the API into the mirror, incrementally: metadata only.

A steady-state pass costs one list page (newest first, stopping at the first known batch) plus one
retrieve per running batch the list did not already show, whatever the history. Until a full pass
has completed once, and then every SYNC_FULL_PASS_HOURS, the pass pages through the whole history
and marks batches the API no longer lists. Results are not ingested here: each ended batch's ingest
is its own task (batches/services/ingest.py), so a slow or failing ingest never delays the list.

Idempotent and safe to run concurrently: one pass per workspace holds a lease (a conditional
UPDATE, so no long row lock); a second pass finds it taken and returns at once. `catch_up` is the
foreground version of everything: a pass, then every ingest it leaves to do.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from batches import client
from batches.errors import APIError, NotFoundAPIError, RetryableAPIError
from batches.models import Batch, Credentials, Workspace
from batches.services import durable, ingest, versions
from batches.services.notify import events
from batches.services.upsert import upsert

log = logging.getLogger(__name__)

FIRST_PAGE_LIMIT = 100
FULL_PAGE_LIMIT = 1000  # the API's maximum: the first pass over a long history takes few calls


@dataclass
class SyncReport:
    workspace: str
    skipped: str = ""
    full: bool = False
    listed: int = 0
    new: int = 0
    retrieved: int = 0
    gone: int = 0
    retrieve_failed: list[str] = field(default_factory=list)  # running batches left as they were this pass
    error: str = ""  # the pass failed (recorded on the workspace)
    # Filled by catch_up only: the ingests it ran in the foreground.
    ingested: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return f"{self.workspace}: skipped ({self.skipped})"
        kind = "full" if self.full else "incremental"
        text = f"{self.workspace}: " + (
            f"pass failed ({self.error})"
            if self.error
            else f"{kind} pass, {self.listed} listed, {self.new} new, {self.retrieved} retrieved, {self.gone} gone"
        )
        if self.retrieve_failed:
            text += f", {len(self.retrieve_failed)} could not be retrieved"
        if self.ingested or self.failed:
            text += f", {len(self.ingested)} ingested"
        if self.failed:
            named = ", ".join(self.failed[:5]) + ("…" if len(self.failed) > 5 else "")
            text += f", {len(self.failed)} left to ingest ({named})"
        return text


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
        durable.reconnecting(partial(_record_failure, workspace_id, exc), f"sync of workspace {workspace_id}")
        raise
    except Exception as exc:  # noqa: BLE001 - whatever broke the pass is recorded and shown, never lost in a log
        # A 200 that is not JSON (a captive portal, a proxy's page, a wrong path), a shape the SDK refuses, a
        # decode error, a lost database connection: the health bar says so and sync.failing fires as for an
        # API error. One line in the log, not a traceback every pass.
        report.error = f"{type(exc).__name__}: {exc}"
        log.warning("sync of workspace %s failed unexpectedly: %s", workspace_id, report.error[:500])
        durable.reconnecting(partial(_record_failure, workspace_id, exc), f"sync of workspace {workspace_id}")
        return report
    else:
        _record_success(workspace_id, full=report.full)
    finally:
        durable.reconnecting(lambda: _release(workspace_id, token), f"sync of workspace {workspace_id}")
    log.info("sync %s", report.summary())
    return report


def refresh_batch(batch: Batch) -> Batch:
    """Retrieve one batch now (the "refresh now" button). Its ingest, if it has ended, is queued by the caller."""
    upsert(batch.workspace, [client.retrieve_batch(batch.workspace.credentials, batch.id)])
    batch.refresh_from_db()
    return batch


def catch_up(workspace_id: int, *, full: bool = False) -> SyncReport:
    """In the foreground: one pass, then every ingest still to do, going on past any that fails."""
    try:
        report = sync_workspace(workspace_id, full=full, force=True)
    except APIError as exc:
        report = SyncReport(Workspace.objects.get(pk=workspace_id).name, error=str(exc))
    pending = Batch.objects.filter(workspace_id=workspace_id).needing_ingest()
    for batch_id in pending.order_by("created_at").values_list("id", flat=True):
        outcome = ingest.ingest_batch(batch_id, force=True)
        (report.ingested if outcome.complete or outcome.unavailable else report.failed).append(batch_id)
    return report


# --- the pass ------------------------------------------------------------------------------------
def _pass(workspace: Workspace, creds: Credentials, report: SyncReport, *, full: bool, token: str) -> None:
    last_full = workspace.last_full_sync_at
    report.full = (
        full or last_full is None or last_full < timezone.now() - timedelta(hours=settings.SYNC_FULL_PASS_HOURS)
    )
    listed = _list(workspace, creds, report)
    _renew(workspace.pk, token)
    _refresh_running(workspace, creds, listed, report, token)


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
        upsert(workspace, page.batches)
        seen.update(ids)
        if not page.has_more or not page.last_id or (known and not report.full):
            break
        after_id = page.last_id
    if report.full:
        unlisted = (
            Batch.objects.filter(workspace=workspace, gone_from_api_at=None)
            .exclude(id__in=seen)
            .filter(created_at__lt=timezone.now() - timedelta(seconds=settings.SYNC_NOT_FOUND_GRACE_SECONDS))
        )
        report.gone = _mark_gone(unlisted)
    return seen


def _mark_gone(batches) -> int:
    """Mark batches the API no longer has; one whose results were never kept also ended, as far as we can
    tell: batch.ended (results "gone"), in the same transaction."""
    with transaction.atomic():
        unsettled = list(batches.awaiting_results().filter(notify_end=True).select_related("submitted_by"))
        workspace_ids = set(batches.values_list("workspace_id", flat=True))
        gone = batches.update(gone_from_api_at=timezone.now())
        versions.bump_many(workspace_ids)  # "deleted in API" on the list and the batch's page
        for batch in unsettled:
            events.batch_settled(batch, "gone")
    return gone


def _refresh_running(
    workspace: Workspace, creds: Credentials, listed: set[str], report: SyncReport, token: str
) -> None:
    """Retrieve each running batch the list did not show. One that fails to answer is left as it was (the
    next pass asks again); a rate limit or a refused key stops the pass, as every other call would fail too."""
    running = (
        Batch.objects.filter(workspace=workspace, gone_from_api_at=None)
        .running()
        .exclude(id__in=listed)
        .values_list("id", "created_at")
    )
    grace = timedelta(seconds=settings.SYNC_NOT_FOUND_GRACE_SECONDS)
    for n, (batch_id, created_at) in enumerate(running):
        if n % 50 == 49:
            _renew(workspace.pk, token)
        try:
            remote = client.retrieve_batch(creds, batch_id)
        except NotFoundAPIError:
            report.retrieved += 1
            if timezone.now() - created_at > grace:
                report.gone += _mark_gone(Batch.objects.filter(pk=batch_id))
            continue  # younger than the grace period: the API may not have it everywhere yet
        except RetryableAPIError as exc:
            if exc.status == 429:
                raise
            report.retrieve_failed.append(batch_id)
            continue
        report.retrieved += 1
        upsert(workspace, [remote])


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


def _release(workspace_id: int, token: str) -> None:
    Workspace.objects.filter(pk=workspace_id, sync_lease_token=token).update(sync_lease_token="", sync_lease_until=None)


def _renew(workspace_id: int, token: str) -> None:
    until = timezone.now() + timedelta(seconds=settings.SYNC_LEASE_SECONDS)
    Workspace.objects.filter(pk=workspace_id, sync_lease_token=token).update(sync_lease_until=until)


_HEALTH_FIELDS = ("name", "failing_since", "last_error_type", "last_error_message", "consecutive_failures")


def _record_success(workspace_id: int, *, full: bool) -> None:
    now = timezone.now()
    fields = {
        "last_synced_at": now, "failing_since": None, "consecutive_failures": 0,
        "last_error_type": "", "last_error_message": "", "sync_not_before": None,
    }  # fmt: skip
    if full:
        fields["last_full_sync_at"] = now
    with transaction.atomic():
        before = Workspace.objects.only(*_HEALTH_FIELDS).get(pk=workspace_id)
        Workspace.objects.filter(pk=workspace_id).update(**fields)
        if before.is_failing:  # "synced N s ago" is the health bar's own poll: only a recovery is news here
            versions.bump(workspace_id)
        events.sync_recovered(before, now)  # only if this failing episode was announced


def _record_failure(workspace_id: int, exc: Exception) -> None:
    now = timezone.now()
    retry_after = exc.retry_after if isinstance(exc, RetryableAPIError) else None
    if isinstance(exc, APIError):
        error_type, message = exc.error_type, exc.message
    else:
        error_type, message = "unexpected_response", f"{type(exc).__name__}: {exc}"
    # Text from the API or a stand-in: PostgreSQL text and JSON cannot hold NUL, and the failure must be recorded.
    error_type, message = error_type.replace("\x00", "\ufffd"), message.replace("\x00", "\ufffd")
    with transaction.atomic():
        Workspace.objects.filter(pk=workspace_id).update(
            failing_since=Coalesce(F("failing_since"), now),
            consecutive_failures=F("consecutive_failures") + 1,
            last_error_type=error_type[:64],
            last_error_message=message[:2000],
            sync_not_before=now + timedelta(seconds=retry_after) if retry_after else None,
        )
        versions.bump(workspace_id)  # running rows say "sync failing", with the last error as their title
        # Failing for longer than the threshold: sync.failing, once per episode (the beat's check also looks,
        # for a workspace whose passes are skipped meanwhile).
        events.sync_failing(Workspace.objects.only(*_HEALTH_FIELDS).get(pk=workspace_id), now)
    log.warning("sync of workspace %s failed: %s", workspace_id, exc)
