from __future__ import annotations

import json
from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from batches.models import RESULTS_EXPIRING_SOON, Batch
from dashboard import times, wording

register = template.Library()

SEGMENTS = ("succeeded", "incomplete", "errored", "canceled", "expired", "processing")


@register.simple_tag
def progress(batch: Batch) -> SafeString:
    """The request counts as a bar and a legend. The bar is SVG geometry, not inline CSS widths, so a strict
    Content Security Policy holds; built here, not by template loops, as it is drawn on every row of the list."""
    total = batch.request_total or 1
    counts = batch.request_counts
    # Incomplete answers (cut off, paused, refused) are succeeded at the API: drawn apart from the whole ones.
    counts["incomplete"] = min(batch.incomplete_count, counts["succeeded"])
    counts["succeeded"] -= counts["incomplete"]
    label = ", ".join(f"{counts[name]:,} {name}" for name in SEGMENTS if name != "incomplete" or counts[name])
    rects, x = [], 0.0
    for name in SEGMENTS:
        if counts[name]:
            width = 100 * counts[name] / total
            rects.append(f'<rect class="seg {name}" x="{x:.2f}" width="{width:.2f}" height="8"></rect>')
            x += width
    legend = "".join(
        f'<span class="count {name}" title="{name}">{counts[name]:,} {name}</span>' for name in SEGMENTS if counts[name]
    )
    return mark_safe(
        f'<svg class="progress" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="{escape(label)}">'
        f'{"".join(rects)}</svg><div class="counts">{legend}</div>'
    )


@register.simple_tag
def bar(percent: float, kind: str, label: str) -> SafeString:
    """One filled share of a bar (a budget's use), CSP-safe like `progress`."""
    width = max(0.0, min(100.0, float(percent)))
    return mark_safe(
        f'<svg class="progress" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="{escape(label)}">'
        f'<rect class="seg {escape(kind)}" x="0" width="{width:.2f}" height="8"></rect></svg>'
    )


@register.simple_tag
def retention(batch: Batch) -> dict:
    """Countdown to the 29-day results limit: `expired` after it, `soon` within 3 days of it."""
    until = batch.results_available_until
    left = until - timezone.now()
    if batch.results_expired():
        return {"state": "expired", "label": "expired", "short": "expired", "until": until}
    state = "soon" if left <= RESULTS_EXPIRING_SOON else "ok"
    days, hours = left.days, left.seconds // 3600
    label = f"{days} d {hours} h left" if days else f"{hours} h {left.seconds % 3600 // 60} min left"
    short = f"{days} d left" if days else label  # the list's narrow column; the exact time on hover
    return {"state": state, "label": label, "short": short, "until": until}


@register.filter
def percent(fraction: float) -> str:
    """0.754 -> "75%"; a batch with requests left never shows 100%."""
    value = fraction * 100
    return f"{int(value)}%" if value < 100 else "100%"


@register.filter
def duration(value) -> str:
    """A timedelta as a person says it: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    if value is None:
        return "—"
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{secs} s"


@register.filter
def counted(n, forms: str) -> str:
    """`{{ n|counted:"batch,batches" }}`: "1 batch", "1,234 batches"; the noun agrees with the number."""
    one, _, many = forms.partition(",")
    return wording.counted(n, one, many or None)


@register.filter
def pairs(params) -> list[tuple[str, str]]:
    """A dict of parameters as (name, value) pairs to show, lists and dicts written as compact JSON.

    Built here, not looked up in the template: `params.items` would read a key named "items".
    """
    if not isinstance(params, dict):
        return []
    return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in params.items()]


@register.simple_tag
def ago(moment) -> SafeString:
    """`{% ago batch.created_at %}`: "12 min ago" that static/dashboard/live.js keeps aging in the page, the
    absolute time with its zone on hover (dashboard/times.py). Accepts a datetime or a times.When."""
    shown = moment if isinstance(moment, times.When) else times.when(moment)
    if shown is None:
        return mark_safe("—")
    return mark_safe(
        f'<time datetime="{escape(shown.iso)}" title="{escape(shown.absolute)}" data-relative>'
        f"{escape(shown.relative)}</time>"
    )
