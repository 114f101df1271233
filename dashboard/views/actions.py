"""Refresh now: enqueue a sync of one batch and show the outcome when it lands."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from batches.models import Batch
from batches.tasks import refresh_batch
from dashboard.access import can_view

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
            return redirect(batch_detail_url(batch))
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


def batch_detail_url(batch: Batch) -> str:
    from django.urls import reverse

    return reverse("batch_detail", args=[batch.pk])


def _parse(value: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else None
