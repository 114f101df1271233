"""The beta `usage.iterations`, hand-priced: each call billed apart at the model that ran it, through ingest, the
rollups, the batch page, the spend CSV and the batch.ended payload.

Every figure was worked out by hand from the published prices (USD per million tokens, standard tier; the batch
tier is 50% of every token), never by the code under test. Batch "iter_dec" ends 2026-12-01 (UTC):
  advisor        executor Sonnet 4.6 $3/$15, top level (its two calls) 100,000 in 0.30 + 10,000 out 0.15 = 0.45;
                 advisor_message on Opus 4.8 $5/$25: 100,000 in 0.50 + 2,000 out 0.05 = 0.55; 1.00   -> 0.50
  compact        Opus 4.8, top level 23,000 in 0.115 + 1,000 out 0.025 = 0.14; the compaction (not in the top
                 level) 180,000 in 0.90 + 3,600 out 0.09 = 0.99; 1.13                               -> 0.565
  compact-haiku  Haiku 5.5: its own prompt of 20,000 is short ($0.10/$0.50): 0.002 + 1,000 out 0.0005; the
                 compaction's prompt of 180,000 is over 100,000, long ($0.50/$2.50): 0.09 + 3,000 out
                 0.0075; 0.10                                                                        -> 0.05
  fallback       served by Opus 4.8 after Fable 5 declined; the top level sums both hops (20,000 in, 2,000 out):
                 the declined hop on Fable 5 $10: 10,000 in 0.10; the fallback_message on Opus 4.8: 10,000 in
                 0.05 + 2,000 out 0.05 = 0.10; 0.20                                                  -> 0.10
  advisor-us     executor Opus 4.6, inference_geo "us" (1.1x): (100,000 in 0.50 + 10,000 out 0.25) x 1.1 = 0.825;
                 its advisor on Opus 4.8, in the same region: (0.50 + 2,000 out 0.05) x 1.1 = 0.605;
                 1.43                                                                                -> 0.715
  advisor-nope   executor Haiku 4.5 $1: 100,000 in 0.10 -> 0.05; its advisor names claude-opus-9, which has
                 no price: the request is unpriced, never $0
Per model: Sonnet 4.6 0.225; Opus 4.8 0.275 + 0.565 + 0.05 + 0.3025 = 1.1925; Haiku 5.5 0.05; Fable 5 0.05;
Haiku 4.5 0.05; Opus 4.6 0.4125. Priced total 0.225 + 1.1925 + 0.05 + 0.05 + 0.05 + 0.4125 = 1.98; 6 requests,
1 of them unpriced.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from batches.models import Batch, NotificationEvent, Result, UsageRollup
from batches.services import pricing, result_store
from tests.builders import ended_batch
from tests.html import element, text

pytestmark = pytest.mark.django_db
DEC = datetime(2026, 12, 1, 12, tzinfo=UTC)


def call(kind: str, model: str | None, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": kind, "input_tokens": input_tokens, "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    }  # fmt: skip
    if model:
        entry["model"] = model
    return entry


def line(custom_id: str, model: str, input_tokens: int, output_tokens: int, iterations: list, geo="global") -> bytes:
    usage = {
        "input_tokens": input_tokens, "output_tokens": output_tokens, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0, "service_tier": "batch", "inference_geo": geo, "iterations": iterations,
    }  # fmt: skip
    message = {"id": f"msg_{custom_id}", "type": "message", "role": "assistant", "model": model,
               "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
               "usage": usage}  # fmt: skip
    return json.dumps({"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}).encode()


def advised(executor: str, advisor: str) -> list:
    return [call("message", executor, 60_000, 4_000), call("advisor_message", advisor, 100_000, 2_000),
            call("message", executor, 40_000, 6_000)]  # fmt: skip


LINES = [
    line("advisor", "claude-sonnet-4-6", 100_000, 10_000, advised("claude-sonnet-4-6", "claude-opus-4-8")),
    line("compact", "claude-opus-4-8", 23_000, 1_000,
         [call("compaction", None, 180_000, 3_600), call("message", None, 23_000, 1_000)]),
    line("compact-haiku", "claude-haiku-5-5", 20_000, 1_000,
         [call("compaction", None, 180_000, 3_000), call("message", None, 20_000, 1_000)]),
    line("fallback", "claude-opus-4-8", 20_000, 2_000,
         [call("message", "claude-fable-5", 10_000, 0), call("fallback_message", "claude-opus-4-8", 10_000, 2_000)]),
    line("advisor-us", "claude-opus-4-6", 100_000, 10_000, advised("claude-opus-4-6", "claude-opus-4-8"), geo="us"),
    line("advisor-nope", "claude-haiku-4-5", 100_000, 0, [call("message", None, 100_000, 0),
                                                          call("advisor_message", "claude-opus-9", 1_000, 1_000)]),
]  # fmt: skip


@pytest.fixture(params=["counted", "read back"])
def batch(request):
    """Finished as one run that stored every row finishes it (the models and the calls billed apart taken from
    what it counted), and as a later run does, reading the rows: the same hand-priced figures either way."""
    made = ended_batch("iter_dec", DEC)
    Batch.objects.filter(pk=made.pk).update(notify_end=True, results_ingested_at=None, succeeded_count=len(LINES),
                                            errored_count=0, canceled_count=0, expired_count=0)  # fmt: skip
    made.refresh_from_db()
    counts = result_store.Counts()
    result_store.store(made, LINES, counts, resuming=False, renew=lambda: None)
    assert counts.with_iterations == Result.objects.filter(batch=made).exclude(iterations="").count() > 0
    assert result_store.finish(made, counted=counts if request.param == "counted" else None) == ""
    return made


def test_each_call_is_billed_at_the_model_that_ran_it(batch):
    by_model = dict(UsageRollup.objects.filter(batch=batch).values("model").annotate(c=Sum("cost")).values_list(
        "model", "c"))  # fmt: skip
    assert by_model == {
        "claude-sonnet-4-6": Decimal("0.225"), "claude-opus-4-8": Decimal("1.1925"),
        "claude-haiku-5-5": Decimal("0.05"), "claude-fable-5": Decimal("0.05"), "claude-haiku-4-5": Decimal("0.05"),
        "claude-opus-4-6": Decimal("0.4125"), "claude-opus-9": None,
    }  # fmt: skip
    long = UsageRollup.objects.get(batch=batch, model="claude-haiku-5-5", iteration="compaction")
    assert long.prompt_band == "long"  # the compaction's own prompt, not its request's 20,000
    own = UsageRollup.objects.get(batch=batch, model="claude-opus-4-6", iteration="")
    assert (own.inference_geo, own.input_tokens) == ("us", 100_000)


def test_one_items_cost_includes_its_calls_billed_apart(batch):
    def cost(custom_id: str):
        found = pricing.item_cost(Result.objects.select_related("batch").get(batch=batch, custom_id=custom_id))
        return None if found is None else found.cost

    assert cost("advisor") == Decimal("0.50")
    assert cost("compact") == Decimal("0.565")
    assert cost("compact-haiku") == Decimal("0.05")
    assert cost("fallback") == Decimal("0.10")
    assert cost("advisor-us") == Decimal("0.715")
    assert cost("advisor-nope") is None  # part of it has no price: unpriced, never a partial figure


def test_the_batch_page_and_the_ended_payload_include_them(batch, client, make_user):
    client.force_login(make_user("ops", "Auditor"))
    spend = text(element(client.get(f"/batches/{batch.pk}/").content.decode(), "dl", **{"class": "spend"}))
    assert "Cost$1.98at batch prices" in spend
    assert "Unpriced1 request of claude-opus-9" in spend
    ended = NotificationEvent.objects.get(kind="batch.ended", batch_id=batch.pk)
    assert ended.data["cost_usd"] == "1.9800"
    assert ended.data["unpriced_models"] == ["claude-opus-9"]


def test_the_spend_csv_counts_each_request_once_and_bills_each_model(batch, client, make_user):
    client.force_login(make_user("lead", "Auditor"))
    query = "from=2026-12-01&to=2026-12-01&group=model&period=month"
    body = b"".join(client.get(f"/spend/export.csv?{query}").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    cost, requests = rows[0].index("Cost at batch prices (USD)"), rows[0].index("Requests")
    by_model = {row[1]: row for row in rows[1:-1]}
    assert by_model["claude-opus-4-8"][cost] == "1.19"  # 1.1925: two requests of its own and two advisors' calls
    assert by_model["claude-opus-4-8"][requests] == "2"  # the advisors' calls are not requests of it
    assert by_model["claude-fable-5"][cost] == "0.05" and by_model["claude-fable-5"][requests] == "0"
    assert rows[-1][cost] == "1.98" and rows[-1][requests] == "6"


def test_a_fallback_bands_its_own_call_by_its_own_prompt_on_every_page():
    """Haiku 5.5 served it after Fable 5 declined, each hop reading the same 60,000-token prompt; the top level
    sums both hops (120,000 in, over Haiku 5.5's 100,000). By hand (batch tier 50%): the declined hop on Fable 5
    $10: 60,000 in 0.60; Haiku 5.5's own call, 60,000 in, short ($0.10/$0.50): 0.006 + 2,000 out 0.001 = 0.007;
    0.607 -> 0.3035. Banding its call by the top level's 120,000 (long, $0.50/$2.50) would make it 0.3175."""
    made = ended_batch("iter_band", DEC)
    Batch.objects.filter(pk=made.pk).update(results_ingested_at=None, succeeded_count=1, errored_count=0,
                                            canceled_count=0, expired_count=0)  # fmt: skip
    made.refresh_from_db()
    hops = [call("message", "claude-fable-5", 60_000, 0), call("fallback_message", "claude-haiku-5-5", 60_000, 2_000)]
    lines = [line("fallback-long", "claude-haiku-5-5", 120_000, 2_000, hops)]
    result_store.store(made, lines, result_store.Counts(), resuming=False, renew=lambda: None)
    assert result_store.finish(made) == ""

    rolled = UsageRollup.objects.filter(batch=made).aggregate(c=Sum("cost"))["c"]
    own = UsageRollup.objects.get(batch=made, model="claude-haiku-5-5")
    item = pricing.item_cost(Result.objects.select_related("batch").get(batch=made)).cost
    assert (own.prompt_band, own.input_tokens) == ("", 60_000)
    assert rolled == item == Decimal("0.3035")
