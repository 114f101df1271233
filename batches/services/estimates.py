"""The pre-flight estimate of a draft submission: its input tokens, what it may cost, and its budget.

`estimate()` runs in the worker (token counting is an API call). It reads the kept requests once, in
chunks, and sums every request's `max_tokens` per model exactly: the output can cost no more than that.
Input tokens come from the API's own token counting (`POST /v1/messages/count_tokens`):
- a file of at most SAMPLE_SIZE requests is counted whole: the figure is exact;
- a larger one is sampled: a seeded random sample of each model's requests (SAMPLE_SIZE in all, split by
  each model's share, at least MIN_PER_MODEL each), counted, then scaled up to all of them. Scaled by
  size (a straight line through the sample's tokens against its size, applied to the size of every
  request: messages, system and tools as JSON, without images' and documents' base64) or by count (the
  sample's mean times the number of requests), whichever the sample itself shows to be the tighter,
  with a 95% range from the sample's spread.
The estimate keeps tokens only. `preview()` prices them (batch prices in force today) and weighs them
against the workspace's budget when a page shows them, so a price or budget edited since still counts.
It prices by the same rules as ingest (batches/services/pricing/rules.py): requests asking for US-only
inference at the family's geo multiplier; the largest requests (LARGEST kept per model, with their size)
in the long-prompt band when their estimated prompt (size x the model's tokens per character) is over the
family's threshold, every token of them at the long rates. Requests with server tools (web search...)
are counted: their output can exceed max_tokens, so the ceiling is then not a bound.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from batches import client
from batches.errors import APIError
from batches.models import RequestInput, Submission
from batches.services import audit, budgets, handoff
from batches.services.pricing import PriceBook, PriceKey, Tokens, price_cost

log = logging.getLogger(__name__)

SAMPLE_SIZE = 50  # requests counted when a file has more; a file of at most this many is counted whole
MIN_PER_MODEL = 5  # each model in a file gets at least this many of them (or all its requests)
LARGEST = 1000  # per model, the largest requests kept with their size: a long-prompt band is priced on these
READ_CHUNK = 2000
# Two-sided 95% quantiles of Student's t by degrees of freedom (a sample of 5 has 4): its range is honest
# about a small sample. Beyond 30, the normal 1.96.
_T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23,
        12: 2.18, 15: 2.13, 20: 2.09, 25: 2.06, 30: 2.04}  # fmt: skip
_COUNTED = sorted(client.COUNT_TOKENS_FIELDS - {"model", "user_profile_id", "workspace_id"})


@dataclass
class _Model:
    """One model's requests, as the pass over the file finds them."""

    requests: int = 0
    max_tokens: int = 0
    size: int = 0  # characters of what token counting counts (as JSON), over all its requests
    reservoir: list[tuple[int, int]] = field(default_factory=list)  # (input pk, size): a uniform sample
    us: list[int] = field(default_factory=lambda: [0, 0, 0])  # inference_geo "us": requests, size, max_tokens
    server_tools: int = 0  # requests with a server tool (web search, web fetch, code execution...)
    largest: list[tuple[int, int, int]] = field(default_factory=list)  # heap of (size, max_tokens, us)


# --- making the estimate (the worker) ------------------------------------------------------------------
def estimate(submission_id: int) -> None:
    """Count, sample and store the estimate of a draft. Safe to run twice: a stored estimate is kept, and
    the figures are the same either way (the sample is seeded by the submission)."""
    submission = Submission.objects.select_related("workspace").filter(pk=submission_id).first()
    if submission is None or submission.discarded_at or submission.estimated_at:
        return
    rng = random.Random(submission.fingerprint)
    models = _tally(submission, rng)
    total = sum(m.requests for m in models.values())
    exact = total <= SAMPLE_SIZE
    result: dict[str, Any] = {"requests": total, "exact": exact, "sample_size": SAMPLE_SIZE, "models": {}}
    error = ""
    for name, tally in sorted(models.items()):
        entry = {"requests": tally.requests, "max_tokens": tally.max_tokens, "counted": 0, "error": "",
                 "size": tally.size, "us": tally.us, "server_tools": tally.server_tools,
                 "largest": sorted(tally.largest, reverse=True)}  # fmt: skip
        result["models"][name] = entry
        if error:  # the API refused token counting altogether: the other models are not tried
            continue
        chosen = tally.reservoir if exact else _share(tally, total, rng)
        try:
            entry.update(_counted(submission, name, tally, chosen))
        except _ModelRefused as exc:
            entry["error"] = str(exc)
        except APIError as exc:
            error = f"The API's token counting failed: {exc}"
            log.info("estimate of submission %s: %s", submission_id, exc)
    result["counted"] = sum(m["counted"] for m in result["models"].values())
    Submission.objects.filter(pk=submission_id, estimated_at=None, discarded_at=None).update(
        estimate=result, estimated_at=timezone.now(), estimate_error=error
    )


