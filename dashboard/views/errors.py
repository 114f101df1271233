"""Errors across batches: by error type, then workspace and batch, from the ingest's rollup."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import HtmxHttpRequest, can_view, visible_workspace_ids, visible_workspaces
from dashboard.forms import ErrorFilterForm
from dashboard.queries import TOP_BATCHES, error_groups, incomplete_groups
from dashboard.results import INCOMPLETE_WORDING


@require_GET
@can_view
def errors_overview(request: HtmxHttpRequest) -> HttpResponse:
    form = ErrorFilterForm(request.GET, workspaces=visible_workspaces(request))
    data = form.cleaned_data if form.is_valid() else {}
    start, end = form.range() if form.is_valid() else (None, None)
    visible = visible_workspace_ids(request)
    groups = error_groups(data.get("workspace", ""), start, end, visible=visible)
    incomplete = incomplete_groups(data.get("workspace", ""), start, end, visible=visible)
    for group in incomplete:
        group["fix"] = INCOMPLETE_WORDING.get(group["stop_reason"], "")
    context = {
        "form": form, "groups": groups, "incomplete": incomplete, "workspace": data.get("workspace"),
        "top_n": TOP_BATCHES,
        "retry_query": form.retry_query() if form.is_valid() else "",
    }  # fmt: skip
    return render(request, "errors.html", context)
