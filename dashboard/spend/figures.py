"""Usage summed from rollup rows: requests, tokens, costs at batch and standard prices, unpriced."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, Sum

from batches.models import UsageRollup
from batches.services.pricing import Cost
from dashboard.spend.formatting import Cell, cents, fine_money, money, percent_value, share

# Named apart from the model's fields ("requests", "cost"), which an annotation may not shadow.
SUMS = {
    # A call billed apart (usage.iterations: an advisor's) adds cost and tokens, not requests: counted once.
    "sum_requests": Sum("requests", filter=Q(iteration="")),
    "sum_input": Sum("input_tokens"),
    "sum_output": Sum("output_tokens"),
    "sum_cache_writes": Sum(F("cache_write_5m_tokens") + F("cache_write_1h_tokens")),
    "sum_cache_reads": Sum("cache_read_tokens"),
    # Sum skips nulls: an all-unpriced group sums to None, shown as "unpriced", never $0.
    "sum_cost": Sum("cost"),
    "sum_standard": Sum("standard_cost"),
    "sum_uncached": Sum("uncached_cost"),
    "sum_unpriced": Sum("requests", filter=Q(cost__isnull=True)),
}
# The same figures from the daily sums (DailyUsage), which count requests and unpriced requests already.
DAILY_SUMS = {
    "sum_requests": Sum("requests"),
    "sum_input": Sum("input_tokens"),
    "sum_output": Sum("output_tokens"),
    "sum_cache_writes": Sum("cache_write_tokens"),
    "sum_cache_reads": Sum("cache_read_tokens"),
    "sum_cost": Sum("cost"),
    "sum_standard": Sum("standard_cost"),
    "sum_uncached": Sum("uncached_cost"),
    "sum_unpriced": Sum("unpriced"),
}
COUNTS = ("requests", "input", "output", "cache_writes", "cache_reads", "unpriced")


def _plus(total: Decimal | None, value: Decimal | None) -> Decimal | None:
    return total if value is None else (value if total is None else total + value)


@dataclass
class Spend:
    """Usage summed over rollup rows. Costs stay None while nothing in them is priced."""

    requests: int = 0
    input: int = 0
    output: int = 0
    cache_writes: int = 0
    cache_reads: int = 0
    cost: Decimal | None = None
    standard: Decimal | None = None
    uncached: Decimal | None = None
    unpriced: int = 0
    unpriced_models: list[str] = field(default_factory=list)
    fine: bool = False  # one item: show fractions of a cent

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> Spend:
        spend = cls()
        for row in rows:
            spend.add(row)
        return spend

    @classmethod
    def of_item(cls, cost: Cost | None) -> Spend:
        if cost is None:
            return cls(requests=1, unpriced=1, fine=True)
        return cls(requests=1, cost=cost.cost, standard=cost.standard, uncached=cost.uncached, fine=True)

    def add(self, row: dict[str, Any]) -> None:
        """Add one row of SUMS (and its "model", if grouped by model)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + (row[f"sum_{name}"] or 0))
        for name in ("cost", "standard", "uncached"):
            setattr(self, name, _plus(getattr(self, name), row[f"sum_{name}"]))
        if row["sum_unpriced"] and "model" in row:
            self.unpriced_models.append(row["model"])

    def merge(self, other: Spend) -> None:
        """Add another sum's figures: Decimals summed exactly, rounded only when shown."""
        self.add({f"sum_{name}": getattr(other, name) for name in (*COUNTS, "cost", "standard", "uncached")})

    def _money(self, value: Decimal | None) -> str:
        if value is None:
            return "unpriced" if self.unpriced else "—"
        return fine_money(value) if self.fine else money(value)

    @property
    def cost_text(self) -> str:
        return self._money(self.cost)

    @property
    def standard_text(self) -> str:
        return self._money(self.standard)

    @property
    def saved_text(self) -> str:
        """What batch prices saved against standard prices."""
        if self.cost is None or self.standard is None:
            return "—"
        return self._money(self.standard - self.cost)

    @property
    def caching_text(self) -> str:
        """The share of the batch cost that caching saved: (uncached − cost) / uncached."""
        return "—" if self.cost is None else share(self.uncached - self.cost, self.uncached)

    def cells(self, *labels: str) -> list[Cell]:
        saved = None if self.cost is None or self.standard is None else self.standard - self.cost
        caching = None if self.cost is None else percent_value(self.uncached - self.cost, self.uncached)
        return [
            *(Cell(label, num=False) for label in labels),
            *(
                Cell(f"{n:,}", value=n)
                for n in (self.requests, self.input, self.output, self.cache_writes, self.cache_reads)
            ),  # fmt: skip
            Cell(self.cost_text, flag=self.cost is None and bool(self.unpriced), value=cents(self.cost)),
            Cell(self.standard_text, flag=self.standard is None and bool(self.unpriced), value=cents(self.standard)),
            Cell(self.saved_text, value=cents(saved)),
            Cell(self.caching_text, value=caching),
            Cell(f"{self.unpriced:,}", flag=bool(self.unpriced), value=self.unpriced),
        ]


def spend_of_batches(batch_ids: list[str]) -> dict[str, Spend]:
    """Each batch's spend, in one query: batches without usage yet are missing."""
    rows = UsageRollup.objects.filter(batch_id__in=batch_ids).values("batch_id").annotate(**SUMS).order_by()
    return {row["batch_id"]: Spend.of([row]) for row in rows}


def spend_of_batch(batch_id: str) -> Spend | None:
    """One batch's spend with the models it has no price for, in one query."""
    rows = list(UsageRollup.objects.filter(batch_id=batch_id).values("model").annotate(**SUMS).order_by("model"))
    return Spend.of(rows) if rows else None
