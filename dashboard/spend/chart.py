"""The spend report's chart: cost per period, stacked by group, drawn by dashboard/charts.py."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dashboard import charts
from dashboard.spend.figures import Spend
from dashboard.spend.formatting import money, period_label

MAX_BARS = 366  # a longer range charts only the periods that have usage


def period_starts(period: str, first: date, last: date) -> list[date]:
    """Every period from the one holding `first` to the one holding `last` (at most MAX_BARS + 1)."""
    start = {"day": first, "week": first - timedelta(days=first.weekday()), "month": first.replace(day=1)}[period]
    starts = []
    while start <= last and len(starts) <= MAX_BARS:
        starts.append(start)
        if period == "month":
            start = (start + timedelta(days=32)).replace(day=1)
        else:
            start += timedelta(days=7 if period == "week" else 1)
    return starts


def spend_chart(data: dict[str, Any], grouped: list[tuple[date, str, Spend]], heading: str) -> charts.BarChart | None:
    """Cost per period, stacked by group: the six largest groups and the rest as one."""
    period = data["period"]
    starts = period_starts(period, data["from"], data["to"])
    if len(starts) > MAX_BARS:
        starts = sorted({start for start, _, _ in grouped})
    index = {start: i for i, start in enumerate(starts)}
    values: dict[str, list[Decimal]] = {}
    for start, label, spend in grouped:
        if spend.cost is not None:
            values.setdefault(label, [Decimal(0)] * len(starts))[index[start]] += spend.cost
    series = charts.top_series(values)
    total = sum((sum(v) for _, v in series), Decimal(0))
    unpriced = sum(spend.unpriced for _, _, spend in grouped)
    by = f" by {heading.lower()}" if heading else ""
    summary = f"{money(total)} in all{by}, {len(values)} group{'s' if len(values) != 1 else ''}."
    if unpriced:
        summary += f" {unpriced:,} unpriced request{'s' if unpriced != 1 else ''} not shown."
    return charts.stacked_bars(
        [(_axis_label(period, s), period_label(period, s)) for s in starts],
        series,
        value_label=money,
        title=f"Batch cost per {period}{by}, {data['from']} to {data['to']}",
        summary=summary,
        x_label=period.capitalize(),
        y_label="Cost (USD)",
    )


def _axis_label(period: str, start: date) -> str:
    return f"{start:%b %Y}" if period == "month" else f"{start:%b} {start.day}"
