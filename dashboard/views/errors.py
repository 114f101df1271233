"""Errors across batches: by error type, then workspace and batch, from the ingest's rollup."""

from __future__ import annotations

from django.db.models import Count, F, Sum, Window
from django.db.models.functions import RowNumber
from django.shortcuts import render
from django.views.decorators.http import require_GET

from batches.models import ErrorCount
from dashboard.access import can_view

TOP_BATCHES = 10

# What can be sent again as it is, and what needs the request fixed first (API docs).
FIX_FIRST = {"invalid_request_error", "malformed_line"}


@require_GET
@can_view
def errors_overview(request):
    counts = ErrorCount.objects.all()
    workspace = request.GET.get("workspace", "")
    if workspace:
        counts = counts.filter(batch__workspace__name=workspace)
    totals = list(counts.values("error_type").annotate(total=Sum("count"), batches=Count("batch")).order_by("-total"))
    by_workspace = counts.values("error_type", "batch__workspace__name").annotate(total=Sum("count")).order_by("-total")
    # The few batches with most errors of each type, in one query whatever the number of types.
    top = (
        counts.select_related("batch__workspace")
        .annotate(rank=Window(RowNumber(), partition_by=F("error_type"), order_by=[F("count").desc(), F("batch_id")]))
        .filter(rank__lte=TOP_BATCHES)
        .order_by("error_type", "rank")
    )
    groups = {row["error_type"]: {**row, "fix_first": row["error_type"] in FIX_FIRST, "workspaces": [], "top": []}
              for row in totals}  # fmt: skip
    for row in by_workspace:
        groups[row["error_type"]]["workspaces"].append(row)
    for error_count in top:
        groups[error_count.error_type]["top"].append(error_count)
    context = {"groups": list(groups.values()), "workspace": workspace, "top_n": TOP_BATCHES}
    return render(request, "errors.html", context)
