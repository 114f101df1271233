"""The emulator's rate cards, in ONE place: what the cost report charges for each succeeded request.

Written from Anthropic's pricing and model pages (platform.claude.com/docs/en/about-claude/pricing, the
model overviews, data residency, fast mode), never from the product's tables, so that a reconciliation
of the product's figures against this report can catch the product out.

Standard prices in USD per million tokens, per family, each card in force from a date. A model id names
its family explicitly (MODELS) or is a family's own name: never a prefix match. A model of no family has
no price: it costs 0 and the cost report shows no row for it.

Each request is priced on its own:
- context window: a prompt (input + cache writes + cache reads) over the card's `long_over` is the
  "200k-1M" tier (Haiku 5.5's long prompts too, over 100,000): every token of it at the long card;
- inference_geo "us": every token x 1.1 on the families that offer it (Opus 4.6, Sonnet 4.6 and later);
- speed "fast": every token x the card's fast factor;
- web search: $10 per 1,000 searches, a fee per use (cost_type web_search), not halved by the batch tier;
- the batch service tier: 50% of every token price;
- `usage.iterations` outside the top-level usage (a compaction, an advisor's call): each call priced as a
  request of its own (its own context window) at the model that ran it: the compaction at the request's
  model, the advisor at the advisor model's card, in the request's inference_geo and speed.
All arithmetic is `decimal.Decimal`, exact: amounts are reported in fractional cents as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NamedTuple, TypeVar

_D = Decimal


class Card(NamedTuple):
    """One family's standard prices from a date: input, output, 5-minute write, 1-hour write, cache read."""

    since: date
    rates: tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
    long_over: int | None = None  # prompt tokens over which the whole request is in the long tier
    long_rates: tuple[Decimal, Decimal, Decimal, Decimal, Decimal] | None = None
    us: Decimal | None = None  # inference_geo "us" multiplier; None: not offered
    fast: Decimal | None = None  # speed "fast" multiplier; None: not offered


def _r(*values: str) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    i, o, w5, w1, rd = (_D(v) for v in values)
    return (i, o, w5, w1, rd)


