"""Local costs beside Anthropic's Cost Report, per day and model; drift over 1% highlighted."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from batches.models import CostReportFetch
from batches.services import reconcile
from batches.services.handoff import enqueue
from batches.tasks import fetch_cost_report
from dashboard.access import HtmxHttpRequest, role_required, visible_workspace_ids
from dashboard.forms import RangeForm
from dashboard.outcomes import WORKER_UNREACHABLE


@require_http_methods(["GET", "POST"])
@role_required("view_spend")
def reconciliation(request: HtmxHttpRequest) -> HttpResponse:
    if visible_workspace_ids(request) is not None:
        # Anthropic's Cost Report is the whole organization's: not for someone given some workspaces only.
        raise PermissionDenied(
            "The reconciliation shows the whole organization's costs: it needs access to every workspace."
        )
    if request.method == "POST":
        # Views never call the API: the worker fetches, and this page shows it once it has.
        if enqueue(fetch_cost_report):
            messages.info(request, "Fetching Anthropic's Cost Report: reload in a moment.")
        else:
            messages.warning(request, f"Not fetched. {WORKER_UNREACHABLE} The hourly fetch catches up.")
        return redirect("reconciliation")
    form = RangeForm(request.GET)
    today = timezone.now().date()
    data = form.cleaned_data if form.is_valid() else {}
    end = (data.get("end") or today) + timedelta(days=1)
    start = data.get("start") or end - timedelta(days=31)
    fetched = CostReportFetch.objects.filter(ok=True).values_list("at", flat=True).first()  # the newest
    lines = reconcile.compare(start, end, report_fetched=fetched is not None, reported_at=fetched)
    context = {
        "form": form,
        "lines": lines,
        "flagged": sum(1 for line in lines if line.flagged),
        "configured": reconcile.admin_credentials() is not None,
        "last_fetch": CostReportFetch.objects.first(),
        "threshold": reconcile.DRIFT_THRESHOLD * 100,
    }
    return render(request, "reconcile.html", context)
