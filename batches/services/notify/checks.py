"""The periodic checks, for what becomes true with the passing of time rather than by a write.

Run by the beat every NOTIFY_CHECK_INTERVAL_SECONDS; idempotent (each event's dedupe key), so running it
twice, or on two workers at once, writes each event once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from batches.models import RESULTS_RETENTION, Batch, NotifyThresholds, Workspace
from batches.services.notify import events

# A batch mirrored this recently is still being ingested for the first time (a workspace just connected):
# its results are not "at risk" yet unless an ingest has already failed.
FIRST_INGEST_GRACE = timedelta(minutes=15)


@dataclass
class CheckReport:
    expiring: int = 0
    at_risk: int = 0
    sync_failing: int = 0
    budgets: int = 0

    @property
    def written(self) -> int:
        return self.expiring + self.at_risk + self.sync_failing + self.budgets


def run(now: datetime | None = None) -> CheckReport:
    now = now or timezone.now()
    thresholds = NotifyThresholds.current()
    report = CheckReport()
    for batch in expiring(now, thresholds):
        report.expiring += events.batch_expiring(batch, thresholds.expiring_hours)
    for batch in at_risk(now, thresholds):
        report.at_risk += events.results_at_risk(batch)
    for workspace in Workspace.objects.filter(is_active=True, failing_since__isnull=False):
        report.sync_failing += events.sync_failing(workspace, now)
    report.budgets = events.budgets_crossed(now=now)
    return report


def expiring(now: datetime, thresholds: NotifyThresholds):
    """Batches still in progress within `expiring_hours` of their expires_at (the API's 24 h)."""
    lead = timedelta(hours=float(thresholds.expiring_hours))
    return Batch.objects.filter(
        processing_status=Batch.Status.IN_PROGRESS, expires_at__gt=now, expires_at__lte=now + lead,
        gone_from_api_at=None, workspace__is_active=True,
    ).select_related("workspace")  # fmt: skip


def at_risk(now: datetime, thresholds: NotifyThresholds):
    """Ended batches whose results are not kept (ingest failing, or never done), within `at_risk_days` of the
    29-day limit (created_at + 29 days) and not past it."""
    window = timedelta(days=float(thresholds.at_risk_days))
    return (
        Batch.objects.needing_ingest()
        .filter(
            created_at__gt=now - RESULTS_RETENTION, created_at__lte=now - RESULTS_RETENTION + window,
            archived_at=None, workspace__is_active=True,
        )
        .filter(Q(ingest_failures__gt=0) | Q(first_seen_at__lte=now - FIRST_INGEST_GRACE))
    )  # fmt: skip