US = _D("1.1")
# Opus 4.5-4.8 and 5: $5 / $25, writes $6.25 / $10, hits $0.50 (pricing page, "Model pricing").
_OPUS = _r("5", "25", "6.25", "10", "0.5")
_SONNET_3 = _r("3", "15", "3.75", "6", "0.3")
_SONNET_LONG = _r("6", "22.5", "7.5", "12", "0.6")  # "Long context pricing": over 200K input tokens
CARDS: dict[str, tuple[Card, ...]] = {
    "claude-fable-5-2": (Card(date(2026, 11, 9), _r("8", "40", "10", "16", "0.2"), us=US, fast=_D(2)),),
    "claude-mythos-5-2": (Card(date(2026, 11, 9), _r("8", "40", "10", "16", "0.2"), us=US, fast=_D(2)),),
    "claude-fable-5-1": (Card(date(2026, 9, 1), _r("10", "50", "12.5", "20", "0.25"), us=US),),
    "claude-mythos-5-1": (Card(date(2026, 9, 1), _r("10", "50", "12.5", "20", "0.25"), us=US),),
    "claude-fable-5": (Card(date(2026, 6, 9), _r("10", "50", "12.5", "20", "1"), us=US),),
    "claude-mythos-5": (Card(date(2026, 6, 9), _r("10", "50", "12.5", "20", "1"), us=US),),
    "claude-mythos-preview": (Card(date(2026, 4, 7), _r("25", "125", "31.25", "50", "2.5"), us=US),),
    "claude-opus-5-5": (Card(date(2026, 9, 23), _r("4", "20", "5", "8", "0.2"), us=US, fast=_D(2)),),
    "claude-opus-5": (Card(date(2026, 7, 24), _OPUS, us=US, fast=_D(2)),),
    "claude-opus-4-8": (Card(date(2026, 5, 28), _OPUS, us=US),),
    "claude-opus-4-7": (Card(date(2026, 4, 16), _OPUS, us=US),),
    "claude-opus-4-6": (
        Card(date(2026, 2, 5), _OPUS, 200_000, _r("10", "37.5", "12.5", "20", "1"), us=US, fast=_D(6)),
        Card(date(2026, 3, 13), _OPUS, us=US, fast=_D(6)),  # the 1M window at one rate from here
    ),
    "claude-opus-4-5": (Card(date(2025, 11, 24), _OPUS),),
    "claude-opus-4-1": (Card(date(2025, 8, 5), _r("15", "75", "18.75", "30", "1.5")),),
    "claude-opus-4": (Card(date(2025, 5, 22), _r("15", "75", "18.75", "30", "1.5")),),
    "claude-sonnet-5-5": (
        Card(date(2026, 9, 29), _r("2", "10", "2.5", "4", "0.2"), us=US),
        Card(date(2026, 10, 7), _r("2", "10", "2.5", "4", "0.1"), us=US),  # cache hits cut to 0.05x
    ),
    "claude-sonnet-5": (Card(date(2026, 6, 30), _r("2", "10", "2.5", "4", "0.2"), us=US),),
    "claude-sonnet-4-6": (
        Card(date(2026, 2, 17), _SONNET_3, 200_000, _SONNET_LONG, us=US),
        Card(date(2026, 3, 13), _SONNET_3, us=US),
    ),
    "claude-sonnet-4-5": (Card(date(2025, 9, 29), _SONNET_3, 200_000, _SONNET_LONG),),
    "claude-sonnet-4": (Card(date(2025, 5, 22), _SONNET_3, 200_000, _SONNET_LONG),),
    "claude-haiku-5-5": (
        Card(
            date(2026, 10, 7),
            _r("0.1", "0.5", "0.125", "0.2", "0.01"),
            100_000,
            _r("0.5", "2.5", "0.625", "1", "0.05"),
            us=US,
        ),
    ),  # fmt: skip
    "claude-haiku-4-5": (Card(date(2025, 10, 15), _r("1", "5", "1.25", "2", "0.1")),),
    "claude-3-7-sonnet": (Card(date(2025, 2, 24), _SONNET_3),),
    "claude-3-5-haiku": (Card(date(2024, 11, 4), _r("0.8", "4", "1", "1.6", "0.08")),),
    "claude-3-haiku": (Card(date(2024, 3, 7), _r("0.25", "1.25", "0.3", "0.5", "0.03")),),
}
# Ids the API returns that are not a family's own name, each to exactly one family.
MODELS: dict[str, str] = {
    "claude-opus-4-5-20251101": "claude-opus-4-5",
    "claude-haiku-4-5-20251001": "claude-haiku-4-5",
    "claude-sonnet-4-5-20250929": "claude-sonnet-4-5",
    "claude-opus-4-1-20250805": "claude-opus-4-1",
    "claude-opus-4-20250514": "claude-opus-4",
    "claude-sonnet-4-20250514": "claude-sonnet-4",
    "claude-3-7-sonnet-20250219": "claude-3-7-sonnet",
    "claude-3-5-haiku-20241022": "claude-3-5-haiku",
    "claude-3-haiku-20240307": "claude-3-haiku",
}
WEB_SEARCH_USD_PER_1000 = _D(10)
# Service tier multipliers of the standard token price. The emulator's usage is all batch usage.
TIER_FACTORS: dict[str, Decimal] = {"standard": _D("1"), "batch": _D("0.5")}
BATCH_TIER = "batch"
# cost.amount = cost.list_amount x this. The batch tier's 50% is part of the list price (a published price,
# not a discount), and the emulated organisation has no negotiated discount: the two amounts are equal.
NEGOTIATED_FACTOR = _D("1")
# Cents per USD over tokens per MTok: cents = tokens * USD-per-MTok * CENTS_PER_TOKEN_UNIT.
CENTS_PER_TOKEN_UNIT = _D(100) / _D(1_000_000)
TOKEN_TYPES = (
    "uncached_input_tokens", "output_tokens", "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens", "cache_read_input_tokens",
)  # fmt: skip
SHORT, LONG = "0-200k", "200k-1M"