def ask_again(submission: Submission) -> bool:
    """Forget a draft's estimate and have the worker make it again. False: the worker could not be told."""
    Submission.objects.filter(pk=submission.pk).update(
        estimate=None, estimated_at=None, estimate_error="", estimate_asked_at=timezone.now()
    )
    queued = handoff.enqueue(handoff.ESTIMATE_SUBMISSION, submission.pk)
    if not queued:
        failed(submission.pk, NOT_QUEUED)
    return queued


NOT_QUEUED = "The worker could not be reached, so no estimate was made."


def failed(submission_id: int, reason: str) -> None:
    """No estimate is coming (the worker could not be told, or failed): the page says why, and stops waiting."""
    Submission.objects.filter(pk=submission_id, estimated_at=None).update(estimate_error=reason)


def died(submission_id: int, exc: BaseException) -> None:
    """The estimate task died on something not the API's: the draft says so (and can be estimated again or sent),
    and the audit log keeps it. Only the exception's type is written: its text may quote a request."""
    failed(submission_id, "The worker failed while estimating: its log says why.")
    submission = Submission.objects.filter(pk=submission_id).only("workspace_id").first()
    audit.record(None, "submit", f"submission {submission_id}", outcome="error",
                 detail=f"the estimate failed in the worker ({type(exc).__name__}); its log says why",
                 workspace=submission.workspace_id if submission else None)  # fmt: skip


class _ModelRefused(Exception):
    """Token counting refused one model's request (a model no longer served, a request it cannot read):
    that model has no input estimate; the others still do."""


def _tally(submission: Submission, rng: random.Random) -> dict[str, _Model]:
    """One pass over the kept requests, a chunk at a time: counts, max_tokens, sizes and a sample per model."""
    models: dict[str, _Model] = {}
    for pk, params in _inputs(submission):
        tally = models.setdefault(str(params.get("model", "")), _Model())
        size = _size(params)
        max_tokens = int(params.get("max_tokens") or 0)
        tally.requests += 1
        tally.max_tokens += max_tokens
        tally.size += size
        us = int(params.get("inference_geo") == "us")
        if us:
            tally.us = [tally.us[0] + 1, tally.us[1] + size, tally.us[2] + max_tokens]
        if any(_server_tool(tool) for tool in params.get("tools") or ()):
            tally.server_tools += 1
        if len(tally.largest) < LARGEST:
            heapq.heappush(tally.largest, (size, max_tokens, us))
        elif size > tally.largest[0][0]:
            heapq.heapreplace(tally.largest, (size, max_tokens, us))
        # Reservoir sampling (Algorithm R), up to SAMPLE_SIZE a model: one pass, memory of the sample only.
        if len(tally.reservoir) < SAMPLE_SIZE:
            tally.reservoir.append((pk, size))
        elif (j := rng.randrange(tally.requests)) < SAMPLE_SIZE:
            tally.reservoir[j] = (pk, size)
    return models


def _server_tool(tool: Any) -> bool:
    """A tool the API runs itself (its type names a version: web_search_20250305...), not one of the client's."""
    kind = tool.get("type", "") if isinstance(tool, dict) else ""
    return bool(kind) and kind != "custom" and any(ch.isdigit() for ch in kind)


