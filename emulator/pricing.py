"""The emulator's price table, in ONE place: what the cost report charges for a batch's token usage.

Standard prices in USD per million tokens, by model family. A model id matches a family when it equals the
family or starts with the family followed by "-" (so `claude-sonnet-4-5-20250929` is `claude-sonnet-4-5`);
the longest matching family wins (`claude-opus-4-1-...` is `claude-opus-4-1`, not `claude-opus-4`).
A model of no family has no price: it costs 0 and the cost report shows no row for it.

All arithmetic is `decimal.Decimal`, exact: amounts are reported in fractional cents as strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple, TypeVar

_D = Decimal

# family: (input, output) in USD per million tokens at the standard tier.
PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "claude-opus-4-7": (_D("5"), _D("25")),
    "claude-opus-4-1": (_D("15"), _D("75")),
    "claude-opus-4": (_D("15"), _D("75")),
    "claude-sonnet-4-6": (_D("3"), _D("15")),
    "claude-sonnet-4-5": (_D("3"), _D("15")),
    "claude-sonnet-4": (_D("3"), _D("15")),
    "claude-haiku-4-5": (_D("1"), _D("5")),
    "claude-3-5-haiku": (_D("0.8"), _D("4")),
    "claude-3-haiku": (_D("0.25"), _D("1.25")),
}
# Cache prices as multiples of the input price.
CACHE_WRITE_5M = _D("1.25")
CACHE_WRITE_1H = _D("2")
CACHE_READ = _D("0.1")
# Service tier multipliers of the standard price. The emulator's usage is all batch usage.
TIER_FACTORS: dict[str, Decimal] = {"standard": _D("1"), "batch": _D("0.5")}
BATCH_TIER = "batch"
# cost.amount = cost.list_amount x this. The batch tier's 50% is part of the list price (a published price,
# not a discount), and the emulated organisation has no negotiated discount: the two amounts are equal.
NEGOTIATED_FACTOR = _D("1")
# Cents per USD over tokens per MTok: cents = tokens * USD-per-MTok * CENTS_PER_TOKEN_UNIT.
CENTS_PER_TOKEN_UNIT = _D(100) / _D(1_000_000)

T = TypeVar("T")


def longest_prefix(model: str, prefixes: Iterable[str]) -> str | None:
    """The longest of `prefixes` that `model` equals or starts with followed by "-"."""
    best = None
    for prefix in prefixes:
        if (model == prefix or model.startswith(prefix + "-")) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def family(model: str) -> str | None:
    """The price-table family of a model id, or None when the model has no price."""
    return longest_prefix(model, PRICES)


def lookup(mapping: Mapping[str, T], model: str) -> T | None:
    """The value of the longest key of `mapping` that is a family prefix of `model` (e.g. cost drift)."""
    key = longest_prefix(model, mapping)
    return None if key is None else mapping[key]


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


NO_TOKENS = Tokens(0, 0, 0, 0, 0, 0)


def cost_cents(family_name: str, tokens: Tokens, tier: str = BATCH_TIER) -> Decimal:
    """Exact cost in (fractional) US cents of `tokens` of a priced family at a service tier."""
    price_in, price_out = PRICES[family_name]
    usd_mtok = (
        tokens.input * price_in
        + tokens.output * price_out
        + tokens.cache_write_5m * price_in * CACHE_WRITE_5M
        + tokens.cache_write_1h * price_in * CACHE_WRITE_1H
        + tokens.cache_read * price_in * CACHE_READ
    )
    return usd_mtok * TIER_FACTORS[tier] * CENTS_PER_TOKEN_UNIT


def cents_str(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: Decimal("1234.5600") -> "1234.56"."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