T = TypeVar("T")


def family(model: str) -> str | None:
    """The family of a model id, or None when the model has no price."""
    name = MODELS.get(model, model)
    return name if name in CARDS else None


def takes_inference_geo(model: str) -> bool:
    """Whether the model takes `inference_geo` at all: the families whose card offers US-only inference (Opus 4.6,
    Sonnet 4.6 and later). The API refuses the param on the others: in a batch, an errored request."""
    name = family(model)
    return name is not None and any(c.us is not None for c in CARDS[name])


def card(family_name: str, day: date) -> Card | None:
    """The family's card in force on `day` (None before its first)."""
    found = None
    for c in CARDS[family_name]:
        if c.since <= day:
            found = c
    return found


def lookup(mapping: Mapping[str, T], model: str) -> T | None:
    """The value of the longest key of `mapping` that the model id equals or starts with followed by "-"
    (the cost drift knob, keyed by prefixes to drift a whole line of models at once; never a price)."""
    best = None
    for key in mapping:
        if (model == key or model.startswith(key + "-")) and (best is None or len(key) > len(best)):
            best = key
    return None if best is None else mapping[best]


class Tokens(NamedTuple):
    """Token counts of one or many succeeded requests, as the results' `usage` reports them."""

    requests: int
    input: int  # `input_tokens`: uncached input (the API's input_tokens excludes cache tokens)
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    output: int

    def __add__(self, other: tuple) -> Tokens:  # type: ignore[override]
        return Tokens(*(a + b for a, b in zip(self, other, strict=True)))

    @property
    def prompt(self) -> int:
        return self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read


NO_TOKENS = Tokens(0, 0, 0, 0, 0, 0)


class Item(NamedTuple):
    """One succeeded request's usage, as its results line reports it."""

    model: str
    tokens: Tokens
    inference_geo: str = "global"
    speed: str = "standard"
    web_searches: int = 0
    # `usage.iterations` billed apart from the top level (iterations.py): (the model that bills it, its tokens).
    apart: tuple[tuple[str, Tokens], ...] = ()


class Part(NamedTuple):
    """One piece of a request's cost, with the dimensions the cost report groups by."""

    context_window: str
    inference_geo: str
    speed: str
    cost_type: str  # "tokens" or "web_search"
    token_type: str | None
    cents: Decimal


def item_parts(item: Item, day: date, tier: str = BATCH_TIER) -> list[Part] | None:
    """The cost of one request, per token type and fee, in exact cents; None when its model has no price."""
    fam = family(item.model)
    c = card(fam, day) if fam else None
    if c is None:
        return None
    t = item.tokens
    long = c.long_over is not None and t.prompt > c.long_over
    rates = c.long_rates if long and c.long_rates else c.rates
    factor = TIER_FACTORS[tier]
    if item.inference_geo == "us" and c.us is not None:
        factor *= c.us
    if item.speed == "fast" and c.fast is not None:
        factor *= c.fast
    counts = (t.input, t.output, t.cache_write_5m, t.cache_write_1h, t.cache_read)
    window = LONG if long else SHORT
    parts = [
        Part(window, item.inference_geo, item.speed, "tokens", kind, n * rate * factor * CENTS_PER_TOKEN_UNIT)
        for kind, n, rate in zip(TOKEN_TYPES, counts, rates, strict=True)
        if n
    ]
    if item.web_searches:
        fee = item.web_searches * WEB_SEARCH_USD_PER_1000 / 1000 * 100
        parts.append(Part(window, item.inference_geo, item.speed, "web_search", None, fee))
    return parts


def cost_cents(family_name: str, tokens: Tokens, tier: str = BATCH_TIER, day: date | None = None) -> Decimal:
    """Exact cost in (fractional) US cents of `tokens` of one request of a priced family at a service tier."""
    when = day or datetime.now(UTC).date()
    parts = item_parts(Item(family_name, tokens), when, tier) or []
    return sum((p.cents for p in parts), Decimal(0))


def cents_str(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: Decimal("1234.5600") -> "1234.56"."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
