"""The events, written into the outbox by the services inside the transaction of the change that causes them.

Each has a dedupe key (a unique column): writing it again, from a repeated sync, a second worker or a periodic
check run twice, is a no-op. A crash rolls the change back with its event, so none is lost nor invented.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone

from batches.models import (
    Batch,
    ErrorCount,
    EventKind,
    IncompleteCount,
    NotificationChannel,
    NotificationEvent,
    NotifyThresholds,
    Submission,
    SubmissionPart,
    UsageRollup,
    Workspace,
)
from batches.services import budgets

log = logging.getLogger(__name__)
TOP_ERRORS = 5


def link(path: str, **query: str) -> str:
    """An absolute link into the dashboard (DASHBOARD_URL), for payloads and emails."""
    return settings.DASHBOARD_URL.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")


def _num(value: Decimal) -> str:
    """A threshold as typed: 3, 0.1 (not 3.00, 0.1000)."""
    return format(value.normalize(), "f")


def emit(
    kind: str, key: str, *, workspace_id: int | None, batch_id: str = "", data: dict, url: str = "",
    occurred_at: datetime | None = None,
) -> NotificationEvent | None:  # fmt: skip
    """Write one event unless its dedupe key is taken: the new event, or None. Call it inside the change's
    transaction; the savepoint keeps a duplicate from spoiling that transaction."""
    event = NotificationEvent(
        kind=kind, dedupe_key=key[:200], workspace_id=workspace_id, batch_id=batch_id, data=data, url=url[:500],
        occurred_at=occurred_at or timezone.now(),
    )  # fmt: skip
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        return None
    log.info("event %s %s (%s)", event.id, kind, key)
    return event


# --- batches ---------------------------------------------------------------------------------------
def batch_settled(batch: Batch, results: str) -> None:
    """A batch whose end is news ended: `results` "kept" (ingested), "unavailable" (past the 29 days) or
    "gone" (deleted in the API before its results were kept). batch.ended, and batch.errors_high if over."""
    if not batch.notify_end:
        return  # part of the history the workspace had when it was connected
    data = _ended_data(batch, results)
    url = link(reverse("batch_detail", args=[batch.pk]))
    common = {"workspace_id": batch.workspace_id, "batch_id": batch.pk, "url": url}
    emit(EventKind.BATCH_ENDED, f"batch.ended:{batch.pk}", data=data, occurred_at=batch.ended_at, **common)
    share = Decimal(data["errored_share"])
    if share > lowest_errors_threshold():
        data = {**data, "threshold": _num(NotifyThresholds.current().errors_high_share)}
        emit(EventKind.BATCH_ERRORS_HIGH, f"batch.errors_high:{batch.pk}", data=data, **common)


def prices_missing(batch: Batch) -> None:
    """price.missing for each model of the batch that has no price: once per model, ever (its key)."""
    prices_missing_many([batch])


def prices_missing_many(batches: list[Batch]) -> None:
    """`prices_missing` of each batch, read by one query."""
    by_id = {batch.pk: batch for batch in batches}
    rows = (
        UsageRollup.objects.filter(batch__in=list(by_id), cost__isnull=True)
        .values("batch_id", "model").annotate(n=Sum("requests")).order_by("batch_id", "model")
    )  # fmt: skip
    for row in rows:
        batch, model = by_id[row["batch_id"]], row["model"]
        add = link(reverse("admin:batches_price_add")) + "?" + urlencode({"family": model})
        day = batch.ended_at.date().isoformat() if batch.ended_at else None
        data = {"model": model, "unpriced_requests": row["n"], "day": day, "add_price_url": add}
        emit(EventKind.PRICE_MISSING, f"price.missing:{model}"[:200], workspace_id=batch.workspace_id,
             batch_id=batch.pk, data=data, url=link(reverse("batch_detail", args=[batch.pk])))  # fmt: skip


def lowest_errors_threshold() -> Decimal:
    """The global errors threshold, or a channel's own if lower (that channel still wants the event)."""
    own = NotificationChannel.objects.filter(is_active=True, errors_high_share__isnull=False)
    return min([NotifyThresholds.current().errors_high_share, *own.values_list("errors_high_share", flat=True)])


def _ended_data(batch: Batch, results: str) -> dict:
    total = batch.request_total
    share = Decimal(batch.errored_count) / total if total else Decimal(0)
    errors = ErrorCount.objects.filter(batch=batch).order_by("-count", "error_type")[:TOP_ERRORS]
    usage = UsageRollup.objects.filter(batch=batch)
    cost = usage.aggregate(total=Sum("cost"), unpriced=Sum("requests", filter=Q(cost__isnull=True)))
    unpriced_models = sorted(set(usage.filter(cost__isnull=True).values_list("model", flat=True)))
    ended = batch.ended_at
    return {
        "label": batch.label,
        "results": results,
        "request_counts": batch.request_counts,
        "total_requests": total,  # the payload's documented name (docs/notifications.md): receivers read it
        "errored_share": str(round(share, 4)),
        "top_errors": [{"error_type": e.error_type, "count": e.count} for e in errors],
        # Of request_counts.succeeded, the answers cut off, paused or refused (models.INCOMPLETE), by stop reason.
        "incomplete": batch.incomplete_count,
        "incomplete_by_stop_reason": _incomplete_by_stop_reason(batch),
        "cost_usd": None if cost["total"] is None else str(round(cost["total"], 4)),
        "unpriced_requests": cost["unpriced"] or 0,
        "unpriced_models": unpriced_models,  # not in cost_usd: no price (a price.missing was sent for each)
        "created_at": batch.created_at.isoformat(),
        "ended_at": ended.isoformat() if ended else None,
        "duration_seconds": int((ended - batch.created_at).total_seconds()) if ended else None,
        "submitted_by": batch.submitted_by.get_username() if batch.submitted_by_id else None,
    }


