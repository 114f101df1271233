"""How one request is billed, each rule once, in Decimal. The figures each rule needs are Price columns.

A request's price key is decided from its own line, before anything is summed:
    prompt_band   "long" when its prompt (input + cache writes + cache reads) is over the family's
                  `long_prompt_over` (Haiku 5.5 over 100,000; Sonnet 4.5 / 4 over 200,000): then every
                  token of that request is billed at the long rates
    inference_geo "us" multiplies every token price by the family's `us_multiplier` (1.1 from Opus 4.6 on)
    speed         "fast" multiplies every token price by the family's `fast_multiplier`
A key the family has no figure for (US-only inference on a model that does not offer it, an unknown
geo or speed) is unpriced, never guessed. Tokens of one key are priced linearly, so a sum of requests
of one key costs the sum of their costs:
    tokens   = (input × in + output × out + 5-min writes × w5 + 1-hour writes × w1 + reads × r) / 10^6 × geo × speed
    searches = web searches × fee / 1,000                       (a fee per use: no batch discount)
    standard = tokens + searches
    cost     = tokens × batch_factor + searches                 (what the batch is billed)
    uncached = every input-side token at the input rate, output at the output rate, as `cost` is made
A usage that reports only `cache_creation_input_tokens`, without the 5-minute / 1-hour split, is priced
as 5-minute writes.

The beta `usage.iterations` (SDK 2.17 `BetaIterationsUsage`) report each sampling call of a request. The
top-level usage is the sum of its `message` calls; some calls are billed apart (`billed_apart`), each as a
call of its own (its own prompt band) at the model that ran it, in the request's geo and speed:
    compaction        not in the top-level usage (SDK `BetaUsage.iterations`): the request's own model
    advisor_message   not in the top-level usage, which is the executor's: the advisor's `model` (advisor tool docs)
    message, fallback_message naming another model than the request's (a declined hop before a fallback):
                      part of the top-level sum, so moved out of it to the model it names
    any other type    unpriced (never guessed): we cannot tell whether the top level holds it
"""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass
from decimal import Decimal

from batches.models import Price

MILLION = Decimal(1_000_000)
THOUSAND = Decimal(1000)
LONG = "long"
STANDARD_GEOS = ("", "global")
STANDARD_SPEEDS = ("", "standard")


@dataclass(frozen=True)
class Tokens:
    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    web_searches: int = 0

    @property
    def prompt(self) -> int:
        return self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read


@dataclass(frozen=True)
class PriceKey:
    prompt_band: str = ""
    inference_geo: str = ""
    speed: str = ""


@dataclass(frozen=True)
class Cost:
    cost: Decimal
    standard: Decimal
    uncached: Decimal


@dataclass(frozen=True)
class Rates:
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal


def prompt_band(price: Price, prompt_tokens: int) -> str:
    """The band one request falls in, by its own prompt (never by a sum of requests)."""
    over = price.long_prompt_over
    return LONG if over is not None and prompt_tokens > over else ""


def rates(price: Price, band: str) -> Rates | None:
    if band == "":
        return Rates(price.input, price.output, price.cache_write_5m, price.cache_write_1h, price.cache_read)
    long = (price.long_input, price.long_output, price.long_cache_write_5m, price.long_cache_write_1h,
            price.long_cache_read)  # fmt: skip
    if band != LONG or any(rate is None for rate in long):
        return None
    return Rates(*long)


def multiplier(price: Price, key: PriceKey) -> Decimal | None:
    """Geo times speed; None when the family has no figure for this key (the request is unpriced)."""
    factor = Decimal(1)
    if key.inference_geo not in STANDARD_GEOS:
        if key.inference_geo != "us" or price.us_multiplier is None:
            return None
        factor *= price.us_multiplier
    if key.speed not in STANDARD_SPEEDS:
        if key.speed != "fast" or price.fast_multiplier is None:
            return None
        factor *= price.fast_multiplier
    return factor


def price_cost(tokens: Tokens, price: Price, key: PriceKey = PriceKey()) -> Cost | None:
    """What these tokens of one price key cost at this price; None when the key cannot be priced."""
    r = rates(price, key.prompt_band)
    factor = multiplier(price, key)
    if r is None or factor is None:
        return None
    token_standard = (
        tokens.input * r.input
        + tokens.output * r.output
        + tokens.cache_write_5m * r.cache_write_5m
        + tokens.cache_write_1h * r.cache_write_1h
        + tokens.cache_read * r.cache_read
    ) / MILLION * factor  # fmt: skip
    searches = tokens.web_searches * price.web_search_per_1000 / THOUSAND
    uncached_tokens = (tokens.prompt * r.input + tokens.output * r.output) / MILLION * factor
    return Cost(
        cost=token_standard * price.batch_factor + searches,
        standard=token_standard + searches,
        uncached=uncached_tokens * price.batch_factor + searches,
    )


# --- usage.iterations ----------------------------------------------------------------------------------
APART = ("compaction", "advisor_message")  # billed outside the top-level usage
IN_TOP_LEVEL = ("message", "fallback_message")  # part of the top-level sum
KNOWN_ITERATIONS = APART + IN_TOP_LEVEL


@dataclass(frozen=True)
class Iteration:
    """One call of `usage.iterations` billed apart from its request's own model: its type, the model that
    billed it, and its tokens."""

    type: str
    model: str
    tokens: Tokens


def billed_apart(iterations: str, model: str) -> tuple[list[Iteration], Tokens]:
    """The calls of a result's stored iterations (result_lines) billed apart from its own model, and the
    tokens to take out of its top-level usage (those of calls in it that another model billed)."""
    if not iterations:
        return [], Tokens()
    apart, moved = [], Tokens()
    for kind, named, *counts in json.loads(iterations):
        tokens = Tokens(*counts[:5])
        if kind in IN_TOP_LEVEL:
            if named and named != model:
                apart.append(Iteration(kind, named, tokens))
                moved = Tokens(*(a + b for a, b in zip(astuple(moved), astuple(tokens), strict=True)))
        else:  # a compaction is the request's own model; an unknown type stays unpriced (its `type`)
            apart.append(Iteration(kind, named or model, tokens))
    return apart, moved


def less(top: Tokens, moved: Tokens) -> Tokens:
    """The top-level tokens less those another model billed (never below zero)."""
    return Tokens(*(max(a - b, 0) for a, b in zip(astuple(top), astuple(moved), strict=True)))


# The Cost Report's names for the parts of a cost (its `token_type`; web search is a `cost_type`).
TOKEN_TYPES = (
    ("input", "uncached_input_tokens"), ("output", "output_tokens"),
    ("cache_write_5m", "cache_creation.ephemeral_5m_input_tokens"),
    ("cache_write_1h", "cache_creation.ephemeral_1h_input_tokens"), ("cache_read", "cache_read_input_tokens"),
)  # fmt: skip
WEB_SEARCH = "web_search"


def cost_parts(tokens: Tokens, price: Price, key: PriceKey = PriceKey()) -> dict[str, Decimal] | None:
    """`price_cost(...).cost` split by the Cost Report's token types (and "web_search"): its parts sum to it."""
    r = rates(price, key.prompt_band)
    factor = multiplier(price, key)
    if r is None or factor is None:
        return None
    parts = {
        token_type: getattr(tokens, field) * getattr(r, field) / MILLION * factor * price.batch_factor
        for field, token_type in TOKEN_TYPES
    }
    parts[WEB_SEARCH] = tokens.web_searches * price.web_search_per_1000 / THOUSAND
    return parts
