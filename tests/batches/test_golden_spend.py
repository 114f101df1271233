"""The hand-priced golden set (tests/golden.py) priced by the product: each line, each rollup, each total."""

from __future__ import annotations

import typing
from decimal import Decimal

import pytest
from anthropic.types import Model

from batches.models import Result, UsageRollup
from batches.services import pricing
from tests import golden
from tests.builders import ended_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def december():
    batch = ended_batch("golden_dec", golden.DEC)
    golden.store(batch, golden.DECEMBER)
    return batch


@pytest.fixture
def october():
    batch = ended_batch("golden_oct", golden.OCT)
    golden.store(batch, golden.OCTOBER)
    return batch


def test_the_golden_set_covers_every_model_of_the_pinned_sdk():
    sdk_models = {m for m in typing.get_args(typing.get_args(Model)[0])}
    covered = {line.model for line in golden.DECEMBER if line.cost is not None}
    assert sdk_models and sdk_models <= covered, sorted(sdk_models - covered)


@pytest.mark.parametrize("line", golden.DECEMBER + golden.OCTOBER, ids=lambda line: line.custom_id)
def test_each_line_costs_what_was_worked_out_by_hand(line, december, october):
    batch = december if line in golden.DECEMBER else october
    result = Result.objects.select_related("batch").get(batch=batch, custom_id=line.custom_id)
    cost = pricing.item_cost(result)
    assert (cost.cost if cost else None) == line.cost


def test_the_rollups_sum_to_the_hand_totals_and_count_the_unpriced(december, october):
    pricing.roll_up(december)
    pricing.roll_up(october)
    dec = UsageRollup.objects.filter(batch=december)
    assert sum(r.cost for r in dec if r.cost is not None) == golden.DECEMBER_TOTAL
    assert sum(r.requests for r in dec if r.cost is None) == golden.DECEMBER_UNPRICED
    assert sum(r.cost for r in UsageRollup.objects.filter(batch=october)) == golden.OCTOBER_TOTAL


def test_a_long_prompt_is_banded_per_request_not_per_sum(december):
    pricing.roll_up(december)
    haiku = {r.prompt_band: r for r in UsageRollup.objects.filter(batch=december, model="claude-haiku-5-5")}
    assert set(haiku) == {"", "long"}
    assert (haiku[""].cost, haiku["long"].cost) == (Decimal("0.03"), Decimal("0.139"))


def test_us_inference_and_fast_mode_are_kept_apart_from_standard_usage(december):
    pricing.roll_up(december)
    rows = UsageRollup.objects.filter(batch=december, model="claude-opus-4-6")
    opus46 = {(r.inference_geo, r.speed): r.cost for r in rows}
    assert opus46 == {("us", ""): Decimal("0.55"), ("", "fast"): Decimal("3.00")}


def test_web_searches_are_summed_and_billed_without_the_batch_discount(december):
    pricing.roll_up(december)
    rows = UsageRollup.objects.filter(batch=december, model="claude-sonnet-4-6", inference_geo="")
    (row,) = rows
    assert row.web_search_requests == 3 and row.cost == Decimal("0.255")
    assert row.standard_cost == Decimal("0.48")  # 0.45 of tokens at standard prices + the same 0.03


def test_a_batch_before_a_price_cut_keeps_the_old_price(october, december):
    pricing.roll_up(october)
    pricing.roll_up(december)
    sonnet55 = dict(UsageRollup.objects.filter(model="claude-sonnet-5-5").values_list("batch_id", "cost"))
    assert sonnet55 == {october.pk: Decimal("0.25"), december.pk: Decimal("0.20")}
