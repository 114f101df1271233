"""The pre-flight estimate: token counting against the emulator, sampling, batch prices, budgets."""

from __future__ import annotations

import io
import json
import random
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from batches.models import Budget, Price, Submission, UsageRollup
from batches.services import estimates, submit, uploads
from emulator.plan import CHARS_PER_TOKEN
from emulator.validation import input_chars
from tests.builders import batch_request, ended_batch, jsonl

HAIKU, SONNET, OPUS = "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"
UNPRICED = "claude-sonnet-5"  # served by the emulator; its price rows are deleted where a test needs it unpriced
M = Decimal(1_000_000)


@pytest.fixture
def estimated(workspace, make_user):
    """A draft of these requests, estimated by the service as the worker runs it: its preview."""
    owner = make_user("owner", "Operator")

    def make(requests: list[dict]) -> estimates.Preview:
        f = io.BytesIO(jsonl(requests))
        made = submit.prepare_upload(workspace, owner, f, uploads.validate(f), label="", filename="r.jsonl")
        estimates.estimate(made.submission.pk)
        submission = Submission.objects.get(pk=made.submission.pk)
        assert not submission.estimate_error, submission.estimate_error
        return estimates.preview(submission)

    return make


def counted(request: dict) -> int:
    """What the emulator's token counting answers for this request (its README's formula)."""
    return input_chars(request["params"]) // CHARS_PER_TOKEN


def varied(n: int, *, model: str = HAIKU, seed: int = 7, prefix: str = "r") -> list[dict]:
    """Requests of very different sizes (a few words to a few pages), some with a system prompt."""
    rng = random.Random(seed)
    requests = []
    for i in range(n):
        text = "word " * rng.choice([rng.randint(3, 40), rng.randint(40, 400), rng.randint(400, 2500)])
        extra = {"system": "You grade essays. " * rng.randint(1, 30)} if i % 3 == 0 else {}
        requests.append(batch_request(f"{prefix}{i}", text, model=model, max_tokens=rng.randint(16, 4096), **extra))
    return requests


# --- counting --------------------------------------------------------------------------------------------
def test_a_small_file_is_counted_whole_and_exactly(estimated, emulator):
    requests = varied(30)

    preview = estimated(requests)

    (line,) = preview.lines
    assert preview.exact and preview.counted == 30 and emulator.calls["count_tokens"] == 30
    assert line.input_tokens == line.low == line.high == sum(counted(r) for r in requests)
    assert line.scaled_by == "exact" and line.max_tokens == sum(r["params"]["max_tokens"] for r in requests)


def test_a_large_file_is_sampled_and_its_estimate_is_within_one_percent_of_the_truth(estimated, emulator):
    requests = varied(10_000)
    truth = sum(counted(r) for r in requests)

    started = time.monotonic()
    preview = estimated(requests)
    elapsed = time.monotonic() - started

    (line,) = preview.lines
    assert not preview.exact and preview.counted == estimates.SAMPLE_SIZE == 50
    assert emulator.calls["count_tokens"] == 50  # the API is asked about the sample only
    assert line.scaled_by == "size" and line.low <= truth <= line.high
    assert abs(line.input_tokens - truth) / truth < 0.01
    assert (line.high - line.low) / truth < 0.05  # a range narrow enough to act on
    assert line.max_tokens == sum(r["params"]["max_tokens"] for r in requests)  # every request, exactly
    print(f"10,000 requests: estimate {line.input_tokens:,} ({line.low:,}-{line.high:,}), truth {truth:,}, "
          f"error {(line.input_tokens - truth) / truth:+.3%}, {elapsed:.1f} s")  # fmt: skip


def test_each_model_of_a_mixed_file_gets_its_share_of_the_sample_and_at_least_five(estimated, emulator):
    requests = varied(2000) + varied(40, model=SONNET, seed=8, prefix="s") + varied(3, model=OPUS, seed=9, prefix="o")

    preview = estimated(requests)

    by_model = {line.model: line for line in preview.lines}
    assert (by_model[HAIKU].counted, by_model[SONNET].counted) == (49, 5)
    assert by_model[OPUS].counted == 3 and by_model[OPUS].scaled_by == "exact"
    assert [line.requests for line in preview.lines] == [2000, 40, 3]  # most requests first
    for model, line in by_model.items():
        truth = sum(counted(r) for r in requests if r["params"]["model"] == model)
        assert line.low <= truth <= line.high, model


def test_the_same_draft_is_sampled_the_same_way_each_time(estimated, workspace):
    estimated(varied(500))
    submission = Submission.objects.get()
    first = submission.estimate

    Submission.objects.filter(pk=submission.pk).update(estimated_at=None, estimate=None)
    estimates.estimate(submission.pk)

    assert Submission.objects.get().estimate == first


