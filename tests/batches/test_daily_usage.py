"""The daily sums the spend report reads (batches/services/pricing/daily.py) stay equal to the usage rows.

By hand (prices as in tests/batches/test_pricing.py): the golden batch costs $8.65 at batch prices over three
priced requests and one unpriced (gpt-4o); a batch of one Haiku 4.5 request of 1,000,000 input tokens costs
$1/MTok halved, $0.50. Both ended on May 31st.
"""

from __future__ import annotations

import importlib
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.models import DailyUsage, Price, UsageRollup
from batches.services import pricing
from batches.services.pricing import daily
from tests.builders import ENDED, ended_batch, golden_results, stored_result

pytestmark = pytest.mark.django_db


def _day_totals() -> dict[date, tuple]:
    totals: dict[date, list] = {}
    for row in DailyUsage.objects.all():
        t = totals.setdefault(row.day, [0, Decimal(0), 0, 0])
        t[0] += row.requests
        t[1] += row.cost or 0
        t[2] += row.unpriced
        t[3] += 1
    return {day: tuple(t) for day, t in totals.items()}


def _haiku_batch(name, ended=ENDED):
    batch = ended_batch(name, ended)
    stored_result(batch, "h", "claude-haiku-4-5", input_tokens=1_000_000, output_tokens=0)
    return batch


def test_rolling_up_keeps_the_days_sums_and_twice_counts_once():
    golden = ended_batch("golden")
    golden_results(golden)
    other = _haiku_batch("haiku")
    for _ in range(2):
        pricing.roll_up(golden)
        pricing.roll_up(other)
    # requests, cost, unpriced requests, rows (one per model: 4 of the golden batch, 1 Haiku 4.5)
    assert _day_totals() == {ENDED.date(): (5, Decimal("9.15"), 1, 5)}
    unpriced = DailyUsage.objects.get(model="gpt-4o")
    assert (unpriced.cost, unpriced.standard_cost, unpriced.requests, unpriced.unpriced) == (None, None, 1, 1)


def test_a_reprice_moves_the_sums_of_the_days_it_reprices_only():
    before, after = _haiku_batch("may31"), _haiku_batch("jun1", ENDED + timedelta(days=1))
    for batch in (before, after):
        pricing.roll_up(batch)
    Price.objects.create(family="claude-haiku-4-5", effective_from=date(2026, 6, 1), input=Decimal(2),
                         output=Decimal(10), cache_write_5m=Decimal("2.5"), cache_write_1h=Decimal(4),
                         cache_read=Decimal("0.2"), source="test")  # fmt: skip
    DailyUsage.objects.filter(day=date(2026, 5, 31)).update(cost=Decimal(7))  # a reprice from June leaves it

    pricing.reprice(since=date(2026, 6, 1))

    assert dict(DailyUsage.objects.values_list("day", "cost")) == {
        date(2026, 5, 31): Decimal(7),
        date(2026, 6, 1): Decimal("1.00"),  # $2/MTok from June 1st, halved
    }


def test_calls_billed_apart_add_cost_not_requests():
    batch = _haiku_batch("b")
    pricing.roll_up(batch)
    row = UsageRollup.objects.get()
    UsageRollup.objects.create(
        batch=batch, workspace_id=batch.workspace_id, model="claude-haiku-4-5", iteration="compaction", day=row.day,
        requests=2, input_tokens=10, output_tokens=0, cache_write_5m_tokens=0, cache_write_1h_tokens=0,
        cache_read_tokens=0, cost=Decimal("0.25"), standard_cost=Decimal("0.50"), uncached_cost=Decimal("0.25"),
    )  # fmt: skip
    UsageRollup.objects.create(
        batch=batch, workspace_id=batch.workspace_id, model="claude-haiku-4-5", iteration="advisor", day=row.day,
        requests=3, input_tokens=0, output_tokens=0, cache_write_5m_tokens=0, cache_write_1h_tokens=0,
        cache_read_tokens=0, cost=None, standard_cost=None, uncached_cost=None,
    )  # fmt: skip
    daily.refresh([row.day])
    summed = DailyUsage.objects.get()
    assert (summed.requests, summed.input_tokens, summed.cost, summed.unpriced) == (1, 1_000_010, Decimal("0.75"), 3)


def test_a_refresh_is_the_same_few_queries_for_any_number_of_days():
    for n in range(5):
        pricing.roll_up(_haiku_batch(f"b{n}", ENDED + timedelta(days=n)))
    with CaptureQueriesContext(connection) as queries:
        daily.refresh(ENDED.date() + timedelta(days=n) for n in range(5))
    # delete the days' sums, insert them again; on PostgreSQL first wait for any other writer of them
    sql = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(sql) == (3 if connection.vendor == "postgresql" else 2), sql
    assert len(_day_totals()) == 5


def test_the_migration_fills_what_a_refresh_writes():
    golden = ended_batch("golden")
    golden_results(golden)
    pricing.roll_up(golden)
    pricing.roll_up(_haiku_batch("jun1", ENDED + timedelta(days=1)))
    fields = ("day", "workspace_id", "submitter_id", "user_profile_id", "model", "requests", "cost", "unpriced")
    written = sorted(DailyUsage.objects.values_list(*fields), key=str)
    DailyUsage.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(importlib.import_module("batches.migrations.0037_daily_usage").FILL)
    assert sorted(DailyUsage.objects.values_list(*fields), key=str) == written and len(written) == 5
