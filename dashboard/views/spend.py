"""The spend page and its CSV export (Auditors and Admins); the figures come from dashboard/spend/."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from batches.services import audit
from dashboard.access import HtmxHttpRequest, role_required, visible_workspaces
from dashboard.exports import csv_stream
from dashboard.forms import SpendFilterForm
from dashboard.spend.report import build_report


@require_GET
@role_required("view_spend")
def spend_report(request: HtmxHttpRequest) -> HttpResponse:
    form = SpendFilterForm(request.GET, workspaces=visible_workspaces(request, "view_spend"))
    # Budgets come from the `budget_status` context processor: the same query the page header uses.
    context = {"form": form, "report": build_report(form) if form.is_valid() else None}
    template = "spend.html#report" if request.htmx else "spend.html"
    return render(request, template, context)


@require_GET
@role_required("view_spend")
def spend_export(request: HtmxHttpRequest) -> HttpResponse:
    """Exactly the rows and columns the page shows for the same filters, totals last."""
    form = SpendFilterForm(request.GET, workspaces=visible_workspaces(request, "view_spend"))
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain; charset=utf-8")
    report = build_report(form)
    audit.record(request.user, "export", "spend", params=form.params)
    rows = csv_stream(report.csv_header, report.csv_rows())
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    filename = f"spend-{form.params['from']}-to-{form.params['to']}.csv"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
