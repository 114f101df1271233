"""Actions over many batches at once: cancel the running ones, retry the retryable failed items.

The caller has already re-run the selection on the server and capped it; each batch goes through the
same service as a single one would (its own audit event, its own outcome), and the whole action is
audited once with its count.
"""

from __future__ import annotations

from collections import Counter
from itertools import groupby

from batches.models import Batch, Result
from batches.services import actions, audit, retry
from batches.services.submit import Made
from batches.triage import retry_as_is_q


def cancel_many(batch_ids: list[str], user) -> Counter:
    """Cancel each batch still in progress (API calls: the worker runs this). How many were canceled, were
    already ending, or failed."""
    outcomes: Counter = Counter()
    for batch in Batch.objects.filter(pk__in=batch_ids).select_related("workspace").order_by("created_at"):
        if batch.processing_status != Batch.Status.IN_PROGRESS:
            outcomes["not running"] += 1
            continue
        outcomes["canceled" if actions.cancel_batch(batch, user).ok else "failed"] += 1
    return outcomes


def retry_preview(batch_ids: list[str]) -> retry.RetryPlan:
    """What retry_many would do with these batches, for the confirmation to say before anything is sent: how
    many items go, and how many cannot because their inputs were never kept (or were retried already)."""
    return retry.plan(Result.objects.filter(batch_id__in=batch_ids).filter(retry_as_is_q()))


def retry_many(batch_ids: list[str], user) -> list[Made]:
    """One child batch per workspace for the items of these batches that can be sent again as they are."""
    results = Result.objects.filter(batch_id__in=batch_ids).filter(retry_as_is_q())
    workspace_ids = (
        Batch.objects.filter(pk__in=batch_ids).order_by("workspace_id").values_list("workspace_id", flat=True)
    )
    made = []
    for workspace_id, _ in groupby(workspace_ids):
        plan = retry.plan(results.filter(batch__workspace_id=workspace_id))
        if plan.ready:
            made.append(retry.create(plan, user, overrides={}, edits={}, include_needs_fix=False))
    return made


def record(user, action: str, batch_ids: list[str], *, query: str) -> None:
    """The bulk action itself, once, with its count (each batch's own events are written as it is done)."""
    audit.record(user, action, f"{len(batch_ids)} batches", params={
        "bulk": True, "count": len(batch_ids), "filter": query, "batches": batch_ids[:20],
    })  # fmt: skip
