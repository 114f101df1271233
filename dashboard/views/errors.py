"""Errors across batches: by error type, then workspace and batch, from the ingest's rollup."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import HtmxHttpRequest, can_view
from dashboard.queries import TOP_BATCHES, error_groups


@require_GET
@can_view
def errors_overview(request: HtmxHttpRequest) -> HttpResponse:
    workspace = request.GET.get("workspace", "")
    context = {"groups": error_groups(workspace), "workspace": workspace, "top_n": TOP_BATCHES}
    return render(request, "errors.html", context)
