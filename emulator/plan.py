"""What happens to each request of a batch: its outcome and when it finishes.

Everything here is a pure function of (seed, batch id, custom_id), so the same emulator seed gives the
same outcomes, the same result order and the same token counts on every run and every call.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from typing import Any, NamedTuple

from .content import DETAILS
from .util import digest

RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")
ERROR_TYPES = (
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "timeout_error",
    "api_error",
    "overloaded_error",
)
DEFAULT_MODEL = "claude-sonnet-4-5-20250929"
# usage.inference_geo of a request that names none (the workspace default the docs mention), as JSON text.
DEFAULT_INFERENCE_GEO = "global"
DEFAULT_GEO_JSON = json.dumps(DEFAULT_INFERENCE_GEO)
# Results report input_tokens = input_chars // CHARS_PER_TOKEN + 1..64 (hash bits; `results._usage`);
# count_tokens answers the base figure input_chars // CHARS_PER_TOKEN for the same messages and system.
CHARS_PER_TOKEN = 4

# 97% succeeded, 3% errored spread evenly over the nine error types.
DEFAULT_OUTCOMES: dict[str, float] = {"succeeded": 0.97, **{e: 0.03 / len(ERROR_TYPES) for e in ERROR_TYPES}}

_MARKER = re.compile(r"\[emulate:(succeeded|expired|canceled|errored)(?::([a-z_]+))?\]")

_U32 = float(1 << 32)


class RequestItem(NamedTuple):
    """What the emulator keeps of one request created over HTTP (not the whole payload)."""

    custom_id: str
    # (result_type, error_type) from an [emulate:...] marker, or ("errored", "not_found_error") when the
    # API serves no such model (models.resolve_model); for "succeeded" the second is a content.DETAILS
    # entry (a stop reason, or every block type) or None
    forced: tuple[str, str | None] | None
    model: str  # what results report: an alias resolved to its dated id; an unknown name as sent
    max_tokens: int
    input_chars: int
    web_search: bool
    geo_json: str = DEFAULT_GEO_JSON  # usage.inference_geo as JSON text (the request's, or the default)
    stop_sequence: str = ""  # the request's first stop_sequences entry: what a forced `stop_sequence` reports
    # Beta features whose sampling is reported in `usage.iterations` (iterations.py), each only under its header:
    compact_over: int | None = None  # compact_20260112's input-token trigger: the prompt compacted at or over it
    advisor: str = ""  # the advisor tool's model (advisor_20260301): consulted once, billed at its own rates
    fallback: str = ""  # the first `fallbacks` model: serves a request the requested model declines (a refusal)


class ItemPlan(NamedTuple):
    custom_id: str
    fraction: float  # finishes at created_at + fraction * duration; in (0, 1]
    result_type: str
    error_type: str | None
    bits: int  # remaining hash bits, used for ids and token counts


OutcomeTable = tuple[tuple[float, str, str | None], ...]


def outcome_table(outcomes: dict[str, float] | None) -> OutcomeTable:
    """Weights -> cumulative thresholds of (result_type, error_type). Raises ValueError on bad keys."""
    weights = DEFAULT_OUTCOMES if outcomes is None else outcomes
    entries: list[tuple[float, str, str | None]] = []
    for key, weight in weights.items():
        if weight < 0:
            raise ValueError(f"outcome weight for {key!r} must be >= 0")
        if weight == 0:
            continue
        if key == "errored":
            # Bare "errored" spreads its weight over all nine error types.
            entries += [(weight / len(ERROR_TYPES), "errored", e) for e in ERROR_TYPES]
        elif key in ERROR_TYPES:
            entries.append((weight, "errored", key))
        elif key in RESULT_TYPES:
            entries.append((weight, key, None))
        else:
            raise ValueError(f"unknown outcome {key!r}; use a result type or one of {', '.join(ERROR_TYPES)}")
    total = sum(w for w, _, _ in entries)
    if total <= 0:
        raise ValueError("outcomes must have at least one positive weight")
    table, acc = [], 0.0
    for weight, result_type, error_type in entries:
        acc += weight / total
        table.append((acc, result_type, error_type))
    return tuple(table)


def forced_outcome(params: dict[str, Any]) -> tuple[str, str | None] | None:
    """Find an [emulate:...] marker in the first user message's text (how tests pick outcomes)."""
    for message in params.get("messages") or ():
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
            content = texts[0] if texts else ""
        match = _MARKER.search(content if isinstance(content, str) else "")
        if not match:
            return None
        result_type, error_type = match.groups()
        if result_type == "errored":
            return "errored", error_type if error_type in ERROR_TYPES else "invalid_request_error"
        if result_type == "succeeded" and error_type in DETAILS:
            return "succeeded", error_type
        return result_type, None
    return None


def plan_item(seed: int, batch_id: str, custom_id: str, table: OutcomeTable, forced=None) -> ItemPlan:
    h = digest(seed, batch_id, custom_id)
    u_outcome = (h & 0xFFFFFFFF) / _U32
    fraction = 1.0 - ((h >> 32) & 0xFFFFFFFF) / _U32  # (0, 1]: nothing finishes at the very start
    if forced is not None:
        result_type, error_type = forced
    else:
        result_type, error_type = table[-1][1], table[-1][2]
        for threshold, rt, et in table:
            if u_outcome < threshold:
                result_type, error_type = rt, et
                break
    return ItemPlan(custom_id, fraction, result_type, error_type, h >> 64)


def seeded_custom_id(index: int) -> str:
    return f"req-{index:06d}"


class BatchPlan:
    """All item plans of one batch, plus sorted finish fractions per result type for fast counting."""

    def __init__(self, items: list[ItemPlan]) -> None:
        self.items = items
        by_type: dict[str, list[float]] = {t: [] for t in RESULT_TYPES}
        for item in items:
            by_type[item.result_type].append(item.fraction)
        for fractions in by_type.values():
            fractions.sort()
        self._fractions = by_type

    def done_counts(self, threshold: float) -> dict[str, int]:
        """How many items of each planned result type have finished by `threshold` (fraction of duration)."""
        return {t: bisect_right(f, threshold) for t, f in self._fractions.items()}
