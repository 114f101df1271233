"""Local batch costs beside Anthropic's Cost Report for the batch service tier, per day and model.

Anthropic's report is the authority (the invoice follows it). A drift over 1% is flagged: usually a
price in the local table that is wrong or out of date, or results not ingested yet. Cost data lags
on Anthropic's side, so the latest day often differs until it settles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from batches import client
from batches.errors import APIError
from batches.models import CostReportFetch, Credentials, ReportedCost, UsageRollup
from batches.services.pricing import PriceBook

DRIFT_THRESHOLD = Decimal("0.01")


def admin_credentials() -> Credentials | None:
    key = settings.ANTHROPIC_ADMIN_API_KEY.strip()
    if not key:
        return None
    return Credentials(api_key=key, base_url=settings.ANTHROPIC_ADMIN_BASE_URL or settings.ANTHROPIC_BASE_URL or None)


def fetch(days: int = 31) -> CostReportFetch | None:
    """Fetch the last `days` days of the Cost Report and keep it. Idempotent: the range is replaced."""
    creds = admin_credentials()
    if creds is None:
        return None
    end = timezone.now().date() + timedelta(days=1)
    start = end - timedelta(days=days)
    try:
        rows = client.cost_report(creds, start, end)
    except APIError as exc:
        return CostReportFetch.objects.create(at=timezone.now(), ok=False, error=str(exc)[:2000])
    totals: dict[tuple[date, str], list] = {}
    for row in rows:
        entry = totals.setdefault((row.day, row.model), [Decimal(0), 0])
        entry[0] += row.amount
        entry[1] += row.requests or 0
    now = timezone.now()
    with transaction.atomic():
        ReportedCost.objects.filter(day__gte=start, day__lt=end).delete()
        ReportedCost.objects.bulk_create([
            ReportedCost(day=day, model=model, amount=amount, requests=requests, fetched_at=now)
            for (day, model), (amount, requests) in totals.items()
        ])  # fmt: skip
        return CostReportFetch.objects.create(at=now, ok=True, rows=len(totals))


@dataclass
class Line:
    day: date
    model: str
    local: Decimal | None  # None: nothing local (or only unpriced usage)
    reported: Decimal | None
    unpriced_requests: int = 0

    @property
    def difference(self) -> Decimal:
        return (self.local or Decimal(0)) - (self.reported or Decimal(0))

    @property
    def drift(self) -> Decimal | None:
        """The difference as a share of the reported cost (None when Anthropic reports nothing)."""
        if not self.reported:
            return None
        return self.difference / self.reported

    @property
    def drift_percent(self) -> str:
        return "—" if self.drift is None else f"{self.drift * 100:+.2f}%"

    @property
    def flagged(self) -> bool:
        if self.unpriced_requests:
            return True
        if self.drift is None:
            return bool(self.local)
        return abs(self.drift) > DRIFT_THRESHOLD


def compare(start: date, end: date) -> list[Line]:
    """One line per (day, model family) seen on either side in [start, end), oldest first.

    Results name dated models ("claude-sonnet-4-5-20250929") and the Cost Report may name the
    family ("claude-sonnet-4-5"): both sides are keyed by the price family a model resolves to.
    """
    book = PriceBook()
    local = (
        UsageRollup.objects.filter(day__gte=start, day__lt=end)
        .values("day", "model")
        .annotate(total=Sum("cost"), unpriced=Sum("requests", filter=Q(cost=None)))
        .order_by()
    )
    lines: dict[tuple[date, str], Line] = {}
    for row in local:
        line = _line(lines, row["day"], _family(book, row["model"], row["day"]))
        if row["total"] is not None:
            line.local = (line.local or Decimal(0)) + row["total"]
        line.unpriced_requests += row["unpriced"] or 0
    for reported in ReportedCost.objects.filter(day__gte=start, day__lt=end):
        line = _line(lines, reported.day, _family(book, reported.model, reported.day))
        line.reported = (line.reported or Decimal(0)) + reported.amount
    return sorted(lines.values(), key=lambda line: (line.day, line.model))


def _line(lines: dict[tuple[date, str], Line], day: date, model: str) -> Line:
    return lines.setdefault((day, model), Line(day, model, None, None))


def _family(book: PriceBook, model: str, day: date) -> str:
    return book.family(model) or model
