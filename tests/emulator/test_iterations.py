"""The beta `usage.iterations`: produced for requests that use compaction or the advisor tool under their beta
header, refused without it, valid under the SDK's strict response validation, and priced by the cost report at
the model that ran each call. Expected cents are computed here from the lines' own token counts and this file's
copy of the published prices (USD per million tokens), never from emulator/pricing.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import anthropic
import pytest

from emulator import Emulator

from .conftest import KEY, request

ADMIN = "sk-ant-admin-test-1"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# input, output, 5-minute write, 1-hour write, read: the pricing page (Opus 4.8; Sonnet 4.6 at one rate over
# its 1M window since 2026-03-13; Haiku 5.5 up to / over a 100,000-token prompt).
OPUS_4_8 = ("5", "25", "6.25", "10", "0.5")
SONNET_4_6 = ("3", "15", "3.75", "6", "0.3")
HAIKU_5_5 = ("0.1", "0.5", "0.125", "0.2", "0.01")
HAIKU_5_5_LONG = ("0.5", "2.5", "0.625", "1", "0.05")
COMPACT = {"edits": [{"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 50_000}}]}
ADVISOR = {"type": "advisor_20260301", "name": "advisor", "model": "claude-opus-4-8"}
LONG_TEXT = "word " * 41_000  # 205,000 characters: over 50,000 input tokens at the emulator's 4 per token


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(seed=3, speed=0.0, start_time=NOW)
    emulator.start(host="127.0.0.1", port=0)
    emulator.add_workspace(api_key=KEY, name="ws1")
    emulator.add_admin_key(ADMIN)
    yield emulator
    emulator.stop()


@pytest.fixture
def strict(emu: Emulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0, _strict_response_validation=True)


def _results(emu: Emulator, client: anthropic.Anthropic, requests: list[dict], betas: list[str]) -> dict:
    batch_id = client.beta.messages.batches.create(requests=requests, betas=betas).id
    emu.advance(24 * 3600)
    return {r.custom_id: r.result for r in client.beta.messages.batches.results(batch_id, betas=betas)}


def cents(prices: tuple[str, ...], usage) -> Decimal:
    """Batch-tier cents of one call's usage: 50% of the standard price, per million tokens."""
    split = usage.cache_creation
    counts = (usage.input_tokens, usage.output_tokens, split.ephemeral_5m_input_tokens,
              split.ephemeral_1h_input_tokens, usage.cache_read_input_tokens)  # fmt: skip
    return sum(n * Decimal(p) for n, p in zip(counts, prices, strict=True)) / 2 * 100 / 1_000_000


def test_compaction_is_reported_apart_from_the_top_level_usage(emu: Emulator, strict: anthropic.Anthropic):
    results = _results(
        emu, strict,
        [request("big", LONG_TEXT, context_management=COMPACT), request("small", "hi", context_management=COMPACT)],
        ["compact-2026-01-12"],
    )  # fmt: skip

    usage = results["big"].message.usage
    compaction, answer = usage.iterations
    assert (compaction.type, answer.type) == ("compaction", "message")
    assert compaction.input_tokens > 50_000 and compaction.output_tokens >= 1000  # the whole context, summarized
    assert usage.input_tokens == answer.input_tokens < 4000  # the answer read the summary, not the context
    assert usage.output_tokens == answer.output_tokens
    assert usage.cache_read_input_tokens == answer.cache_read_input_tokens
    assert results["small"].message.usage.iterations is None  # under the trigger: nothing compacted


def test_the_advisor_is_its_own_model_and_the_top_level_is_the_executors(emu: Emulator, strict: anthropic.Anthropic):
    results = _results(emu, strict, [request("a", "plan this", tools=[ADVISOR])], ["advisor-tool-2026-03-01"])

    message = results["a"].message
    first, advice, second = message.usage.iterations
    assert [i.type for i in message.usage.iterations] == ["message", "advisor_message", "message"]
    assert advice.model == "claude-opus-4-8" and message.model == "claude-sonnet-4-6"
    assert 1400 <= advice.output_tokens <= 1800
    assert message.usage.input_tokens == first.input_tokens + second.input_tokens
    assert message.usage.output_tokens == first.output_tokens + second.output_tokens


def test_each_feature_is_refused_without_its_header(emu: Emulator, strict: anthropic.Anthropic):
    results = _results(
        emu, strict,
        [request("a", "x", tools=[ADVISOR]), request("c", LONG_TEXT, context_management=COMPACT)],
        ["context-management-2025-06-27"],
    )  # fmt: skip
    for custom_id in "ac":
        assert results[custom_id].type == "errored"
        assert results[custom_id].error.error.type == "invalid_request_error"


