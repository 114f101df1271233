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


# --- through ingest, the pages, the CSV and the events ---------------------------------------------
def _ingested(name: str, ended, lines: list[golden.Line], counted: bool):
    """The lines written by the ingest's own writer from API-shaped JSON, then finished as the run that stored
    them does (with what it counted: the models its rollup bands by), or as a later run does (reading the rows)."""
    from batches.models import Batch
    from batches.services import result_store

    batch = ended_batch(name, ended)
    by_type = {t: sum(1 for line in lines if line.result_type == t) for t in ("succeeded", "errored", "canceled",
                                                                               "expired")}  # fmt: skip
    Batch.objects.filter(pk=batch.pk).update(notify_end=True, results_ingested_at=None,
                                             **{f"{t}_count": n for t, n in by_type.items()})  # fmt: skip
    batch.refresh_from_db()
    counts = result_store.Counts()
    result_store.store(batch, [golden.result_line(line) for line in lines], counts, resuming=False,
                       renew=lambda: None)  # fmt: skip
    # Every row stored by this one run, so its counts stand for the rows (the rollup reads no models from them).
    assert counts.new_items == len(lines)
    assert counts.models == {line.model for line in lines if line.result_type == "succeeded"}
    assert result_store.finish(batch, counted=counts if counted else None) == ""
    return batch


@pytest.fixture(params=["counted", "read back"])
def ingested(request):
    counted = request.param == "counted"
    return (_ingested("golden_dec", golden.DEC, golden.DECEMBER, counted),
            _ingested("golden_oct", golden.OCT, golden.OCTOBER, counted))  # fmt: skip


def test_ingest_prices_every_line_to_the_hand_total(ingested):
    dec, oct_ = ingested
    dec_rows = UsageRollup.objects.filter(batch=dec)
    assert sum(r.cost for r in dec_rows if r.cost is not None) == golden.DECEMBER_TOTAL
    assert sum(r.cost for r in UsageRollup.objects.filter(batch=oct_)) == golden.OCTOBER_TOTAL
    kept = Result.objects.get(batch=dec, custom_id="opus46-us")
    assert (kept.inference_geo, kept.speed) == ("us", "standard")  # read from usage, as the API sent it


def test_the_batch_ended_payload_says_the_cost_and_what_is_unpriced(ingested):
    from batches.models import NotificationEvent

    ended = NotificationEvent.objects.get(kind="batch.ended", batch_id=ingested[0].pk)
    assert ended.data["cost_usd"] == "15.6115"  # rounded to 4 places: golden.DECEMBER_TOTAL exactly
    assert ended.data["unpriced_requests"] == 1 and ended.data["unpriced_models"] == ["claude-opus-9"]
    oct_ended = NotificationEvent.objects.get(kind="batch.ended", batch_id=ingested[1].pk)
    assert oct_ended.data["cost_usd"] == "1.4125" and oct_ended.data["unpriced_models"] == []


def test_a_model_without_a_price_fires_price_missing_once(ingested):
    from batches.models import NotificationEvent

    (missing,) = NotificationEvent.objects.filter(kind="price.missing")
    assert missing.data["model"] == "claude-opus-9" and missing.data["unpriced_requests"] == 1
    assert missing.data["add_price_url"].endswith("/admin/batches/price/add/?family=claude-opus-9")
    _ingested("again", golden.DEC, [golden.Line("again", "claude-opus-9", None, {"input_tokens": 5})], counted=True)
    assert NotificationEvent.objects.filter(kind="price.missing").count() == 1  # once per model, not per batch


def test_the_batch_page_shows_the_hand_total(ingested, client, make_user):
    from tests.html import element, text

    client.force_login(make_user("ops", "Auditor"))
    page = client.get(f"/batches/{ingested[0].pk}/").content.decode()
    spend = text(element(page, "dl", **{"class": "spend"}))
    assert "Cost$15.61at batch prices" in spend  # golden.DECEMBER_TOTAL 15.6115, to the cent
    assert "At standard prices$31.19" in spend  # (15.6115 - 0.03 of searches) x 2 + 0.03 = 31.193
    assert "Unpriced1 request of claude-opus-9" in spend  # named, never $0


def test_the_spend_page_and_csv_show_the_hand_totals_and_name_the_unpriced_model(ingested, client, make_user):
    import csv
    import io

    from tests.html import cells, element, elements, text

    client.force_login(make_user("lead", "Auditor"))
    query = "from=2026-10-01&to=2026-12-31&group=none&period=month"
    page = client.get(f"/spend/?{query}").content.decode()
    assert "claude-opus-9" in text(element(page, "p", **{"data-unpriced-banner": ""}))
    body = b"".join(client.get(f"/spend/export.csv?{query}").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    cost = rows[0].index("Cost at batch prices (USD)")
    by_period = {row[0]: row for row in rows[1:]}
    # To the cent: 1.4125 -> 1.41; 15.6115 -> 15.61; together 17.024 -> 17.02.
    assert [by_period[p][cost] for p in ("2026-10", "2026-12", "Total")] == ["1.41", "15.61", "17.02"]
    assert by_period["Total"][rows[0].index("Unpriced requests")] == "1"
    total = cells(list(elements(element(page, "table", **{"class": "spend"}), "tr"))[-1])
    assert total[0] == "Total" and total[6] == "$17.02"  # the page's Cost (batch) column
