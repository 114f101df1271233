"""The malformed-lines fault: some result lines arrive as invalid JSON, the rest intact."""

import json

from .conftest import KEY, request


def test_malformed_lines_fault_truncates_that_many_lines(emu, client):
    batch_id = emu.seed_batch(KEY, 20, status="ended")
    emu.faults.add(op="results", malformed_lines=3)

    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        lines = response.read().split(b"\n")

    assert lines[-1] == b"" and b"" not in lines[:-1]
    bad = 0
    for line in lines[:-1]:
        try:
            json.loads(line)
        except ValueError:
            bad += 1
    assert (bad, len(lines) - 1) == (3, 20)


def test_the_fault_is_used_once(emu, client):
    batch_id = emu.seed_batch(KEY, 5, status="ended")
    emu.faults.add(op="results", malformed_lines=1)
    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        response.read()
    assert len(list(client.messages.batches.results(batch_id))) == 5


def test_an_after_fault_creates_the_batch_then_answers_an_error(emu, client):
    import anthropic
    import pytest

    emu.faults.add(op="create", status=500, after=True)
    with pytest.raises(anthropic.InternalServerError):
        client.messages.batches.create(requests=[request("a")])
    assert len(client.messages.batches.list().data) == 1


def test_a_drop_fault_creates_the_batch_and_never_answers(emu, client):
    import anthropic
    import pytest

    emu.faults.add(op="create", after=True, drop=True)
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.batches.create(requests=[request("a")])
    assert len(client.messages.batches.list().data) == 1
