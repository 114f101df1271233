"""Fault injection as the SDK experiences it: error statuses, retry-after, delays and cut streams."""

from __future__ import annotations

import json
import time
import urllib.request

import anthropic
import pytest

from emulator import Emulator

from .conftest import KEY


def test_429_carries_retry_after_and_the_sdk_honours_it(emu: Emulator):
    emu.faults.add(op="list", status=429, retry_after=0.3)
    client = anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=1)

    started = time.monotonic()
    page = client.messages.batches.list()

    assert page.data == []
    assert time.monotonic() - started >= 0.3
    assert emu.calls["list"] == 2  # the faulted call counts too


def test_429_without_retries_is_a_rate_limit_error(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", status=429)
    with pytest.raises(anthropic.RateLimitError) as excinfo:
        client.messages.batches.list()
    assert excinfo.value.type == "rate_limit_error"
    assert excinfo.value.response.headers["retry-after"] == "1"


def test_529_is_an_overloaded_error(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="retrieve", status=529)
    batch_id = emu.seed_batch(KEY, 1)
    with pytest.raises(anthropic.OverloadedError):
        client.messages.batches.retrieve(batch_id)
    assert client.messages.batches.retrieve(batch_id).id == batch_id  # used up after one call


def test_500_with_custom_message_and_times(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="*", status=500, times=2, message="boom")
    for _ in range(2):
        with pytest.raises(anthropic.InternalServerError, match="boom"):
            client.messages.batches.list()
    client.messages.batches.list()


def test_error_type_override(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="create", status=403, error_type="permission_error", message="nope")
    with pytest.raises(anthropic.PermissionDeniedError) as excinfo:
        client.messages.batches.create(requests=[])
    assert excinfo.value.type == "permission_error"


def test_delay_slows_the_response(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", delay=0.3)
    started = time.monotonic()
    client.messages.batches.list()
    assert time.monotonic() - started >= 0.3


def test_cut_results_stream_raises_in_the_sdk(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 500, line_bytes=1000)
    emu.faults.add(op="results", cut_after_lines=10)
    received = []
    with pytest.raises(Exception):  # noqa: B017 - httpx2 raises a protocol/read error mid-iteration
        for line in client.messages.batches.results(batch_id):
            received.append(line.custom_id)
    assert 0 < len(received) <= 10
    assert len(list(client.messages.batches.results(batch_id))) == 500  # the next call is whole again


def test_cut_fault_is_not_used_up_by_other_ops(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="*", cut_after_lines=1)
    batch_id = emu.seed_batch(KEY, 5)
    client.messages.batches.list()
    client.messages.batches.retrieve(batch_id)
    assert len(emu.faults.pending()) == 1


def test_clear_removes_pending_faults(emu: Emulator, client: anthropic.Anthropic):
    emu.faults.add(op="list", status=500, times=-1)
    emu.faults.clear()
    client.messages.batches.list()


def test_faults_via_the_control_endpoint(emu: Emulator, client: anthropic.Anthropic):
    body = json.dumps({"op": "list", "status": 529}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{emu.base_url}/_emulator/faults", data=body, method="POST"))
    with pytest.raises(anthropic.OverloadedError):
        client.messages.batches.list()
    calls = json.load(urllib.request.urlopen(f"{emu.base_url}/_emulator/calls"))
    assert calls["list"] == 1


def test_calls_counts_each_op(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 2)
    list(client.messages.batches.results(batch_id))  # the SDK retrieves first, then fetches results
    client.messages.batches.list()
    expected = {"list": 1, "retrieve": 1, "create": 0, "cancel": 0, "delete": 0, "results": 1, "cost": 0}
    assert emu.calls == {**expected, "count_tokens": 0}
    emu.reset_calls()
    assert sum(emu.calls.values()) == 0


def test_a_per_batch_fault_strikes_each_batchs_first_calls_only(emu, client):
    ids = emu.seed_batches(KEY, 3, status="ended", n_requests=2)
    emu.faults.add(op="retrieve", status=500, per_batch=True, times=1)

    for batch_id in ids:
        with pytest.raises(anthropic.InternalServerError):
            client.messages.batches.retrieve(batch_id)
        assert client.messages.batches.retrieve(batch_id).id == batch_id  # its second call is answered

    assert len(emu.faults.pending()) == 1  # it stays for batches not met yet


def test_a_fault_aimed_at_one_batch_leaves_the_others_alone(emu, client):
    first, second = emu.seed_batches(KEY, 2, status="ended", n_requests=2)
    emu.faults.add(op="retrieve", status=500, batch_id=second)

    assert client.messages.batches.retrieve(first).id == first
    with pytest.raises(anthropic.InternalServerError):
        client.messages.batches.retrieve(second)


def test_a_random_storm_strikes_about_its_share_and_the_same_calls_every_run(emu, client):
    (batch_id,) = emu.seed_batches(KEY, 1, status="ended", n_requests=2)

    def storm() -> list[bool]:
        emu.faults.clear()
        emu.faults.add(op="retrieve", status=529, times=-1, probability=0.45, seed=7)
        struck = []
        for _ in range(400):
            try:
                client.messages.batches.retrieve(batch_id)
                struck.append(False)
            except anthropic.APIStatusError:
                struck.append(True)
        return struck

    first = storm()
    assert 0.38 < sum(first) / len(first) < 0.52
    assert storm() == first
