"""Actions on one batch: refresh now (anyone who can read), cancel (Operators)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from batches.services import actions
from batches.services.handoff import enqueue
from batches.tasks import refresh_batch
from dashboard.access import HtmxHttpRequest, batch_or_404, can_view, role_required
from dashboard.outcomes import REFRESH_UNREACHABLE

GIVE_UP_AFTER = timedelta(seconds=60)


@require_http_methods(["GET", "POST"])
@can_view
def batch_refresh(request: HtmxHttpRequest, batch_id: str) -> HttpResponse:
    batch = batch_or_404(request, batch_id)
    if request.method == "POST":
        since, asked = actions.request_refresh(batch)
        # A refresh asked for a moment ago is joined: its answer is what this one would get.
        queued = enqueue(refresh_batch, batch.pk) if asked else True
        if not queued:
            actions.forget_refresh(batch)  # nothing was queued: the next click must ask again, not join it
        if not request.htmx:
            if queued:
                messages.info(request, "Refresh queued: the page shows the result once the worker has run it.")
            else:
                messages.warning(request, REFRESH_UNREACHABLE)
            return redirect("batch_detail", batch.pk)
        if not queued:
            return render(request, "batches/detail.html#refresh", {"batch": batch, "unreachable": REFRESH_UNREACHABLE})
    else:
        since = _parse(request.GET.get("since")) or timezone.now()
    landed = batch.refreshed_at >= since
    context = {
        "batch": batch,
        "since": since,
        "landed": landed,
        "gave_up": not landed and timezone.now() - since > GIVE_UP_AFTER,
    }
    return render(request, "batches/detail.html#refresh", context)


@require_http_methods(["GET", "POST"])
@role_required("cancel_batch")
def batch_cancel(request: HtmxHttpRequest, batch_id: str) -> HttpResponse:
    """GET (or a POST not yet confirmed) asks; a confirmed POST cancels. Works without JavaScript."""
    batch = batch_or_404(request, batch_id, need="cancel_batch")
    if request.method == "GET" or request.POST.get("confirmed") != "yes":
        return render(request, "batches/cancel_confirm.html", {"batch": batch})
    outcome = actions.request_cancel(batch, request.user)
    (messages.success if outcome.ok else messages.warning)(request, outcome.message)
    url = reverse("batch_detail", args=[batch.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _parse(value: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else None
