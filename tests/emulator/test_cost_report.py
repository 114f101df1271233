"""The cost report (`GET /v1/organizations/analytics/cost`) through the official SDK, with an Admin key.

Expected amounts are computed here independently: from the results lines downloaded through the SDK and
this file's own copy of the price table, in exact decimals."""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import anthropic
import pytest

from emulator import Emulator, costs, pricing
from emulator.results import succeeded_usage

from .conftest import KEY, OTHER_KEY, request

ADMIN = "sk-ant-admin-test-1"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = datetime(2026, 11, 20, tzinfo=UTC)
DAY = timedelta(days=1)

# USD per million tokens, standard tier: input, output, 5-min write, 1-hour write, cache read (an
# independent copy from the pricing page: the test must not read emulator/pricing.py). Families by an
# explicit map, never by prefix: claude-opus-4-8 is $5 / $25, not claude-opus-4's $15 / $75.
PRICES = {
    "claude-opus-4-8": ("5", "25", "6.25", "10", "0.5"),
    "claude-opus-4-7": ("5", "25", "6.25", "10", "0.5"),
    "claude-opus-4-1": ("15", "75", "18.75", "30", "1.5"),
    "claude-opus-4": ("15", "75", "18.75", "30", "1.5"),
    "claude-sonnet-4-6": ("3", "15", "3.75", "6", "0.3"),
    "claude-sonnet-4-5": ("3", "15", "3.75", "6", "0.3"),
    "claude-haiku-4-5": ("1", "5", "1.25", "2", "0.1"),
    "claude-opus-5-5": ("4", "20", "5", "8", "0.2"),
}
MODELS = {
    "claude-haiku-4-5-20251001": "claude-haiku-4-5", "claude-sonnet-4-5-20250929": "claude-sonnet-4-5",
    "claude-opus-4-1-20250805": "claude-opus-4-1",
}  # fmt: skip
HAIKU, SONNET, OPUS = "claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"


def family(model: str) -> str | None:
    name = MODELS.get(model, model)
    return name if name in PRICES else None


def line_cents(model: str, usage: dict) -> Decimal:
    """One succeeded line's batch cost in cents, from its usage as the results file reports it (prompts
    here are short: no long-context tier; US-only inference 1.1x; $10 per 1,000 web searches, undiscounted)."""
    price_in, price_out, price_5m, price_1h, price_read = (Decimal(p) for p in PRICES[family(model)])
    split = usage.get("cache_creation")
    if split:
        write_5m, write_1h = split["ephemeral_5m_input_tokens"], split["ephemeral_1h_input_tokens"]
    else:  # only the total: counted as 5-minute writes
        write_5m, write_1h = usage.get("cache_creation_input_tokens") or 0, 0
    usd_per_mtok = (
        usage["input_tokens"] * price_in
        + usage["output_tokens"] * price_out
        + write_5m * price_5m
        + write_1h * price_1h
        + (usage.get("cache_read_input_tokens") or 0) * price_read
    )
    geo = Decimal("1.1") if usage.get("inference_geo") == "us" else 1
    searches = (usage.get("server_tool_use") or {}).get("web_search_requests") or 0
    # batch tier = 50% of tokens; USD -> cents; per million. A search is 1 cent ($10 / 1,000).
    return usd_per_mtok * geo / 2 * 100 / 1_000_000 + searches


