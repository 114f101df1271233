"""Batches over the emulated clock: counts, expiry, archiving and the 404-after-create window."""

from __future__ import annotations

from datetime import timedelta

import anthropic
import pytest

from emulator import Emulator

from .conftest import KEY, request

DAY = 86400


def test_counts_stay_processing_until_the_batch_ends_by_default(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 100, status="in_progress", duration=1000)
    emu.advance(900)
    counts = client.messages.batches.retrieve(batch_id).request_counts
    assert counts.processing == 100 and counts.succeeded == 0
    emu.advance(100)
    counts = client.messages.batches.retrieve(batch_id).request_counts
    assert counts.processing == 0 and counts.succeeded + counts.errored == 100


def test_live_counts_move_while_processing(emu: Emulator, client: anthropic.Anthropic):
    emu.live_counts = True
    batch_id = emu.seed_batch(KEY, 200, status="in_progress", duration=1000)
    seen = []
    for _ in range(4):
        emu.advance(240)
        counts = client.messages.batches.retrieve(batch_id).request_counts
        assert counts.processing + counts.succeeded + counts.errored == 200
        seen.append(counts.processing)
    assert seen == sorted(seen, reverse=True) and 0 < seen[-1] < seen[0] < 200


def test_a_batch_running_past_24_hours_expires_the_rest(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 100, status="in_progress", duration=2 * DAY, outcomes={"succeeded": 1})
    emu.advance(DAY)
    batch = client.messages.batches.retrieve(batch_id)
    assert batch.processing_status == "ended"
    assert batch.ended_at == batch.expires_at
    assert 0 < batch.request_counts.expired < 100
    assert batch.request_counts.succeeded + batch.request_counts.expired == 100
    types = {r.result.type for r in client.messages.batches.results(batch_id)}
    assert types == {"succeeded", "expired"}


def test_seeded_canceling_batch_ends_after_the_cancel_delay(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 10, status="canceling")
    batch = client.messages.batches.retrieve(batch_id)
    assert batch.processing_status == "canceling" and batch.cancel_initiated_at is not None
    emu.advance(emu.cancel_delay)
    assert client.messages.batches.retrieve(batch_id).request_counts.canceled == 10


def test_404_right_after_create_then_found(emu: Emulator, client: anthropic.Anthropic):
    emu.not_found_after_create = 5.0
    batch = client.messages.batches.create(requests=[request("a")])
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)
    assert batch.id in {b.id for b in client.messages.batches.list()}
    emu.advance(5)
    assert client.messages.batches.retrieve(batch.id).id == batch.id


def test_archived_batch_keeps_results_url_but_results_are_gone(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 5, created_at=emu.now() - timedelta(days=30))
    batch = client.messages.batches.retrieve(batch_id)
    assert batch.archived_at == batch.created_at + timedelta(days=29)
    assert batch.results_url == f"/v1/messages/batches/{batch_id}/results"
    with pytest.raises(anthropic.NotFoundError) as excinfo:
        list(client.messages.batches.results(batch_id))
    assert excinfo.value.type == "not_found_error"


def test_results_become_archived_as_the_clock_passes_29_days(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 5, created_at=emu.now() - timedelta(days=28))
    assert len(list(client.messages.batches.results(batch_id))) == 5
    emu.advance(DAY)
    assert client.messages.batches.retrieve(batch_id).archived_at is not None
    with pytest.raises(anthropic.NotFoundError):
        list(client.messages.batches.results(batch_id))


def test_clock_moves_with_speed():
    emu = Emulator(seed=1, speed=3600)
    start = emu.now()
    emu.advance(10)
    assert (emu.now() - start).total_seconds() >= 10
    frozen = Emulator(seed=1, speed=0)
    assert frozen.now() == frozen.now()


def test_forced_outcomes_hold_regardless_of_seed(emu: Emulator, client: anthropic.Anthropic):
    errors = ["overloaded_error", "billing_error", "timeout_error"]
    requests = [request(f"e{i}", f"[emulate:errored:{e}] x") for i, e in enumerate(errors)]
    batch_id = emu.create_batch(KEY, requests, duration=10)
    emu.advance(10)
    got = {r.custom_id: r.result.error.error.type for r in client.messages.batches.results(batch_id)}
    assert got == {f"e{i}": e for i, e in enumerate(errors)}


def test_outcome_weights_by_error_type(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 400, outcomes={"succeeded": 0.5, "overloaded_error": 0.5})
    kinds = {
        r.result.error.error.type if r.result.type == "errored" else r.result.type
        for r in client.messages.batches.results(batch_id)
    }
    assert kinds == {"succeeded", "overloaded_error"}


def test_unknown_outcome_key_is_refused(emu: Emulator):
    with pytest.raises(ValueError, match="unknown outcome"):
        emu.seed_batch(KEY, 5, outcomes={"success": 1.0})
