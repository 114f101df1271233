"""Times as pages show them: a relative phrase that the browser keeps aging (static/dashboard/live.js), and the
absolute time, 24-hour with its zone, beside it or on hover. One wording for every page and the health bar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone


def relative(when: datetime, now: datetime | None = None) -> str:
    """ "just now", "45 s ago", "12 min ago", "3 h ago", "2 d ago"; "in 5 min" for a time ahead.
    static/dashboard/live.js words it the same way when it ages the phrase in the page."""
    seconds = int(((now or timezone.now()) - when).total_seconds())
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 5:
        return "just now"
    if seconds < 60:
        amount = f"{seconds} s"
    elif seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 86400:
        amount = f"{seconds // 3600} h"
    else:
        amount = f"{seconds // 86400} d"
    return f"in {amount}" if ahead else f"{amount} ago"


def absolute(when: datetime) -> str:
    """ "2026-12-04 17:05 UTC": 24-hour, in the zone in force (the browser's, see middleware), named."""
    local = timezone.localtime(when)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@dataclass(frozen=True)
class When:
    iso: str  # for <time datetime> and for live.js to age from
    relative: str
    absolute: str


def when(moment: datetime | None, now: datetime | None = None) -> When | None:
    if moment is None:
        return None
    return When(moment.isoformat(), relative(moment, now), absolute(moment))