def test_the_cost_report_bills_each_call_at_the_model_that_ran_it(emu: Emulator, strict: anthropic.Anthropic):
    requests = [
        request("adv", "plan this", tools=[ADVISOR]),
        request("cmp", LONG_TEXT, model="claude-haiku-5-5", context_management=COMPACT),
    ]
    created = NOW - 2 * DAY
    betas = ("advisor-tool-2026-03-01", "compact-2026-01-12")
    batch_id = emu.create_batch(KEY, requests, created_at=created, duration=600, betas=betas)
    lines = {r.custom_id: r.result.message for r in strict.beta.messages.batches.results(batch_id, betas=list(betas))}
    adv, cmp = lines["adv"], lines["cmp"]
    compaction = cmp.usage.iterations[0]
    assert compaction.input_tokens > 50_000  # Haiku 5.5's prompt band is each call's own: this one is short

    admin = anthropic.Anthropic(api_key=ADMIN, base_url=emu.base_url, max_retries=0)
    rows = admin.beta.organization.analytics.cost.list(
        starting_at=NOW - 3 * DAY, ending_at=NOW + DAY, time_bucket_width="1d", group_by=["model"]
    )
    got = {r.group.model: Decimal(r.cost.amount) for r in rows}

    assert got["claude-sonnet-4-6"] == cents(SONNET_4_6, adv.usage)  # the executor, top level only
    assert got["claude-opus-4-8"] == cents(OPUS_4_8, adv.usage.iterations[1])  # the advisor's call
    assert got["claude-haiku-5-5"] == cents(HAIKU_5_5, cmp.usage) + cents(HAIKU_5_5, compaction)


FALLBACK_BETA = "server-side-fallback-2026-06-01"


def test_a_declined_request_is_served_by_its_fallback_and_each_hop_billed_at_its_model(
    emu: Emulator, strict: anthropic.Anthropic
):
    declined = request("f", "[emulate:succeeded:refusal] x", model="claude-fable-5",
                       fallbacks=[{"model": "claude-opus-4-8"}])  # fmt: skip
    plain = request("p", "[emulate:succeeded:refusal] x", model="claude-fable-5")
    created = NOW - 2 * DAY
    batch_id = emu.create_batch(KEY, [declined, plain], created_at=created, duration=600, betas=(FALLBACK_BETA,))
    lines = {
        r.custom_id: r.result.message for r in strict.beta.messages.batches.results(batch_id, betas=[FALLBACK_BETA])
    }

    served = lines["f"]
    assert served.model == "claude-opus-4-8" and served.stop_reason == "end_turn"
    hop = served.content[0]
    assert (hop.type, hop.from_.model, hop.to.model) == ("fallback", "claude-fable-5", "claude-opus-4-8")
    first, last = served.usage.iterations
    assert (first.type, first.model, last.type, last.model) == (
        "message", "claude-fable-5", "fallback_message", "claude-opus-4-8"
    )  # fmt: skip
    assert served.usage.input_tokens == first.input_tokens + last.input_tokens
    assert served.usage.output_tokens == first.output_tokens + last.output_tokens
    assert lines["p"].stop_reason == "refusal" and lines["p"].usage.iterations is None  # no fallback named

    admin = anthropic.Anthropic(api_key=ADMIN, base_url=emu.base_url, max_retries=0)
    rows = admin.beta.organization.analytics.cost.list(
        starting_at=NOW - 3 * DAY, ending_at=NOW + DAY, time_bucket_width="1d", group_by=["model"]
    )
    got = {r.group.model: Decimal(r.cost.amount) for r in rows}
    fable_5 = ("10", "50", "12.5", "20", "1")
    assert got["claude-opus-4-8"] == cents(OPUS_4_8, last)
    assert got["claude-fable-5"] == cents(fable_5, first) + cents(fable_5, lines["p"].usage)


def test_fallbacks_without_their_header_are_refused(emu: Emulator, strict: anthropic.Anthropic):
    asked = request("f", "x", model="claude-fable-5", fallbacks=[{"model": "claude-opus-4-8"}])
    results = _results(emu, strict, [asked], ["compact-2026-01-12"])
    assert results["f"].type == "errored" and results["f"].error.error.type == "invalid_request_error"
