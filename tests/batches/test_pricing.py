"""Golden costs, worked out by hand to the cent (prices per million tokens, batch = 50% of standard).

Sonnet 4.5 ($3 in / $15 out), dated id, a prompt of exactly 200,000 (not over: the standard band):
  200,000 in + 360,000 out                           standard 0.60 + 5.40 = $6.00  -> batch $3.00
Haiku 4.5 ($1 / $5; 5-min write $1.25, 1-hour write $2, read $0.10):
  500,000 in        0.50
  100,000 out       0.50
  200,000 5-min     0.25
  100,000 1-hour    0.20
  1,000,000 read    0.10                             standard $1.55 -> batch $0.775
  uncached (1.8M input-side at $1 + 0.50 out) = $2.30 -> at batch prices $1.15; caching saved 32.6%
Opus 4.1 ($15 / $75; 5-min write $18.75), only the cache-write total reported (400,000 tokens):
  100,000 in 1.50 + 10,000 out 0.75 + 400,000 as 5-min writes 7.50 = $9.75 -> batch $4.875
An unknown model is unpriced (never $0); errored, canceled and expired results cost nothing.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from batches.models import Price, Result, UsageRollup
from batches.services import pricing
from tests.builders import ENDED, ended_batch, golden_results, stored_result

pytestmark = pytest.mark.django_db


def test_each_item_costs_what_was_worked_out_by_hand():
    batch = ended_batch()
    golden_results(batch)
    cost = {r.custom_id: pricing.item_cost(r) for r in Result.objects.select_related("batch")}
    assert cost["sonnet"].cost == Decimal("3.00") and cost["sonnet"].standard == Decimal("6.00")
    assert cost["haiku"].cost == Decimal("0.775") and cost["haiku"].uncached == Decimal("1.15")
    assert cost["opus"].cost == Decimal("4.875")
    assert cost["unknown"] is None
    assert cost["err"].cost == cost["exp"].cost == Decimal(0)


def test_the_rollup_prices_the_batch_exactly():
    batch = ended_batch()
    golden_results(batch)
    pricing.roll_up(batch)
    rows = {r.model: r for r in UsageRollup.objects.filter(batch=batch)}
    assert set(rows) == {
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
        "claude-opus-4-1-20250805",
        "gpt-4o",
    }
    priced = [r for r in rows.values() if r.cost is not None]
    assert sum(r.cost for r in priced) == Decimal("8.65")  # 3.00 + 0.775 + 4.875
    assert sum(r.standard_cost for r in priced) == Decimal("17.30")  # 6.00 + 1.55 + 9.75
    assert rows["gpt-4o"].cost is None and rows["gpt-4o"].requests == 1
    assert rows["claude-opus-4-1-20250805"].cache_write_5m_tokens == 400_000
    assert sum(r.requests for r in rows.values()) == 4  # errored and expired are not billed


def test_rolling_up_twice_leaves_the_same_rows():
    batch = ended_batch()
    golden_results(batch)
    pricing.roll_up(batch)
    first = sorted(UsageRollup.objects.values_list("model", "cost", "requests"))
    pricing.roll_up(batch)
    assert sorted(UsageRollup.objects.values_list("model", "cost", "requests")) == first


def test_a_price_change_applies_from_its_date_and_reprices_what_it_affects():
    before, after = ended_batch("may31", ENDED), ended_batch("jun1", ENDED + timedelta(days=1))
    for batch in (before, after):
        stored_result(batch, "h", "claude-haiku-4-5", input_tokens=1_000_000, output_tokens=0)
        pricing.roll_up(batch)
    Price.objects.create(family="claude-haiku-4-5", effective_from=date(2026, 6, 1), input=Decimal(2),
                         output=Decimal(10), cache_write_5m=Decimal("2.5"), cache_write_1h=Decimal(4),
                         cache_read=Decimal("0.2"), source="test")  # fmt: skip

    pricing.reprice()

    cost = dict(UsageRollup.objects.values_list("batch_id", "cost"))
    assert cost[before.pk] == Decimal("0.50")  # $1/MTok, halved: last month keeps last month's price
    assert cost[after.pk] == Decimal("1.00")  # $2/MTok from June 1st


def test_a_model_finds_its_family_by_the_explicit_map_never_by_prefix():
    book = pricing.PriceBook()
    assert book.find("claude-sonnet-4-5-20250929", date(2026, 1, 1)).family == "claude-sonnet-4-5"
    assert book.find("claude-sonnet-4-20250514", date(2026, 1, 1)).family == "claude-sonnet-4"
    assert book.find("claude-opus-4-8", date(2026, 12, 1)).input == Decimal(5)  # not claude-opus-4's $15
    assert book.find("claude-sonnet-45", date(2026, 1, 1)) is None
    assert book.find("claude-opus-4-8-20990101", date(2026, 12, 1)) is None  # an unmapped dated id: unpriced
    assert book.find("claude-sonnet-4-5", date(2023, 1, 1)) is None  # before any price was in force


def test_the_seeded_prices_record_their_source():
    assert Price.objects.count() >= 10
    assert all(p.source for p in Price.objects.all())
    haiku = Price.objects.get(family="claude-haiku-4-5")
    assert (haiku.cache_write_5m, haiku.cache_write_1h, haiku.cache_read) == (
        Decimal("1.25"),
        Decimal(2),
        Decimal("0.1"),
    )


def test_roll_up_spend_sums_every_batch_by_day_in_a_fixed_number_of_queries():
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    golden = ended_batch("golden")
    golden_results(golden)
    before, after = ended_batch("may31", ENDED), ended_batch("jun1", ENDED + timedelta(days=1))
    for batch in (before, after):
        stored_result(batch, "h", "claude-haiku-4-5", input_tokens=1_000_000, output_tokens=0)
    # Sonnet 4.5 over 200,000 prompt tokens: the long rates, $6/MTok in, halved for a batch.
    stored_result(after, "long", "claude-sonnet-4-5-20250929", input_tokens=200_001, output_tokens=0)
    Price.objects.create(family="claude-haiku-4-5", effective_from=date(2026, 6, 1), input=Decimal(2),
                         output=Decimal(10), cache_write_5m=Decimal("2.5"), cache_write_1h=Decimal(4),
                         cache_read=Decimal("0.2"), source="test")  # fmt: skip
    UsageRollup.objects.create(  # a row no result holds any more
        batch=before,
        workspace=before.workspace,
        day=date(2026, 5, 31),
        model="gone",
        requests=1,
        input_tokens=1,
        output_tokens=0,
        cache_write_5m_tokens=0,
        cache_write_1h_tokens=0,
        cache_read_tokens=0,
        web_search_requests=0,
    )

    def run() -> int:
        with CaptureQueriesContext(connection) as queries:
            call_command("roll_up_spend", stdout=io.StringIO())
        return len(queries)

    run()
    cost = {(r.batch_id, r.model): r.cost for r in UsageRollup.objects.all()}
    assert sum(c for (b, _), c in cost.items() if b == golden.pk and c is not None) == Decimal("8.65")
    assert cost[before.pk, "claude-haiku-4-5"] == Decimal("0.50")  # $1/MTok on May 31st, halved
    assert cost[after.pk, "claude-haiku-4-5"] == Decimal("1.00")  # $2/MTok from June 1st
    assert cost[after.pk, "claude-sonnet-4-5-20250929"] == Decimal("0.600003")  # 200,001 x $6/MTok / 2
    assert (before.pk, "gone") not in cost
    first = sorted(UsageRollup.objects.values_list("batch_id", "model", "cost", "requests"))
    queries = run()  # with no stale row to delete
    # Three more batches on the days already there: the same queries, however many batches a day holds.
    for name in ("more1", "more2", "more3"):
        stored_result(ended_batch(name, ENDED), "h", "claude-haiku-4-5", input_tokens=1_000_000, output_tokens=0)
    assert run() == queries
    again = sorted(r for r in UsageRollup.objects.values_list("batch_id", "model", "cost", "requests")
                   if not r[0].startswith("msgbatch_more"))  # fmt: skip
    assert again == first  # idempotent
