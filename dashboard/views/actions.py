"""Actions on one batch: refresh now (anyone who can read), cancel (Operators)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from batches import actions
from batches.models import Batch
from batches.tasks import refresh_batch
from dashboard.access import can_view, role_required

GIVE_UP_AFTER = timedelta(seconds=60)


@require_http_methods(["GET", "POST"])
@can_view
def batch_refresh(request, batch_id: str):
    batch = get_object_or_404(Batch.objects.select_related("workspace"), pk=batch_id)
    if request.method == "POST":
        since = timezone.now()
        refresh_batch.delay_on_commit(batch.pk)
        if not request.htmx:
            messages.info(request, "Refresh queued: the page shows the result once the worker has run it.")
            return redirect("batch_detail", batch.pk)
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
def batch_cancel(request, batch_id: str):
    """GET (or a POST not yet confirmed) asks; a confirmed POST cancels. Works without JavaScript."""
    batch = get_object_or_404(Batch.objects.select_related("workspace"), pk=batch_id)
    if request.method == "GET" or request.POST.get("confirmed") != "yes":
        return render(request, "batches/cancel_confirm.html", {"batch": batch})
    outcome = actions.cancel_batch(batch, request.user)
    (messages.success if outcome.ok else messages.warning)(request, outcome.message)
    url = reverse("batch_detail", args=[batch.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _parse(value: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else None
