"""Costs in Decimal, from every usage field, at the prices in force on the day of use.

One formula prices an item, a rollup and a report alike (tokens are summed first; the formula is
linear), so the figures agree with one another to the fraction of a cent:
    standard = (input × in + output × out + 5-min writes × w5 + 1-hour writes × w1 + reads × r) / 10^6
    cost     = standard × batch_factor                       (what the batch is billed)
    uncached = (every input-side token × in + output × out) / 10^6 × batch_factor
Only succeeded results are billed. A usage that reports only `cache_creation_input_tokens`, without
the 5-minute / 1-hour split, is priced as 5-minute writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Sum, When

from batches.models import Batch, Price, Result, UsageRollup, Workspace
from batches.services import versions

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Tokens:
    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0


@dataclass(frozen=True)
class Cost:
    cost: Decimal
    standard: Decimal
    uncached: Decimal


def price_cost(tokens: Tokens, price: Price) -> Cost:
    standard = (
        tokens.input * price.input
        + tokens.output * price.output
        + tokens.cache_write_5m * price.cache_write_5m
        + tokens.cache_write_1h * price.cache_write_1h
        + tokens.cache_read * price.cache_read
    ) / MILLION
    all_input = tokens.input + tokens.cache_write_5m + tokens.cache_write_1h + tokens.cache_read
    uncached = (all_input * price.input + tokens.output * price.output) / MILLION * price.batch_factor
    return Cost(cost=standard * price.batch_factor, standard=standard, uncached=uncached)


class PriceBook:
    """Every price row, loaded once, to look up many (model, day) pairs without a query each."""

    def __init__(self, prices: list[Price] | None = None) -> None:
        rows = prices if prices is not None else list(Price.objects.all())
        # Longest prefix first, then latest date first: the first match is the one in force.
        self.rows = sorted(rows, key=lambda p: (-len(p.model_prefix), p.model_prefix, -p.effective_from.toordinal()))

    def find(self, model: str, day: date) -> Price | None:
        for price in self.rows:
            prefix = price.model_prefix
            if (model == prefix or model.startswith(prefix + "-")) and price.effective_from <= day:
                return price
        return None


def result_tokens(result: Result) -> Tokens:
    return Tokens(
        input=result.input_tokens,
        output=result.output_tokens,
        cache_write_5m=_five_minute(
            result.cache_creation_input_tokens,
            result.cache_creation_5m_input_tokens,
            result.cache_creation_1h_input_tokens,
        ),
        cache_write_1h=result.cache_creation_1h_input_tokens,
        cache_read=result.cache_read_input_tokens,
    )


def _five_minute(total: int, five: int, hour: int) -> int:
    # No split reported: the whole total is priced as 5-minute writes.
    return total if five + hour == 0 else five


def item_cost(result: Result, book: PriceBook | None = None) -> Cost | None:
    """What one result cost (None: its model has no price). Only succeeded results cost anything."""
    if result.result_type != Result.Type.SUCCEEDED:
        return Cost(Decimal(0), Decimal(0), Decimal(0))
    price = (book or PriceBook()).find(result.model, usage_day(result.batch))
    return price_cost(result_tokens(result), price) if price else None


def usage_day(batch: Batch) -> date:
    """The UTC day a batch's usage is billed: the day its processing ended."""
    moment = batch.ended_at or batch.created_at
    return moment.astimezone(UTC).date()


# --- rollups -----------------------------------------------------------------------------------------
def roll_up(batch: Batch, book: PriceBook | None = None) -> None:
    """Replace the batch's usage rows by a fresh sum of its succeeded results: idempotent."""
    five_minute = Case(
        When(cache_creation_5m_input_tokens=0, cache_creation_1h_input_tokens=0, then=F("cache_creation_input_tokens")),
        default=F("cache_creation_5m_input_tokens"),
        output_field=IntegerField(),
    )
    sums = (
        Result.objects.filter(batch=batch, result_type=Result.Type.SUCCEEDED)
        .values("model")
        .annotate(
            requests=Count("id"), input_tokens=Sum("input_tokens"), output_tokens=Sum("output_tokens"),
            cache_write_5m_tokens=Sum(five_minute), cache_write_1h_tokens=Sum("cache_creation_1h_input_tokens"),
            cache_read_tokens=Sum("cache_read_input_tokens"),
        )
        .order_by()
    )  # fmt: skip
    book = book or PriceBook()
    day = usage_day(batch)
    rows = [
        _priced(
            UsageRollup(
                batch=batch, workspace_id=batch.workspace_id, submitter_id=batch.submitted_by_id, day=day, **row
            ),
            book,
        )  # fmt: skip
        for row in sums
    ]
    with transaction.atomic():
        UsageRollup.objects.filter(batch=batch).exclude(model__in=[r.model for r in rows]).delete()
        # An upsert, so two runs finishing the same batch at once agree instead of colliding.
        UsageRollup.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["batch", "model"], update_fields=_ROLLUP_FIELDS
        )


_ROLLUP_FIELDS = [
    "workspace", "submitter", "day", "requests", "input_tokens", "output_tokens", "cache_write_5m_tokens",
    "cache_write_1h_tokens", "cache_read_tokens", "price", "cost", "standard_cost", "uncached_cost",
]  # fmt: skip


def _priced(row: UsageRollup, book: PriceBook) -> UsageRollup:
    price = book.find(row.model, row.day)
    row.price = price
    if price is None:
        row.cost = row.standard_cost = row.uncached_cost = None
        return row
    tokens = Tokens(row.input_tokens, row.output_tokens, row.cache_write_5m_tokens, row.cache_write_1h_tokens,
                    row.cache_read_tokens)  # fmt: skip
    cost = price_cost(tokens, price)
    row.cost, row.standard_cost, row.uncached_cost = cost.cost, cost.standard, cost.uncached
    return row


def reprice() -> int:
    """Price every usage row again with the current price table (after an edit in the admin).

    Rows hold token sums, so this touches thousands of rows, not the millions of results.
    """
    book = PriceBook()
    changed = 0
    rows = UsageRollup.objects.all().order_by("pk")
    for start in range(0, rows.count(), 2000):
        chunk = [_priced(row, book) for row in rows[start : start + 2000]]
        UsageRollup.objects.bulk_update(chunk, ["price", "cost", "standard_cost", "uncached_cost"])
        changed += len(chunk)
    versions.bump_many(Workspace.objects.values_list("pk", flat=True))  # every cost shown may have moved
    return changed
