"""The sync-health bar that every open page polls."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import HtmxHttpRequest


@require_GET
@login_required
def health(request: HtmxHttpRequest) -> HttpResponse:
    """Only the bar: its data come from the `health` context processor. Three queries (session, user,
    workspaces; a fourth only while this browser watches a batch): a hundred open tabs poll it. Shown to anyone
    logged in, as every page's bar is; no permission check, which would cost two queries more."""
    return render(request, "_health.html")
