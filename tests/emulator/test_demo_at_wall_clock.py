"""The demo as bin/start runs it: wall-clock speed, production's request_counts, current models, and
still lively (short batches, new ones every minute or two, none created in the future)."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

import anthropic
import pytest
from anthropic._data import DEPRECATED_MODELS
from anthropic.types import model

from emulator import DEMO_API_KEY, Emulator

ROOT = Path(__file__).resolve().parents[2]
SDK_MODELS = set(model.Model.__args__[0].__args__)


@pytest.fixture
def demo():
    emu = Emulator(scenario="demo", seed=1, speed=0)  # bin/start's demo, with the clock moved by hand
    emu.start()
    client = anthropic.Anthropic(api_key=DEMO_API_KEY, base_url=emu.base_url, max_retries=0)
    yield emu, client
    emu.stop()


def _batches(client: anthropic.Anthropic):
    return {b.id: b for b in client.messages.batches.list(limit=1000)}


def test_bin_start_runs_the_emulator_at_speed_1_without_live_counts():
    (line,) = [line for line in (ROOT / "bin" / "start").read_text().splitlines() if "-m emulator" in line]
    args = shlex.split(line.strip().rstrip("&"))
    assert args[args.index("--speed") + 1] == "1"
    assert "--live-counts" not in args
    assert args[args.index("--scenario") + 1] == "demo"


def test_a_few_batches_are_in_progress_at_start_and_several_end_within_minutes(demo):
    emu, client = demo
    start = _batches(client)
    running = {i for i, b in start.items() if b.processing_status != "ended"}
    assert len(running) >= 5
    emu.advance(6 * 60)
    after = _batches(client)
    assert sum(after[i].processing_status == "ended" for i in running) >= 4


def test_request_counts_stay_processing_until_a_batch_ends(demo):
    emu, client = demo
    for _ in range(4):
        for batch in _batches(client).values():
            counts = batch.request_counts
            if batch.processing_status == "ended":
                assert counts.processing == 0
            else:
                assert counts.succeeded == counts.errored == counts.canceled == counts.expired == 0
                assert counts.processing > 0
        emu.advance(120)


def test_new_batches_appear_every_1_to_2_minutes_and_run_2_to_10_minutes(demo):
    emu, client = demo
    before = set(_batches(client))
    emu.advance(2 * 60)
    assert len(set(_batches(client)) - before) >= 1
    emu.advance(28 * 60)
    emu.advance(15 * 60)  # let the last of them end too
    new = [b for i, b in _batches(client).items() if i not in before]
    assert 15 <= len(new) <= 45
    created = sorted(b.created_at for b in new)
    gaps = [(b - a).total_seconds() for a, b in zip(created, created[1:], strict=False)]
    assert all(60 - 1e-3 <= g <= 120 + 1e-3 for g in gaps), gaps
    ran = [(b.ended_at - b.created_at).total_seconds() for b in new if b.ended_at]
    assert ran and all(120 - 1e-3 <= r <= 600 + 1e-3 for r in ran), ran


def test_no_batch_is_ever_created_in_the_future_of_the_clock(demo):
    emu, client = demo
    for _ in range(10):
        now = emu.now()
        assert all(b.created_at <= now for b in _batches(client).values())
        emu.advance(47)


def test_a_wall_clock_emulator_creates_nothing_after_the_wall_clock():
    emu = Emulator(scenario="demo", seed=3, speed=1)
    emu.start()
    try:
        client = anthropic.Anthropic(api_key=DEMO_API_KEY, base_url=emu.base_url, max_retries=0)
        batches = list(client.messages.batches.list(limit=1000))
        assert batches and max(b.created_at for b in batches) <= datetime.now(UTC)
    finally:
        emu.stop()


def test_the_demo_uses_current_models_only_and_results_show_resolved_dated_ids(demo):
    emu, client = demo
    emu.advance(20 * 60)
    models = {b.model for b in emu.store.batches.values()}
    assert models <= SDK_MODELS
    assert not models & set(DEPRECATED_MODELS)
    assert not any(m.startswith("claude-3") for m in models)
    seen = set()
    for batch in _batches(client).values():
        if batch.processing_status == "ended" and not batch.archived_at and batch.request_counts.succeeded:
            seen |= {
                line.result.message.model
                for line in client.messages.batches.results(batch.id)
                if line.result.type == "succeeded"
            }
    assert seen <= SDK_MODELS
    assert "claude-haiku-4-5-20251001" in seen  # requested as the alias claude-haiku-4-5
    assert "claude-haiku-4-5" not in seen