def test_a_stored_estimate_is_kept_when_the_task_runs_again(estimated, emulator):
    estimated(varied(5))
    estimates.estimate(Submission.objects.get().pk)
    assert emulator.calls["count_tokens"] == 5


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([(100, 400), (200, 800)], {"input_tokens": 300, "low": 300, "high": 300, "scaled_by": "exact"}),
        # Sizes that say nothing (all the same): scaled by the number of requests.
        ([(90, 500), (110, 500), (100, 500), (100, 500)], {"input_tokens": 1000, "scaled_by": "count"}),
    ],
)
def test_scaling_a_sample(counts, expected):
    requests = 2 if expected["scaled_by"] == "exact" else 10
    found = estimates.scale(counts, requests, 500 * requests)
    assert found.items() >= expected.items()
    assert found["low"] <= found["input_tokens"] <= found["high"]


# --- prices ----------------------------------------------------------------------------------------------
def test_the_cost_range_is_the_input_at_batch_prices_up_to_the_max_tokens_ceiling_per_model(estimated):
    haiku = [batch_request(f"h{i}", "hello " * 50, model=HAIKU, max_tokens=1000) for i in range(2)]
    sonnet = [batch_request(f"s{i}", "bonjour " * 80, model=SONNET, max_tokens=4000) for i in range(3)]

    preview = estimated(haiku + sonnet)

    by_model = {line.model: line for line in preview.lines}
    h_in, s_in = sum(map(counted, haiku)), sum(map(counted, sonnet))
    # Standard $1 / $5 (haiku) and $3 / $15 (sonnet) per million tokens; batches cost half.
    assert by_model[HAIKU].input_cost == h_in * Decimal(1) / M * Decimal("0.5")
    assert by_model[HAIKU].output_ceiling == 2000 * Decimal(5) / M * Decimal("0.5") == Decimal("0.005")
    assert by_model[SONNET].input_cost == s_in * Decimal(3) / M * Decimal("0.5")
    assert by_model[SONNET].output_ceiling == 12_000 * Decimal(15) / M * Decimal("0.5") == Decimal("0.09")
    assert preview.cost_low == by_model[HAIKU].input_cost + by_model[SONNET].input_cost
    assert preview.cost_high == preview.cost_low + Decimal("0.095")
    assert all(isinstance(v, Decimal) for v in (preview.cost_low, preview.cost_high))


def test_the_estimate_prices_each_request_by_the_rules_ingest_uses(estimated):
    long = batch_request("long", "x" * 440_000, model="claude-haiku-5-5", max_tokens=1000)  # ~110,000 tokens
    short = batch_request("short", "hello", model="claude-haiku-5-5", max_tokens=1000)
    us = batch_request("us", "hello " * 50, model="claude-opus-4-6", max_tokens=1000, inference_geo="us")
    plain = batch_request("plain", "hello " * 50, model="claude-opus-4-6", max_tokens=1000)
    web = batch_request("web", "look it up", model=SONNET, max_tokens=1000,
                        tools=[{"type": "web_search_20250305", "name": "web_search"}])  # fmt: skip

    by_model = {line.model: line for line in estimated([long, short, us, plain, web]).lines}

    # Haiku 5.5: the long request's 1,000 tokens at $2.50 ($0.00125 at batch prices), the short one's at
    # $0.50 ($0.00025): the band is decided per request, not for the model's sum.
    assert by_model["claude-haiku-5-5"].output_ceiling == Decimal("0.0015")
    long_in, short_in = counted(long), counted(short)
    expected_in = (long_in * Decimal("0.5") + short_in * Decimal("0.1")) / M / 2  # each at its band's rate
    assert abs(by_model["claude-haiku-5-5"].input_cost - expected_in) < Decimal("0.0001")  # split by size
    # Opus 4.6: US-only inference at 1.1x: 1,000 x $27.50 and 1,000 x $25 per million, halved.
    assert by_model["claude-opus-4-6"].output_ceiling == Decimal("0.02625")
    # A server tool's output can exceed max_tokens: the page says the ceiling is not a bound.
    assert by_model[SONNET].server_tools == 1 and by_model["claude-opus-4-6"].server_tools == 0


def test_a_model_without_a_price_is_flagged_unpriced_and_left_out_never_counted_as_zero(estimated):
    Price.objects.filter(family=UNPRICED).delete()
    preview = estimated([batch_request("a", model=HAIKU), batch_request("b", model=UNPRICED)])

    (unpriced,) = preview.unpriced
    assert unpriced.model == UNPRICED and unpriced.input_tokens > 0  # counted, but not priced
    assert unpriced.input_cost is None and unpriced.output_ceiling is None and unpriced.ceiling is None
    priced = next(line for line in preview.lines if line.priced)
    assert preview.cost_high == priced.ceiling