def _incomplete_by_stop_reason(batch: Batch) -> dict[str, int]:
    if not batch.incomplete_count:
        return {}
    by_reason: dict[str, int] = {}
    for stop_reason, count in IncompleteCount.objects.filter(batch=batch).values_list("stop_reason", "count"):
        by_reason[stop_reason] = by_reason.get(stop_reason, 0) + count
    return dict(sorted(by_reason.items()))


def batch_expiring(batch: Batch, hours: Decimal) -> bool:
    data = {"label": batch.label, "expires_at": batch.expires_at.isoformat(), "hours_before": _num(hours),
            "request_counts": batch.request_counts, "created_at": batch.created_at.isoformat()}  # fmt: skip
    return bool(emit(EventKind.BATCH_EXPIRING, f"batch.expiring:{batch.pk}", workspace_id=batch.workspace_id,
         batch_id=batch.pk, data=data, url=link(reverse("batch_detail", args=[batch.pk]))))  # fmt: skip


def results_at_risk(batch: Batch) -> bool:
    data = {
        "label": batch.label, "results_available_until": batch.results_available_until.isoformat(),
        "ingest_failures": batch.ingest_failures, "ingest_error_type": batch.ingest_error_type,
        "ingest_error": batch.ingest_error[:500], "total_requests": batch.request_total,
    }  # fmt: skip
    return bool(emit(EventKind.RESULTS_AT_RISK, f"results.at_risk:{batch.pk}", workspace_id=batch.workspace_id,
                     batch_id=batch.pk, data=data, url=link(reverse("batch_detail", args=[batch.pk]))))  # fmt: skip


# --- sync health -----------------------------------------------------------------------------------
def _episode(workspace: Workspace) -> str:
    return f"{workspace.pk}:{workspace.failing_since.isoformat()}"


def sync_failing(workspace: Workspace, now: datetime | None = None) -> bool:
    """sync.failing once per failing episode (keyed on failing_since), once it has lasted long enough."""
    if workspace.failing_since is None:
        return False
    minutes = NotifyThresholds.current().sync_failing_minutes
    if (now or timezone.now()) - workspace.failing_since <= timedelta(minutes=float(minutes)):
        return False
    data = {"failing_since": workspace.failing_since.isoformat(), "error_type": workspace.last_error_type,
            "message": workspace.last_error_message[:500], "consecutive_failures": workspace.consecutive_failures,
            "minutes": _num(minutes)}  # fmt: skip
    return bool(emit(EventKind.SYNC_FAILING, f"sync.failing:{_episode(workspace)}", workspace_id=workspace.pk,
                     data=data, url=link(reverse("batch_list"), workspace=workspace.name)))  # fmt: skip


def sync_recovered(workspace: Workspace, now: datetime) -> None:
    """`workspace` as it was before the success cleared it: sync.recovered if its episode was announced."""
    if workspace.failing_since is None:
        return
    episode = _episode(workspace)
    if not NotificationEvent.objects.filter(dedupe_key=f"sync.failing:{episode}").exists():
        return  # a blip shorter than the threshold: nobody was told it failed
    data = {"failing_since": workspace.failing_since.isoformat(), "recovered_at": now.isoformat(),
            "failed_for_seconds": int((now - workspace.failing_since).total_seconds()),
            "last_error_type": workspace.last_error_type}  # fmt: skip
    emit(EventKind.SYNC_RECOVERED, f"sync.recovered:{episode}", workspace_id=workspace.pk, data=data,
         url=link(reverse("batch_list"), workspace=workspace.name), occurred_at=now)  # fmt: skip


# --- submissions and budgets -----------------------------------------------------------------------
def submission_failed(submission: Submission, part: SubmissionPart, error: str) -> None:
    data = {"submission": submission.pk, "part": part.index, "parts": submission.parts.count(),
            "requests": part.request_count, "label": submission.label, "kind": submission.kind, "error": error[:1000],
            "submitted_by": submission.created_by.get_username() if submission.created_by_id else None}  # fmt: skip
    emit(EventKind.SUBMISSION_FAILED, f"submission.failed:{part.pk}", workspace_id=submission.workspace_id,
         data=data, url=link(reverse("submission_detail", args=[submission.pk])))  # fmt: skip


def budgets_crossed(*, workspace_id: int | None = None, now: datetime | None = None) -> int:
    """budget.warning and budget.exceeded for each budget this month's spend has reached: once per month each."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    spends = budgets.month_spend(today, workspace_id=workspace_id)
    # Read only when a budget is there to compare: this runs as every batch's results are kept.
    warning_share = NotifyThresholds.current().budget_warning_share if spends else Decimal(1)
    written = 0
    for spend in spends:
        levels = [(EventKind.BUDGET_WARNING, warning_share), (EventKind.BUDGET_EXCEEDED, Decimal(1))]
        for kind, share in levels:
            if spend.used < share:
                continue
            data = {"month": f"{today:%Y-%m}", "budget_usd": str(spend.amount), "spent_usd": str(round(spend.spent, 2)),
                    "used": str(round(spend.used, 4)), "level": _num(share)}  # fmt: skip
            url = link(reverse("spend_report"), workspace=spend.workspace)
            written += bool(emit(kind, f"{kind}:{spend.workspace_id}:{today:%Y-%m}", workspace_id=spend.workspace_id,
                                 data=data, url=url))  # fmt: skip
    return written