def cents(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(seed=7, speed=0.0, start_time=NOW)
    emulator.start(host="127.0.0.1", port=0)
    emulator.add_workspace(api_key=KEY, name="ws1")
    emulator.add_workspace(api_key=OTHER_KEY, name="ws2")
    emulator.add_admin_key(ADMIN)
    yield emulator
    emulator.stop()


@pytest.fixture
def admin(emu: Emulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=ADMIN, base_url=emu.base_url, max_retries=0)


@pytest.fixture
def client(emu: Emulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0)


def report(admin: anthropic.Anthropic, start=TODAY - 10 * DAY, end=TODAY + DAY, **kwargs):
    kwargs.setdefault("time_bucket_width", "1d")
    return list(admin.beta.organization.analytics.cost.list(starting_at=start, ending_at=end, **kwargs))


def expected_by(client: anthropic.Anthropic, batch_ids: list[str], key=lambda model, day: family(model)):
    """Expected cents and succeeded requests per key, from the results JSONL of each batch."""
    amounts: dict = defaultdict(Decimal)
    requests: dict = defaultdict(int)
    for batch_id in batch_ids:
        batch = client.messages.batches.retrieve(batch_id)
        day = batch.ended_at.replace(hour=0, minute=0, second=0, microsecond=0)
        for line in client.messages.batches.results(batch_id):
            if line.result.type != "succeeded":
                continue
            message = line.result.message
            if family(message.model) is None:
                continue
            amounts[key(message.model, day)] += line_cents(message.model, message.usage.model_dump())
            requests[key(message.model, day)] += 1
    return amounts, requests


def test_hand_checkable_batch_matches_its_results_file_to_the_fraction_of_a_cent(emu, admin, client):
    requests = [
        request("h1", "[emulate:succeeded] one", model=HAIKU),
        request("h2", "[emulate:succeeded] two " * 50, model="claude-haiku-4-5"),  # an alias: same family row
        request("s1", "[emulate:succeeded] three", model="claude-sonnet-4-6"),
        request("bad", "[emulate:errored:overloaded_error] x", model="claude-sonnet-4-6"),
        request("gone", "[emulate:expired] x", model="claude-sonnet-4-6"),
        request("stop", "[emulate:canceled] x", model=HAIKU),
        request("o48", "[emulate:succeeded] own price", model="claude-opus-4-8"),  # $5 / $25, never Opus 4's
        request("old", "[emulate:succeeded] retired", model=SONNET),  # not served any more: errored
    ]
    batch_id = emu.create_batch(KEY, requests, created_at=NOW - 2 * DAY, duration=600)
    # And a seeded batch with a mixed outcome table, canceled halfway (its unfinished part is canceled).
    seeded = emu.seed_batch(OTHER_KEY, 300, created_at=NOW - 3 * DAY, duration=3600, model=OPUS,
                            outcomes={"succeeded": 0.8, "errored": 0.2})  # fmt: skip
    emu.store.batches[seeded].cancel_at = emu.store.batches[seeded].created + 1800

    rows = report(admin, group_by=["model"])

    amounts, counts = expected_by(client, [batch_id], key=lambda m, d: (family(m), d))
    seeded_client = anthropic.Anthropic(api_key=OTHER_KEY, base_url=emu.base_url, max_retries=0)
    more, more_counts = expected_by(seeded_client, [seeded], key=lambda m, d: (family(m), d))
    amounts.update(more)
    counts.update(more_counts)
    got = {(r.group.model, r.starting_at): r for r in rows}
    assert set(got) == set(amounts)  # errored/expired/canceled lines give no row
    for key, amount in amounts.items():
        assert got[key].cost.amount == cents(amount)
        assert got[key].cost.list_amount == cents(amount)
        assert got[key].cost.currency == "USD"
        assert got[key].cost.requests == counts[key]
        assert got[key].ending_at - got[key].starting_at == DAY
    assert got[("claude-haiku-4-5", TODAY - 2 * DAY)].cost.requests == 2
    assert got[("claude-sonnet-4-6", TODAY - 2 * DAY)].cost.requests == 1
    assert 0 < got[("claude-opus-4-1", TODAY - 3 * DAY)].cost.requests < 300


def test_price_formula_by_hand():
    # claude-haiku-4-5 (1 / 5 USD per MTok): 1000 in, 500 out, 2000 5-min writes, 1000 1-hour writes,
    # 10000 reads = 1000 + 2500 + 2500 + 2000 + 1000 = 9000 USD/MTok-tokens = 0.009 USD standard,
    # 0.0045 USD at the batch tier = 0.45 cents.
    tokens = pricing.Tokens(requests=1, input=1000, cache_write_5m=2000, cache_write_1h=1000, cache_read=10000,
                            output=500)  # fmt: skip
    assert pricing.cents_str(pricing.cost_cents("claude-haiku-4-5", tokens)) == "0.45"
    assert pricing.cents_str(pricing.cost_cents("claude-haiku-4-5", tokens, "standard")) == "0.9"
    assert pricing.family("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5"
    assert pricing.family("claude-opus-4-1-20250805") == "claude-opus-4-1"
    assert pricing.family("claude-opus-4-20250514") == "claude-opus-4"
    assert pricing.family("claude-opus-4-7") == "claude-opus-4-7"
    assert pricing.family("claude-opus-4-8") == "claude-opus-4-8"  # explicit: never claude-opus-4 by prefix
    assert pricing.family("claude-opus-4-8-20990101") is None
    assert pricing.family("claude-3-5-haiku-20241022") == "claude-3-5-haiku"
    assert pricing.family("claude-3-haiku-20240307") == "claude-3-haiku"
    assert pricing.family("claude-instant-1.2") is None


def test_group_by_model_and_by_workspace(emu, admin, client):
    ids_1 = [emu.seed_batch(KEY, 40, created_at=NOW - 2 * DAY, model=m) for m in (HAIKU, SONNET)]
    ids_2 = [emu.seed_batch(OTHER_KEY, 30, created_at=NOW - 2 * DAY, model=m) for m in (HAIKU, OPUS)]
    ws1, ws2 = emu.workspace_id(KEY), emu.workspace_id(OTHER_KEY)
    assert ws1.startswith("wrkspc_") and ws2.startswith("wrkspc_") and ws1 != ws2
    elsewhere = Emulator(seed=99)
    elsewhere.add_workspace("sk-ant-another-key", "ws1")
    assert elsewhere.workspace_id("sk-ant-another-key") == ws1  # stable: from the workspace, not the seed or key
    other = anthropic.Anthropic(api_key=OTHER_KEY, base_url=emu.base_url, max_retries=0)
    exp_1, _ = expected_by(client, ids_1)
    exp_2, _ = expected_by(other, ids_2)

    by_ws = {r.group.workspace_id: r for r in report(admin, group_by=["workspace_id"])}
    assert by_ws[ws1].cost.amount == cents(sum(exp_1.values()))
    assert by_ws[ws2].cost.amount == cents(sum(exp_2.values()))
    assert all(r.group.model is None and r.group.service_tier is None for r in by_ws.values())

    by_model = {r.group.model: r.cost.amount for r in report(admin, group_by=["model"])}
    assert by_model == {
        "claude-haiku-4-5": cents(exp_1["claude-haiku-4-5"] + exp_2["claude-haiku-4-5"]),
        "claude-sonnet-4-5": cents(exp_1["claude-sonnet-4-5"]),
        "claude-opus-4-1": cents(exp_2["claude-opus-4-1"]),
    }
    both = {(r.group.model, r.group.workspace_id): r.cost.amount
            for r in report(admin, group_by=["model", "workspace_id"])}  # fmt: skip
    assert both == {
        ("claude-haiku-4-5", ws1): cents(exp_1["claude-haiku-4-5"]),
        ("claude-sonnet-4-5", ws1): cents(exp_1["claude-sonnet-4-5"]),
        ("claude-haiku-4-5", ws2): cents(exp_2["claude-haiku-4-5"]),
        ("claude-opus-4-1", ws2): cents(exp_2["claude-opus-4-1"]),
    }
    only_ws2 = report(admin, group_by=["model"], workspace_ids=[ws2], models=["claude-opus-4-1"])
    assert [(r.group.model, r.cost.amount) for r in only_ws2] == [("claude-opus-4-1", cents(exp_2["claude-opus-4-1"]))]
    # The models filter takes the family name or a full model id.
    assert report(admin, group_by=["model"], models=[OPUS]) == only_ws2
    # Without group_by: one row per day bucket with everything.
    (total,) = report(admin)
    assert total.cost.amount == cents(sum(exp_1.values()) + sum(exp_2.values()))
    assert total.group.model is None and total.group.workspace_id is None


def test_service_tiers_filter_and_grouping(emu, admin):
    emu.seed_batch(KEY, 20, created_at=NOW - 1 * DAY, model=SONNET)
    (row,) = report(admin, group_by=["service_tier"], service_tiers=["batch"])
    assert row.group.service_tier == "batch" and row.cost.requests > 0
    assert report(admin, service_tiers=["standard", "priority"]) == []
    assert [r.cost for r in report(admin, service_tiers=["batch", "standard"])] == [row.cost]
    with pytest.raises(anthropic.BadRequestError, match="service_tiers"):
        report(admin, service_tiers=["gold"])


def test_usage_falls_on_the_utc_day_the_batch_ended(emu, admin, client):
    # Created at 23:00 on day D-3, runs 2 hours: it ends at 01:00 on day D-2 (D = today).
    late = emu.seed_batch(KEY, 25, created_at=TODAY - 2 * DAY - timedelta(hours=1), duration=7200, model=HAIKU)
    running = emu.seed_batch(KEY, 25, created_at=NOW - timedelta(minutes=5), duration=3600, model=HAIKU,
                             status="in_progress")  # fmt: skip
    rows = report(admin)
    assert [r.starting_at for r in rows] == [TODAY - 2 * DAY]
    assert rows[0].ending_at == TODAY - DAY
    assert rows[0].cost.amount == cents(sum(expected_by(client, [late])[0].values()))
    # A range that stops before that day sees nothing; a batch still running counts nothing yet.
    assert report(admin, end=TODAY - 2 * DAY) == []
    emu.advance(3600)
    rows = report(admin, order_by="time")
    assert [r.starting_at for r in rows] == [TODAY, TODAY - 2 * DAY]  # newest bucket first
    assert rows[0].cost.amount == cents(sum(expected_by(client, [running])[0].values()))
    # Without time_bucket_width: one row over the whole range (in whole hours).
    (whole,) = report(admin, start=TODAY - 5 * DAY, end=NOW + timedelta(hours=2, minutes=30), time_bucket_width=None)
    assert whole.starting_at == TODAY - 5 * DAY and whole.ending_at == NOW + timedelta(hours=2)
    assert Decimal(whole.cost.amount) == Decimal(rows[0].cost.amount) + Decimal(rows[1].cost.amount)


def test_pagination_across_pages(emu, admin):
    models = (HAIKU, SONNET, OPUS, "claude-sonnet-4-6", "claude-3-5-haiku-20241022")
    for day in range(1, 8):
        for model in models:
            emu.seed_batch(KEY if day % 2 else OTHER_KEY, 5, created_at=NOW - day * DAY, model=model)
    everything = report(admin, group_by=["model", "workspace_id"], limit=1000)
    assert len(everything) == 35

    page = admin.beta.organization.analytics.cost.list(
        starting_at=TODAY - 10 * DAY, ending_at=TODAY + DAY, time_bucket_width="1d",
        group_by=["model", "workspace_id"], limit=8,
    )  # fmt: skip
    pages = list(page.iter_pages())
    assert [len(p.data) for p in pages] == [8, 8, 8, 8, 3]
    assert all(p.has_more for p in pages[:-1]) and pages[-1].has_more is False and pages[-1].next_page is None
    assert all(p.data_refreshed_at == NOW for p in pages)
    assert [r for p in pages for r in p.data] == everything
    # Ordered by amount, highest first (the default).
    amounts = [Decimal(r.cost.amount) for r in everything]
    assert amounts == sorted(amounts, reverse=True)
    ascending = report(admin, group_by=["model", "workspace_id"], limit=1000, order="asc")
    assert [Decimal(r.cost.amount) for r in ascending] == sorted(amounts)
    # Default limit: 20 rows on the first page.
    first = admin.beta.organization.analytics.cost.list(
        starting_at=TODAY - 10 * DAY, ending_at=TODAY + DAY, time_bucket_width="1d", group_by=["model", "workspace_id"]
    )
    assert len(first.data) == 20 and first.has_more and first.next_page


def test_pages_stay_consistent_while_new_batches_end(emu, admin):
    for day in range(1, 6):
        emu.seed_batch(KEY, 5, created_at=NOW - day * DAY, model=HAIKU)
    first = admin.beta.organization.analytics.cost.list(
        starting_at=TODAY - 10 * DAY, ending_at=TODAY + DAY, time_bucket_width="1d", limit=3
    )
    emu.seed_batch(KEY, 5, created_at=NOW - timedelta(minutes=10), duration=660, model=HAIKU, status="in_progress")
    emu.advance(120)  # it ends after page 1 was served
    rest = [r for p in first.iter_pages() for r in p.data]
    assert len(rest) == 5  # the next pages are the report as of the first page
    assert len(report(admin)) == 6


def test_workspace_key_gets_403_and_unknown_key_401(emu, client):
    with pytest.raises(anthropic.PermissionDeniedError) as exc:
        client.beta.organization.analytics.cost.list(starting_at=TODAY - DAY)
    assert exc.value.type == "permission_error"
    stranger = anthropic.Anthropic(api_key="sk-ant-admin-unknown", base_url=emu.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        stranger.beta.organization.analytics.cost.list(starting_at=TODAY - DAY)


def test_drift_multiplies_one_family(emu, admin, client):
    ids = [emu.seed_batch(KEY, 30, created_at=NOW - DAY, model=m) for m in (HAIKU, SONNET)]
    exact, _ = expected_by(client, ids)
    emu.cost_drift = {"claude-haiku-4-5": Decimal("1.05")}
    by_model = {r.group.model: r.cost for r in report(admin, group_by=["model"])}
    assert by_model["claude-haiku-4-5"].amount == cents(exact["claude-haiku-4-5"] * Decimal("1.05"))
    assert by_model["claude-haiku-4-5"].list_amount == by_model["claude-haiku-4-5"].amount
    assert by_model["claude-sonnet-4-5"].amount == cents(exact["claude-sonnet-4-5"])

    body = json.dumps({"cost_drift": {"claude-sonnet-4": "0.98"}}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{emu.base_url}/_emulator/config", data=body)) as response:
        assert json.load(response)["cost_drift"] == {"claude-sonnet-4": "0.98"}
    by_model = {r.group.model: r.cost.amount for r in report(admin, group_by=["model"])}
    assert by_model == {  # the control endpoint replaces the mapping; a shorter prefix covers sonnet-4-5
        "claude-haiku-4-5": cents(exact["claude-haiku-4-5"]),
        "claude-sonnet-4-5": cents(exact["claude-sonnet-4-5"] * Decimal("0.98")),
    }


def test_admin_key_through_the_control_endpoint(emu):
    body = json.dumps({"api_key": "sk-ant-admin-ctl"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{emu.base_url}/_emulator/admin_keys", data=body)):
        pass
    ctl = anthropic.Anthropic(api_key="sk-ant-admin-ctl", base_url=emu.base_url, max_retries=0)
    assert ctl.beta.organization.analytics.cost.list(starting_at=TODAY - DAY).data == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_bucket_width": "1h"}, "time_bucket_width"),
        ({"group_by": ["api_key_id"]}, "group_by"),
        ({"limit": 1001}, "limit"),
        ({"api_key_ids": ["apikey_1"]}, "api_key_ids"),
        ({"end": TODAY - 20 * DAY}, "ending_at"),
        ({"start": TODAY - 40 * DAY}, "31 days"),
    ],
)
def test_bad_requests_are_400(admin, kwargs, message):
    with pytest.raises(anthropic.BadRequestError, match=message) as exc:
        report(admin, **kwargs)
    assert exc.value.type == "invalid_request_error"


def test_ended_batches_are_aggregated_once(emu, admin, monkeypatch):
    emu.seed_batches(KEY, 5, n_requests=50, created_at=NOW - DAY, model=SONNET)
    built = []
    real = costs.succeeded_usage
    monkeypatch.setattr(costs, "succeeded_usage", lambda store, batch: built.append(batch.id) or real(store, batch))
    first = report(admin, group_by=["model"])
    second = report(admin, group_by=["model"])
    assert first == second and len(built) == 5 and len(set(built)) == 5


def test_priced_tokens_are_the_results_files_tokens(emu, client):
    batch_id = emu.seed_batch(
        KEY, 200, created_at=NOW - DAY, duration=3600, outcomes={"succeeded": 0.9, "expired": 0.1}
    )
    emu.store.batches[batch_id].cancel_at = emu.store.batches[batch_id].created + 2000
    totals = [0, 0, 0, 0, 0, 0]
    for line in client.messages.batches.results(batch_id):
        if line.result.type == "succeeded":
            usage = line.result.message.usage
            split = usage.cache_creation
            values = (1, usage.input_tokens, split.ephemeral_5m_input_tokens, split.ephemeral_1h_input_tokens,
                      usage.cache_read_input_tokens, usage.output_tokens)  # fmt: skip
            totals = [a + b for a, b in zip(totals, values, strict=True)]
    items = succeeded_usage(emu.store, emu.store.batches[batch_id])
    assert tuple(sum((item.tokens for item in items), pricing.NO_TOKENS)) == tuple(totals)
    assert {item.inference_geo for item in items} == {"global"} and {item.model for item in items} == {SONNET}


def test_each_request_is_priced_by_its_own_rules_and_the_report_breaks_them_out(emu, admin, client):
    # Worked out by hand (batch tier = half of every token price; a web search is $0.01, not halved):
    # US-only inference on Opus 4.6 is 1.1x; a Haiku 5.5 prompt over 100,000 tokens puts every token of that
    # request at $0.50 / $2.50 (the "200k-1M" context-window row), a short one at $0.10 / $0.50.
    long_text = "[emulate:succeeded] " + "x" * (110_000 * 4)  # 4 characters a token: over 100,000 tokens
    requests = [
        request("us", "[emulate:succeeded] a", model="claude-opus-4-6", inference_geo="us"),
        request("global", "[emulate:succeeded] b", model="claude-opus-4-6"),
        request("web", "[emulate:succeeded] c", model="claude-sonnet-4-6",
                tools=[{"type": "web_search_20250305", "name": "web_search"}]),
        request("short", "[emulate:succeeded] d", model="claude-haiku-5-5"),
        request("long", long_text, model="claude-haiku-5-5"),
    ]  # fmt: skip
    batch_id = emu.create_batch(KEY, requests, created_at=NOW - DAY, duration=600)
    lines = {line.custom_id: line.result.message for line in client.messages.batches.results(batch_id)}
    usage = {cid: message.usage.model_dump() for cid, message in lines.items()}

    def tokens_usd(u, rates):  # USD at the standard tier
        i, o, w5, w1, r = (Decimal(x) for x in rates)
        split = u["cache_creation"]
        return (u["input_tokens"] * i + u["output_tokens"] * o + split["ephemeral_5m_input_tokens"] * w5
                + split["ephemeral_1h_input_tokens"] * w1 + u["cache_read_input_tokens"] * r) / 1_000_000  # fmt: skip

    opus46 = ("5", "25", "6.25", "10", "0.5")
    us_cents = tokens_usd(usage["us"], opus46) * Decimal("1.1") / 2 * 100
    global_cents = tokens_usd(usage["global"], opus46) / 2 * 100
    searches = usage["web"]["server_tool_use"]["web_search_requests"]
    assert searches >= 1
    web_tokens_cents = tokens_usd(usage["web"], ("3", "15", "3.75", "6", "0.3")) / 2 * 100
    short_cents = tokens_usd(usage["short"], ("0.1", "0.5", "0.125", "0.2", "0.01")) / 2 * 100
    long_cents = tokens_usd(usage["long"], ("0.5", "2.5", "0.625", "1", "0.05")) / 2 * 100

    by_geo = {(r.group.model, r.group.inference_geo): r.cost
              for r in report(admin, group_by=["model", "inference_geo"])}  # fmt: skip
    assert by_geo[("claude-opus-4-6", "us")].amount == cents(us_cents)
    assert by_geo[("claude-opus-4-6", "global")].amount == cents(global_cents)
    assert by_geo[("claude-opus-4-6", "us")].requests == 1

    by_type = {(r.group.model, r.group.cost_type): r.cost for r in report(admin, group_by=["model", "cost_type"])}
    assert by_type[("claude-sonnet-4-6", "web_search")].amount == cents(Decimal(searches))  # 1 cent each
    assert by_type[("claude-sonnet-4-6", "tokens")].amount == cents(web_tokens_cents)
    assert by_type[("claude-sonnet-4-6", "tokens")].requests is None  # no per-part request count

    by_window = {(r.group.model, r.group.context_window): r.cost
                 for r in report(admin, group_by=["model", "context_window"])}  # fmt: skip
    assert by_window[("claude-haiku-5-5", "200k-1M")].amount == cents(long_cents)
    assert by_window[("claude-haiku-5-5", "0-200k")].amount == cents(short_cents)

    by_token = {(r.group.model, r.group.token_type): r.cost.amount
                for r in report(admin, group_by=["model", "token_type"])}  # fmt: skip
    out = Decimal(usage["global"]["output_tokens"] * 25 + usage["us"]["output_tokens"] * 25 * Decimal("1.1"))
    assert by_token[("claude-opus-4-6", "output_tokens")] == cents(out / 1_000_000 / 2 * 100)
