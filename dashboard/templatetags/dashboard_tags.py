from __future__ import annotations

from django import template
from django.utils import timezone

from batches.models import RESULTS_EXPIRING_SOON, Batch

register = template.Library()

SEGMENTS = ("succeeded", "errored", "canceled", "expired", "processing")


@register.simple_tag
def progress_segments(batch: Batch) -> list[dict]:
    """Widths (percent) of the progress bar's segments, one per request count."""
    total = batch.total_requests or 1
    counts = batch.request_counts
    return [{"name": name, "count": counts[name], "pct": round(100 * counts[name] / total, 2)} for name in SEGMENTS]


@register.simple_tag
def retention(batch: Batch) -> dict:
    """Countdown to the 29-day results limit: `expired` after it, `soon` within 3 days of it."""
    until = batch.results_available_until
    left = until - timezone.now()
    if batch.results_expired():
        return {"state": "expired", "label": "expired", "until": until}
    state = "soon" if left <= RESULTS_EXPIRING_SOON else "ok"
    days, hours = left.days, left.seconds // 3600
    label = f"{days} d {hours} h left" if days else f"{hours} h {left.seconds % 3600 // 60} min left"
    return {"state": state, "label": label, "until": until}


@register.filter
def percent(fraction: float) -> str:
    """0.754 -> "75%"; a batch with requests left never shows 100%."""
    value = fraction * 100
    return f"{int(value)}%" if value < 100 else "100%"
