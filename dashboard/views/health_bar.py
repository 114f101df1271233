"""The sync-health bar that every open page polls."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard import polling
from dashboard.access import HtmxHttpRequest


@require_GET
@login_required
@polling.conditional(polling.health_versions)
def health(request: HtmxHttpRequest) -> HttpResponse:
    """Only the bar: its data come from the `health` context processor. Every open tab polls it after each of
    its other polls, so it is half of what a watching team asks: an unchanged bar is answered 304 as the other
    polls are (polling.health_versions says what changes it), with no query when the cache is shared. Shown to
    anyone logged in, as every page's bar is; no permission check, which would cost two queries more."""
    return render(request, "_health.html")