def test_a_model_the_api_no_longer_serves_has_no_input_estimate_and_the_others_still_do(estimated, workspace):
    preview = estimated([batch_request("a", model=HAIKU), batch_request("old", model="claude-sonnet-4-5")])

    by_model = {line.model: line for line in preview.lines}
    retired = by_model["claude-sonnet-4-5"]
    assert retired.input_tokens is None and "not_found_error" in retired.error and "line 2" in retired.error
    assert retired.output_ceiling == 64 * Decimal(15) / M * Decimal("0.5")  # its ceiling needs no API
    assert by_model[HAIKU].input_tokens > 0 and preview.uncounted == 1


def test_token_counting_refused_altogether_is_recorded_and_the_output_ceiling_is_still_known(
    workspace, make_user, emulator
):
    emulator.faults.add(op="count_tokens", status=403, error_type="permission_error", times=-1)
    f = io.BytesIO(jsonl([batch_request("a", max_tokens=500), batch_request("b", max_tokens=700)]))
    made = submit.prepare_upload(workspace, make_user("o", "Operator"), f, uploads.validate(f), label="", filename="")

    estimates.estimate(made.submission.pk)

    submission = Submission.objects.get()
    assert submission.estimated_at and "permission_error" in submission.estimate_error
    (line,) = estimates.preview(submission).lines
    assert line.input_tokens is None and line.max_tokens == 1200 and line.output_ceiling > 0
    assert emulator.calls["count_tokens"] == 1  # refused once: not asked again for every request


def test_an_estimate_task_that_dies_leaves_the_draft_saying_so_and_an_audit_row(workspace, make_user, monkeypatch):
    from batches import tasks
    from batches.models import AuditEvent

    f = io.BytesIO(jsonl([batch_request("a", "a-secret-prompt")]))
    made = submit.prepare_upload(workspace, make_user("o", "Operator"), f, uploads.validate(f), label="", filename="")

    def broken(submission, rng):
        raise RuntimeError("injected: a-secret-prompt")

    monkeypatch.setattr(estimates, "_tally", broken)
    with pytest.raises(RuntimeError):
        tasks.estimate_submission(made.submission.pk)  # the task still fails, for the worker's log

    submission = Submission.objects.get()
    assert submission.estimated_at is None
    assert submission.estimate_error == "The worker failed while estimating: its log says why."
    (row,) = AuditEvent.objects.filter(outcome="error")
    assert (row.action, row.target, row.workspace_id, row.actor_name) == (
        "submit",
        f"submission {submission.pk}",
        workspace.pk,
        "system",
    )
    assert "RuntimeError" in row.detail and "a-secret-prompt" not in row.detail


# --- budgets ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spent", "level_low", "level_high"),
    [("0.40", "", ""), ("0.60", "", "near"), ("0.79", "", "over"), ("0.80", "near", "over"), ("1.00", "over", "over")],
)
def test_the_budget_warns_when_the_low_end_or_the_ceiling_crosses_80_or_100_percent(
    estimated, workspace, spent, level_low, level_high
):
    Budget.objects.create(workspace=workspace, monthly_amount=Decimal(1))
    _spent(workspace, Decimal(spent))
    # One short haiku request that may write 85,000 tokens: $0.2125 of output at most, a few millionths of input.
    preview = estimated([batch_request("a", "hello", model=HAIKU, max_tokens=85_000)])

    budget = preview.budget
    assert (budget.level_low, budget.level_high) == (level_low, level_high)
    assert budget.spent == Decimal(spent) and budget.high == Decimal(spent) + preview.cost_high


def test_no_budget_no_outlook(estimated):
    assert estimated([batch_request("a")]).budget is None


def _spent(workspace, cost: Decimal) -> None:
    """This month's usage of the workspace, already priced at `cost`."""
    batch = ended_batch("spent", datetime.now(UTC), workspace=workspace.name)
    UsageRollup.objects.create(
        batch=batch, workspace=workspace, model=HAIKU, day=datetime.now(UTC).date(), requests=1, input_tokens=0,
        output_tokens=0, cache_write_5m_tokens=0, cache_write_1h_tokens=0, cache_read_tokens=0, cost=cost,
        standard_cost=cost * 2, uncached_cost=cost,
    )  # fmt: skip


def test_requests_with_images_are_sized_without_their_base64(estimated):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 50_000}}
    with_image = {"role": "user", "content": [image, {"type": "text", "text": "What is this?"}]}
    params = {"model": HAIKU, "max_tokens": 10, "messages": [with_image]}
    assert estimates._size(params) < 300
    assert json.dumps(params).count("A") >= 50_000  # left as it was: only its size is measured
