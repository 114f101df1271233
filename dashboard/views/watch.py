"""Watching a batch: this browser shows a notification when it ends, on whichever page is open."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboard.access import HtmxHttpRequest, batch_or_404, can_view
from dashboard.context_processors import WATCHED

WATCH_LIMIT = 50


@require_POST
@can_view
def batch_watch(request: HtmxHttpRequest, batch_id: str) -> HttpResponse:
    """Watch a batch (this browser is told when it ends) or stop. Kept in the session: it is this browser's
    notification, and a page that watches nothing costs no query for it."""
    batch = batch_or_404(request, batch_id)
    watched = [i for i in request.session.get(WATCHED, []) if i != batch.pk]
    if request.POST.get("watch") == "on":
        watched = [batch.pk, *watched][:WATCH_LIMIT]
    request.session[WATCHED] = watched
    if request.htmx:
        return render(request, "notify/_watch.html#button", {"batch": batch})
    return redirect("batch_detail", batch.pk)
