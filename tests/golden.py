"""A hand-priced golden set: one line per rule and per model family, with what it costs at batch prices.

Every figure below was worked out by hand from the published prices (USD per million tokens, standard
tier; the batch tier is 50% of every token type; web search is $10 per 1,000 searches, not discounted),
never by the code under test. batches/data/price_book.json says where each price was read.

Batch "golden_dec" ends 2026-12-01 (UTC):
  fable52        Fable 5.2 $8/$40: 100,000 in 0.80 + 10,000 out 0.40 = 1.20                        -> 0.60
  mythos52       Mythos 5.2, the same                                                              -> 0.60
  fable51        Fable 5.1 $10 in, read $0.25: 100,000 in 1.00 + 1,000,000 read 0.25 = 1.25        -> 0.625
  mythos51       Mythos 5.1, the same                                                              -> 0.625
  fable5         Fable 5 $10 in, read $1: 100,000 in 1.00 + 1,000,000 read 1.00 = 2.00             -> 1.00
  mythos5        Mythos 5, the same                                                                -> 1.00
  mythospreview  Mythos Preview $25/$125: 10,000 in 0.25 + 10,000 out 1.25 = 1.50                  -> 0.75
  opus55         Opus 5.5 $4/$20, read $0.20: 100,000 in 0.40 + 1,000,000 read 0.20 + 10,000 out 0.20
                 = 0.80                                                                            -> 0.40
  opus5-1h       Opus 5 $5/$25, 1-hour write $10: 100,000 in 0.50 + 100,000 1h 1.00 + 10,000 out 0.25
                 = 1.75                                                                            -> 0.875
  opus48         Opus 4.8 $5/$25 (not the retired Opus 4's $15/$75): 100,000 in 0.50 + 20,000 out
                 0.50 = 1.00                                                                       -> 0.50
  opus47-5m      Opus 4.7, 5-minute write $6.25: 100,000 in 0.50 + 100,000 5m 0.625 = 1.125         -> 0.5625
  opus46-us      Opus 4.6, inference_geo "us" (1.1x): (0.50 + 20,000 out 0.50) × 1.1 = 1.10        -> 0.55
  opus46-fast    Opus 4.6, speed "fast" (6x): (100,000 in 0.50 + 20,000 out 0.50) × 6 = 6.00       -> 3.00
  opus45-dated   claude-opus-4-5-20251101 $5/$25: 100,000 in 0.50 + 20,000 out 0.50 = 1.00          -> 0.50
  opus45         claude-opus-4-5, the same                                                         -> 0.50
  sonnet55       Sonnet 5.5 $2/$10, read $0.10 since 2026-10-07: 100,000 in 0.20 + 1,000,000 read
                 0.10 + 10,000 out 0.10 = 0.40                                                     -> 0.20
  sonnet5        Sonnet 5 $2/$10, read $0.20: 0.20 + 0.20 + 0.10 = 0.50                             -> 0.25
  sonnet46-web   Sonnet 4.6 $3/$15: 100,000 in 0.30 + 10,000 out 0.15 = 0.45 -> 0.225; 3 searches
                 0.03 (no discount)                                                                -> 0.255
  sonnet46-us    Sonnet 4.6, "us": 1,000,000 in 3.00 × 1.1 = 3.30                                  -> 1.65
  haiku55-short  Haiku 5.5, a prompt of exactly 100,000 (not over): 100,000 in × $0.10 = 0.01
                 + 100,000 out × $0.50 = 0.05 = 0.06                                               -> 0.03
  haiku55-long   Haiku 5.5, prompt 50,000 in + 60,000 read = 110,000 (over): every token at the
                 long rates: 50,000 × $0.50 = 0.025 + 60,000 × $0.05 = 0.003 + 100,000 out ×
                 $2.50 = 0.25; = 0.278                                                             -> 0.139
  haiku45        Haiku 4.5 $1: 1,000,000 in = 1.00                                                 -> 0.50
  haiku45-dated  claude-haiku-4-5-20251001, the same                                               -> 0.50
  unknown        claude-opus-9: no price: unpriced, never $0
  errored, canceled, expired: not billed                                                           -> 0
  Batch total: 0.60+0.60+0.625+0.625+1.00+1.00+0.75+0.40+0.875+0.50+0.5625+0.55+3.00+0.50+0.50+0.20
               +0.25+0.255+1.65+0.03+0.139+0.50+0.50 = 15.6115 (shown $15.61), 1 request unpriced.

Batch "golden_oct" ends 2026-10-01 (before Sonnet 5.5's read price cut):
  sonnet45-short Sonnet 4.5 dated id, prompt 200,000 (not over): 200,000 in 0.60 + 10,000 out 0.15
                 = 0.75                                                                            -> 0.375
  sonnet45-long  Sonnet 4.5, prompt 150,000 in + 60,000 5m writes = 210,000 (over 200K): $6 in, $7.50
                 5m, $22.50 out: 0.90 + 0.45 + 10,000 out 0.225 = 1.575                             -> 0.7875
  sonnet55-old   Sonnet 5.5, read still $0.20: 0.20 + 0.20 + 0.10 = 0.50                            -> 0.25
  Batch total: 0.375 + 0.7875 + 0.25 = 1.4125 (shown $1.41).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

DEC = datetime(2026, 12, 1, 12, tzinfo=UTC)
OCT = datetime(2026, 10, 1, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Line:
    custom_id: str
    model: str
    cost: Decimal | None  # at batch prices; None: unpriced
    usage: dict[str, Any] = field(default_factory=dict)
    result_type: str = "succeeded"


def _write_5m(n: int) -> dict[str, int]:
    return {"cache_creation_input_tokens": n, "cache_creation_5m_input_tokens": n}


def _write_1h(n: int) -> dict[str, int]:
    return {"cache_creation_input_tokens": n, "cache_creation_1h_input_tokens": n}


IN_OUT = {"input_tokens": 100_000, "output_tokens": 20_000}
IN_READ = {"input_tokens": 100_000, "cache_read_input_tokens": 1_000_000}
IN_READ_OUT = {**IN_READ, "output_tokens": 10_000}

DECEMBER = [
    Line("fable52", "claude-fable-5-2", Decimal("0.60"), {"input_tokens": 100_000, "output_tokens": 10_000}),
    Line("mythos52", "claude-mythos-5-2", Decimal("0.60"), {"input_tokens": 100_000, "output_tokens": 10_000}),
    Line("fable51", "claude-fable-5-1", Decimal("0.625"), IN_READ),
    Line("mythos51", "claude-mythos-5-1", Decimal("0.625"), IN_READ),
    Line("fable5", "claude-fable-5", Decimal("1.00"), IN_READ),
    Line("mythos5", "claude-mythos-5", Decimal("1.00"), IN_READ),
    Line("mythospreview", "claude-mythos-preview", Decimal("0.75"), {"input_tokens": 10_000, "output_tokens": 10_000}),
    Line("opus55", "claude-opus-5-5", Decimal("0.40"), IN_READ_OUT),
    Line(
        "opus5-1h",
        "claude-opus-5",
        Decimal("0.875"),
        {"input_tokens": 100_000, "output_tokens": 10_000, **_write_1h(100_000)},
    ),  # fmt: skip
    Line("opus48", "claude-opus-4-8", Decimal("0.50"), IN_OUT),
    Line("opus47-5m", "claude-opus-4-7", Decimal("0.5625"), {"input_tokens": 100_000, **_write_5m(100_000)}),
    Line("opus46-us", "claude-opus-4-6", Decimal("0.55"), {**IN_OUT, "inference_geo": "us"}),
    Line("opus46-fast", "claude-opus-4-6", Decimal("3.00"), {**IN_OUT, "speed": "fast"}),
    Line("opus45-dated", "claude-opus-4-5-20251101", Decimal("0.50"), IN_OUT),
    Line("opus45", "claude-opus-4-5", Decimal("0.50"), IN_OUT),
    Line("sonnet55", "claude-sonnet-5-5", Decimal("0.20"), IN_READ_OUT),
    Line("sonnet5", "claude-sonnet-5", Decimal("0.25"), IN_READ_OUT),
    Line(
        "sonnet46-web",
        "claude-sonnet-4-6",
        Decimal("0.255"),
        {"input_tokens": 100_000, "output_tokens": 10_000, "web_search_requests": 3},
    ),  # fmt: skip
    Line("sonnet46-us", "claude-sonnet-4-6", Decimal("1.65"), {"input_tokens": 1_000_000, "inference_geo": "us"}),
    Line("haiku55-short", "claude-haiku-5-5", Decimal("0.03"), {"input_tokens": 100_000, "output_tokens": 100_000}),
    Line(
        "haiku55-long",
        "claude-haiku-5-5",
        Decimal("0.139"),
        {"input_tokens": 50_000, "cache_read_input_tokens": 60_000, "output_tokens": 100_000},
    ),  # fmt: skip
    Line("haiku45", "claude-haiku-4-5", Decimal("0.50"), {"input_tokens": 1_000_000}),
    Line("haiku45-dated", "claude-haiku-4-5-20251001", Decimal("0.50"), {"input_tokens": 1_000_000}),
    Line("unknown", "claude-opus-9", None, {"input_tokens": 1000, "output_tokens": 1000}),
    Line("errored", "claude-opus-4-8", Decimal(0), {"error_type": "overloaded_error"}, "errored"),
    Line("canceled", "claude-opus-4-8", Decimal(0), {}, "canceled"),
    Line("expired", "claude-opus-4-8", Decimal(0), {}, "expired"),
]
DECEMBER_TOTAL = Decimal("15.6115")
DECEMBER_UNPRICED = 1

OCTOBER = [
    Line(
        "sonnet45-short",
        "claude-sonnet-4-5-20250929",
        Decimal("0.375"),
        {"input_tokens": 200_000, "output_tokens": 10_000},
    ),  # fmt: skip
    Line(
        "sonnet45-long",
        "claude-sonnet-4-5-20250929",
        Decimal("0.7875"),
        {"input_tokens": 150_000, "output_tokens": 10_000, **_write_5m(60_000)},
    ),  # fmt: skip
    Line("sonnet55-old", "claude-sonnet-5-5", Decimal("0.25"), IN_READ_OUT),
]
OCTOBER_TOTAL = Decimal("1.4125")


def store(batch: Any, lines: list[Line]) -> None:
    """The lines as result rows of `batch` (tests/builders.stored_result)."""
    from tests.builders import stored_result

    for line in lines:
        stored_result(batch, line.custom_id, line.model, line.result_type, **line.usage)


def result_line(line: Line) -> bytes:
    """The line as the API writes it in a results file (`MessageBatchIndividualResponse`)."""
    import json

    u = line.usage
    if line.result_type == "errored":
        error = {"type": "error", "error": {"type": u.get("error_type", "api_error"), "message": "x"}}
        result: dict[str, Any] = {"type": "errored", "error": error}
    elif line.result_type != "succeeded":
        result = {"type": line.result_type}
    else:
        usage: dict[str, Any] = {
            "input_tokens": u.get("input_tokens", 0), "output_tokens": u.get("output_tokens", 0),
            "cache_creation_input_tokens": u.get("cache_creation_input_tokens", 0),
            "cache_read_input_tokens": u.get("cache_read_input_tokens", 0),
            "cache_creation": {"ephemeral_5m_input_tokens": u.get("cache_creation_5m_input_tokens", 0),
                               "ephemeral_1h_input_tokens": u.get("cache_creation_1h_input_tokens", 0)},
            "server_tool_use": {"web_search_requests": u.get("web_search_requests", 0), "web_fetch_requests": 0},
            "service_tier": "batch", "inference_geo": u.get("inference_geo", "global"),
            "speed": u.get("speed", "standard"),
        }  # fmt: skip
        message = {"id": f"msg_{line.custom_id}", "type": "message", "role": "assistant", "model": line.model,
                   "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": usage}  # fmt: skip
        result = {"type": "succeeded", "message": message}
    return json.dumps({"custom_id": line.custom_id, "result": result}).encode()
