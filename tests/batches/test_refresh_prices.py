"""Refreshing the price table from the price book: the diff first, an Admin's rows kept, history repriced
from the changed date only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from batches.models import Price, UsageRollup
from batches.services import pricing
from tests.builders import ENDED, ended_batch, stored_result

pytestmark = pytest.mark.django_db


def _refresh(*args: str) -> str:
    out = StringIO()
    call_command("refresh_prices", *args, stdout=out)
    return out.getvalue()


def test_the_seeded_table_matches_the_book():
    assert _refresh().strip() == "The price table already matches the price book."


def test_a_changed_row_is_shown_then_applied_and_reprices_from_its_date_only():
    before, after = ended_batch("oct", ENDED.replace(month=10, day=5)), ended_batch("dec", ENDED.replace(month=12))
    for batch in (before, after):
        stored_result(batch, "s", "claude-sonnet-5-5", input_tokens=0, cache_read_input_tokens=1_000_000)
        pricing.roll_up(batch)
    # As if the table still had the old read price after the cut of 2026-10-07 (the book's row says $0.10).
    Price.objects.filter(family="claude-sonnet-5-5", effective_from=date(2026, 10, 7)).update(
        cache_read=Decimal("0.2"), origin=Price.Origin.BOOK
    )
    pricing.reprice()
    assert UsageRollup.objects.get(batch=after).cost == Decimal("0.10")  # 1M reads at $0.20, halved

    shown = _refresh()
    assert "~ claude-sonnet-5-5 from 2026-10-07: cache_read 0.200000 -> 0.10" in shown and "--apply" in shown
    assert UsageRollup.objects.get(batch=after).cost == Decimal("0.10")  # shown, not applied

    _refresh("--apply")
    assert UsageRollup.objects.get(batch=after).cost == Decimal("0.05")  # $0.10 from 2026-10-07, halved
    assert UsageRollup.objects.get(batch=before).cost == Decimal("0.10")  # Oct 5: the $0.20 row, untouched
    assert _refresh().strip() == "The price table already matches the price book."


def test_an_admins_row_is_kept_and_a_missing_row_is_added():
    Price.objects.filter(family="claude-haiku-4-5").update(input=Decimal("1.5"), origin=Price.Origin.ADMIN)
    Price.objects.filter(family="claude-fable-5-2").delete()
    out = _refresh("--apply")
    assert "+ claude-fable-5-2 from 2026-11-09: $8 / $40" in out
    assert "= claude-haiku-4-5 from 2025-10-15: kept (edited by an Admin" in out
    assert Price.objects.get(family="claude-haiku-4-5").input == Decimal("1.5")
    assert Price.objects.get(family="claude-fable-5-2").origin == Price.Origin.BOOK
