"""The submission page's sentences, chosen in dashboard/submission_text.py rather than by template tags."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from batches.services.estimates import BudgetOutlook
from dashboard import submission_text as text


def _submission(draft: bool = True):
    return SimpleNamespace(is_draft=draft, workspace=SimpleNamespace(name="acme"), kind="upload", pk=7)


def _outlook(spent: str, low: str, high: str, amount: str = "100") -> BudgetOutlook:
    from batches.services import budgets

    s, lo, hi, a = (Decimal(x) for x in (spent, low, high, amount))
    return BudgetOutlook(amount=a, spent=s, low=lo, high=hi, level_now=budgets.level(s, a),
                         level_low=budgets.level(lo, a), level_high=budgets.level(hi, a))  # fmt: skip


def test_a_range_whose_ends_read_the_same_is_one_figure():
    said = text.budget(_submission(), _outlook("120", "137.3", "137.3"), may_see_spend=False).sentence
    assert "to 137.3%." in said and "137.3%–137.3%" not in said and said.startswith("Over budget already")


def test_each_level_has_its_own_sentence_and_class():
    cases = {
        ("10", "20", "30"): ("", "Within budget: acme would be at 30.0%"),
        ("10", "20", "85"): ("message warning", "At its ceiling this would take acme past 80%"),
        ("10", "85", "90"): ("message warning", "Even at its low end this takes acme past 80%"),
        ("10", "85", "120"): ("message warning", "past 100% of its monthly budget, to 120.0%; even at its low end"),
        ("10", "110", "120"): ("message error", "Over budget: even at its low end"),
    }
    for (spent, low, high), (css, start) in cases.items():
        found = text.budget(_submission(), _outlook(spent, low, high), may_see_spend=False)
        assert found.css == css and start in found.sentence, (spent, low, high, found)


def test_a_sent_submission_says_where_the_month_stands_not_what_sending_would_do():
    said = text.budget(_submission(draft=False), _outlook("50", "60", "70"), may_see_spend=True).sentence
    assert said == "This month so far: 50.0% ($50.00 of $100.00)." and "would" not in said


def test_the_spend_figures_are_left_out_for_those_who_may_not_see_spend():
    said = text.budget(_submission(), _outlook("50", "60", "70"), may_see_spend=False).sentence
    assert said.endswith("This month so far: 50.0%.") and "$" not in said