def _inputs(submission: Submission) -> Iterator[tuple[int, dict[str, Any]]]:
    rows = RequestInput.objects.filter(part__submission=submission).order_by("pk").values_list("pk", "params")
    for pk, packed in rows.iterator(chunk_size=READ_CHUNK):
        yield pk, RequestInput.unpacked(packed)


def _size(params: dict[str, Any]) -> int:
    """Characters of what token counting counts, as JSON. Base64 payloads are left out: an image's tokens
    follow its pixels, not its bytes, so they would make the size a poor measure of the tokens."""
    counted = {key: params[key] for key in _COUNTED if key in params}
    text = json.dumps(counted, separators=(",", ":"))
    if '"base64"' in text:  # walked only then: most requests hold none
        text = json.dumps(_without_payloads(counted), separators=(",", ":"))
    return len(text)


def _without_payloads(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("type") == "base64":
            return {k: v for k, v in value.items() if k != "data"}
        return {k: _without_payloads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_payloads(v) for v in value]
    return value


def _share(tally: _Model, total: int, rng: random.Random) -> list[tuple[int, int]]:
    """This model's part of the sample: its share of SAMPLE_SIZE, at least MIN_PER_MODEL, at most all."""
    wanted = min(tally.requests, max(MIN_PER_MODEL, round(SAMPLE_SIZE * tally.requests / total)))
    chosen = list(tally.reservoir)
    rng.shuffle(chosen)  # a reservoir's slots are not in random order: shuffled, any prefix is a fair sample
    return chosen[:wanted]


def _counted(submission: Submission, model: str, tally: _Model, chosen: list[tuple[int, int]]) -> dict[str, Any]:
    """Count the chosen requests of one model with the API and scale them up to all its requests."""
    creds = submission.workspace.credentials
    sizes = dict(chosen)
    inputs = RequestInput.objects.filter(pk__in=sizes).order_by("line").values_list("pk", "line", "params")
    counts: list[tuple[int, int]] = []  # (tokens, size)
    for pk, line, packed in inputs:
        try:
            counts.append((client.count_tokens(creds, RequestInput.unpacked(packed)), sizes[pk]))
        except APIError as exc:
            if exc.status in (400, 404):  # about this request or its model, not about the API as a whole
                raise _ModelRefused(f"the API's token counting refused line {line:,}: {exc}") from exc
            raise
    return {"counted": len(counts), **scale(counts, tally.requests, tally.size)}


def scale(counts: list[tuple[int, int]], requests: int, size: int) -> dict[str, Any]:
    """Input tokens of `requests` requests of `size` characters in all, from the (tokens, size) of a sample.

    Two estimators of the total, each with its variance from the sample (with the finite population
    correction: a sample of all of them has none). By size: the straight line through the sample's
    (size, tokens), applied to the mean size of all of them (it allows for a fixed cost per request,
    which a plain tokens-per-character ratio would scale up with the size). By count: the sample's mean
    tokens. The tighter one is kept. The range is ±t·SE (95%), never below what was counted.
    """
    n = len(counts)
    tokens = [t for t, _ in counts]
    counted = sum(tokens)
    summary = {"sample_min": min(tokens), "sample_max": max(tokens)}
    if n >= requests:
        return {**summary, "input_tokens": counted, "low": counted, "high": counted, "scaled_by": "exact"}
    correction = (1 - n / requests) * requests**2 / n
    mean_tokens = counted / n
    best = ("count", requests * mean_tokens, correction * _variance([t - mean_tokens for t in tokens], 1), n - 1)
    mean_size = sum(s for _, s in counts) / n
    spread = sum((s - mean_size) ** 2 for _, s in counts)
    if spread and n > 2:
        slope = sum((s - mean_size) * (t - mean_tokens) for t, s in counts) / spread
        total = requests * (mean_tokens + slope * (size / requests - mean_size))
        residuals = [t - mean_tokens - slope * (s - mean_size) for t, s in counts]
        by_size = ("size", total, correction * _variance(residuals, 2), n - 2)
        best = by_size if by_size[2] <= best[2] else best
    scaled_by, total, variance, df = best
    half = _t95(df) * math.sqrt(variance)
    low = max(counted, math.floor(total - half))
    return {**summary, "input_tokens": max(counted, round(total)), "low": low,
            "high": max(low, math.ceil(total + half)), "scaled_by": scaled_by}  # fmt: skip


def _variance(residuals: list[float], fitted: int) -> float:
    """The residuals' variance, `fitted` parameters having been estimated from them."""
    df = len(residuals) - fitted
    return sum(r * r for r in residuals) / df if df > 0 else 0.0


def _t95(df: int) -> float:
    """The quantile for `df` degrees of freedom, or for the next fewer the table has (a little wider)."""
    if df > 30:
        return 1.96
    return min((t for k, t in _T95.items() if k <= df), default=0.0)


# --- what a page shows: priced, against the budget -------------------------------------------------------
@dataclass(frozen=True)
class ModelLine:
    model: str
    requests: int
    counted: int
    scaled_by: str  # "exact", "size", "count"; "" when its tokens could not be counted
    input_tokens: int | None  # None: not counted (see `error`)
    low: int | None
    high: int | None
    max_tokens: int  # Σ max_tokens: the most output its requests can produce
    error: str
    priced: bool  # False: no price for this model; its costs are left out of the totals, never taken as $0
    input_low: Decimal | None = None  # cost of the input at batch prices, at the low end of the range
    input_cost: Decimal | None = None
    input_high: Decimal | None = None
    output_ceiling: Decimal | None = None  # every request writing its full max_tokens, at batch prices
    server_tools: int = 0  # requests with server tools: their output can exceed max_tokens (no bound)

    @property
    def ceiling(self) -> Decimal | None:
        """The most this model's requests can cost: the input's high end plus the output ceiling."""
        if self.output_ceiling is None:
            return None
        return (self.input_high or Decimal(0)) + self.output_ceiling


@dataclass(frozen=True)
class BudgetOutlook:
    """Where the workspace's month would stand once this is sent: at the estimate's low end, and at its
    ceiling. Levels as everywhere: "near" from 80%, "over" at 100%."""

    amount: Decimal
    spent: Decimal
    low: Decimal  # spent + the estimate's low end
    high: Decimal  # spent + the ceiling
    level_now: str
    level_low: str
    level_high: str

    @property
    def warns(self) -> bool:
        return bool(self.level_low or self.level_high)

    @property
    def used_now(self) -> Decimal:
        return budgets.used_share(self.spent, self.amount)

    @property
    def used_low(self) -> Decimal:
        return budgets.used_share(self.low, self.amount)

    @property
    def used_high(self) -> Decimal:
        return budgets.used_share(self.high, self.amount)


@dataclass(frozen=True)
class Preview:
    requests: int
    counted: int
    exact: bool
    lines: list[ModelLine]
    budget: BudgetOutlook | None

    @property
    def input_tokens(self) -> int:
        return sum(line.input_tokens or 0 for line in self.lines)

    @property
    def low(self) -> int:
        return sum(line.low or 0 for line in self.lines)

    @property
    def high(self) -> int:
        return sum(line.high or 0 for line in self.lines)

    @property
    def max_tokens(self) -> int:
        return sum(line.max_tokens for line in self.lines)

    @property
    def uncounted(self) -> int:
        """Requests whose input tokens could not be counted (their model's token counting was refused)."""
        return sum(line.requests for line in self.lines if line.input_tokens is None)

    @property
    def unpriced(self) -> list[ModelLine]:
        return [line for line in self.lines if not line.priced]

    @property
    def cost_low(self) -> Decimal:
        """The least it can cost, priced models only: the input's low end, as if nothing were written."""
        return sum((line.input_low or Decimal(0) for line in self.lines), Decimal(0))

    @property
    def cost_high(self) -> Decimal:
        """The most it can cost, priced models only: the input's high end plus every max_tokens written."""
        return sum((line.ceiling or Decimal(0) for line in self.lines), Decimal(0))

    @property
    def input_high(self) -> Decimal:
        return sum((line.input_high or Decimal(0) for line in self.lines), Decimal(0))

    @property
    def output_ceiling(self) -> Decimal:
        return sum((line.output_ceiling or Decimal(0) for line in self.lines), Decimal(0))

    @property
    def scaled(self) -> set[str]:
        return {line.scaled_by for line in self.lines if line.scaled_by not in ("", "exact")}


def preview(submission: Submission, *, today: date | None = None) -> Preview | None:
    """The stored estimate, priced at today's batch prices and weighed against the workspace's budget; None
    before the worker has made one. Two queries: the prices, this month's spend."""
    estimate = submission.estimate
    if not estimate:
        return None
    today = today or datetime.now(UTC).date()
    book = PriceBook()
    lines = [_line(model, entry, book, today) for model, entry in estimate["models"].items()]
    lines.sort(key=lambda line: (-line.requests, line.model))
    found = Preview(estimate["requests"], estimate["counted"], estimate["exact"], lines, None)
    status = budgets.workspace_status(submission.workspace_id, today)
    if status is None:
        return found
    low, high = status.spent + found.cost_low, status.spent + found.cost_high
    outlook = BudgetOutlook(
        amount=status.amount, spent=status.spent, low=low, high=high, level_now=status.level,
        level_low=budgets.level(low, status.amount), level_high=budgets.level(high, status.amount),
    )  # fmt: skip
    return Preview(found.requests, found.counted, found.exact, lines, outlook)


def _line(model: str, entry: dict[str, Any], book: PriceBook, today: date) -> ModelLine:
    price = book.find(model, today)
    line = ModelLine(
        model=model, requests=entry["requests"], counted=entry.get("counted", 0),
        scaled_by=entry.get("scaled_by", ""), input_tokens=entry.get("input_tokens"), low=entry.get("low"),
        high=entry.get("high"), max_tokens=entry["max_tokens"], error=entry.get("error", ""), priced=price is not None,
        server_tools=entry.get("server_tools", 0),
    )  # fmt: skip
    if price is None:
        return line
    groups = _groups(entry, price)

    def cost(input_tokens: int | None = 0, output: int = 0) -> Decimal:
        """`input_tokens` and `output` spread over the requests' price keys in their estimated shares."""
        total = Decimal(0)
        for key, (input_share, output_share) in groups.items():
            tokens = Tokens(input=round((input_tokens or 0) * input_share), output=round(output * output_share))
            priced = price_cost(tokens, price, key)
            total += priced.cost if priced else price_cost(tokens, price).cost  # a key it lacks: standard
        return total

    ceiling = cost(output=line.max_tokens)
    if line.input_tokens is None:  # not counted: only the output's ceiling is known
        return replace(line, output_ceiling=ceiling)
    return replace(line, input_low=cost(line.low), input_cost=cost(line.input_tokens), input_high=cost(line.high),
                   output_ceiling=ceiling)  # fmt: skip


def _groups(entry: dict[str, Any], price: Any) -> dict[PriceKey, tuple[Decimal, Decimal]]:
    """Each price key's share of the model's input (by size) and of its max_tokens: US-only inference, and
    the largest requests whose estimated prompt is over the family's long-prompt threshold."""
    size, max_tokens = entry.get("size") or 0, entry["max_tokens"] or 0
    if not size:
        return {PriceKey(): (Decimal(1), Decimal(1))}
    per_char = Decimal(entry.get("input_tokens") or 0) / size  # the model's tokens per character
    us_size, us_max = (entry.get("us") or [0, 0, 0])[1:]
    sizes = {PriceKey(): Decimal(size - us_size), PriceKey(inference_geo="us"): Decimal(us_size)}
    outs = {PriceKey(): Decimal(max_tokens - us_max), PriceKey(inference_geo="us"): Decimal(us_max)}
    over = price.long_prompt_over
    for req_size, req_max, us in entry.get("largest") or ():
        if over is None or req_size * per_char <= over:
            break  # largest first: the rest are shorter
        short, long = PriceKey(inference_geo="us" if us else ""), PriceKey("long", "us" if us else "")
        sizes[short] -= req_size
        outs[short] -= req_max
        sizes[long] = sizes.get(long, Decimal(0)) + req_size
        outs[long] = outs.get(long, Decimal(0)) + req_max
    return {
        key: (sizes[key] / size, outs[key] / max_tokens if max_tokens else Decimal(0))
        for key in sizes
        if sizes[key] or outs[key]
    }
