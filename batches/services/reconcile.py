"""Local batch costs beside Anthropic's Cost Report for the batch service tier, per day and model.

Anthropic's report is the authority (the invoice follows it). A drift over 1% is flagged: usually a
price in the local table that is wrong or out of date, or results not ingested yet. Cost data lags
on Anthropic's side, so the latest day often differs until it settles.

A flagged line names the rule that drifts: both sides are split the same way (inference_geo, context
window, token type or web-search fee: the Cost Report's own breakdown, fetched beside the totals), and
the part with the largest difference is named ("cache reads, US-only inference: ours $x, Anthropic's $y").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from batches import client
from batches.errors import APIError
from batches.models import CostReportFetch, Credentials, ReportedCost, ReportedCostPart, UsageRollup
from batches.services.pricing import PriceBook, PriceKey, cost_parts
from batches.services.pricing.rollup import rollup_tokens
from batches.services.pricing.rules import LONG, TOKEN_TYPES, WEB_SEARCH

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
    try:  # the breakdown only explains a drift: the totals stand without it
        parts = client.cost_report_parts(creds, start, end)
    except APIError:
        parts = None
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
        if parts is not None:
            ReportedCostPart.objects.filter(day__gte=start, day__lt=end).delete()
            merged: dict[tuple, Decimal] = {}
            for p in parts:
                k = (p.day, p.model, p.inference_geo, p.context_window, p.part)
                merged[k] = merged.get(k, Decimal(0)) + p.amount
            ReportedCostPart.objects.bulk_create([
                ReportedCostPart(day=d, model=m, inference_geo=g, context_window=w, part=part, amount=a, fetched_at=now)
                for (d, m, g, w, part), a in merged.items()
            ])  # fmt: skip
        return CostReportFetch.objects.create(at=now, ok=True, rows=len(totals))


@dataclass
class Line:
    day: date
    model: str
    local: Decimal | None  # None: nothing local (or only unpriced usage)
    reported: Decimal | None
    unpriced_requests: int = 0
    rule: str = ""  # which part drifts most, when the line is flagged and the breakdown says
    # Whether Anthropic's report has ever been fetched: before that, a local cost with nothing beside it is
    # not a drift, only nothing to compare with yet.
    report_fetched: bool = True
    # The day was not over when Anthropic's report was last fetched: its figure is part of a day, never a drift.
    partial: bool = False

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
        if self.partial:
            return False
        if self.drift is None:
            return bool(self.local) and self.report_fetched
        return abs(self.drift) > DRIFT_THRESHOLD


def compare(start: date, end: date, *, report_fetched: bool = True, reported_at: datetime | None = None) -> list[Line]:
    """One line per (day, model family) seen on either side in [start, end), oldest first. `reported_at`: when the
    report was last fetched; a UTC day not over by then is partial on Anthropic's side (today's, usually).

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
    for line in lines.values():
        line.report_fetched = report_fetched
        if reported_at is not None:
            line.partial = datetime.combine(line.day + timedelta(days=1), time.min, tzinfo=UTC) > reported_at
            if line.partial:
                line.rule = (
                    f"the day was not over when Anthropic's report was fetched ({reported_at:%Y-%m-%d %H:%M} UTC)"
                )
    flagged = [line for line in lines.values() if line.flagged and line.reported is not None]
    if flagged:
        _name_rules(book, flagged)
    return sorted(lines.values(), key=lambda line: (line.day, line.model))


# --- which rule drifts ---------------------------------------------------------------------------------
PART_NAMES = {token_type: field for field, token_type in TOKEN_TYPES}
PART_WORDS = {
    "input": "input tokens", "output": "output tokens", "cache_write_5m": "5-minute cache writes",
    "cache_write_1h": "1-hour cache writes", "cache_read": "cache reads", WEB_SEARCH: "web-search fees",
}  # fmt: skip
LONG_WINDOW, SHORT_WINDOW = "200k-1M", "0-200k"


def _name_rules(book: PriceBook, lines: list[Line]) -> None:
    days = {line.day for line in lines}
    keys = {(line.day, line.model) for line in lines}
    local: dict[tuple, dict[tuple, Decimal]] = {}
    for row in UsageRollup.objects.filter(day__in=days, cost__isnull=False).select_related("price"):
        fam = _family(book, row.model, row.day)
        if (row.day, fam) not in keys or row.price is None:
            continue
        key = PriceKey(row.prompt_band, row.inference_geo, row.speed)
        geo = "us" if row.inference_geo == "us" else "global"
        window = LONG_WINDOW if row.prompt_band == LONG else SHORT_WINDOW
        acc = local.setdefault((row.day, fam), {})
        for part, amount in (cost_parts(rollup_tokens(row), row.price, key) or {}).items():
            if amount:
                acc[(geo, window, part)] = acc.get((geo, window, part), Decimal(0)) + amount
    reported: dict[tuple, dict[tuple, Decimal]] = {}
    for part in ReportedCostPart.objects.filter(day__in=days):
        fam = _family(book, part.model, part.day)
        if (part.day, fam) in keys:
            acc = reported.setdefault((part.day, fam), {})
            k = (part.inference_geo or "global", part.context_window or SHORT_WINDOW, part.part)
            acc[k] = acc.get(k, Decimal(0)) + part.amount
    for line in lines:
        ours, theirs = local.get((line.day, line.model), {}), reported.get((line.day, line.model))
        if not theirs:
            continue  # no breakdown fetched for it
        worst = max(set(ours) | set(theirs), key=lambda k: abs(ours.get(k, 0) - theirs.get(k, 0)))
        line.rule = _describe(worst, ours.get(worst, Decimal(0)), theirs.get(worst, Decimal(0)))


def _describe(part_key: tuple[str, str, str], ours: Decimal, theirs: Decimal) -> str:
    geo, window, part = part_key
    what = PART_WORDS.get(PART_NAMES.get(part, part), part.replace("_", " "))
    where = [w for w, on in (("US-only inference", geo == "us"), ("long-context rates", window == LONG_WINDOW)) if on]
    return f"{what}{' (' + ', '.join(where) + ')' if where else ''}: ours ${ours:.2f}, Anthropic's ${theirs:.2f}"


def _line(lines: dict[tuple[date, str], Line], day: date, model: str) -> Line:
    return lines.setdefault((day, model), Line(day, model, None, None))


def _family(book: PriceBook, model: str, day: date) -> str:
    return book.family(model) or model
