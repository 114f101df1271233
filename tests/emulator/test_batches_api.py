"""The emulator through the official SDK: create, retrieve, list, cancel, delete, results."""

from __future__ import annotations

import json
import re

import anthropic
import pytest

from emulator import Emulator

from .conftest import KEY, OTHER_KEY, request

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_create_returns_an_in_progress_batch_with_all_fields(emu: Emulator, client: anthropic.Anthropic):
    batch = client.messages.batches.create(requests=[request("a"), request("b")])

    assert re.fullmatch(r"msgbatch_[0-9A-Za-z]{24}", batch.id)
    assert batch.type == "message_batch"
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 2
    assert batch.results_url is None and batch.ended_at is None and batch.archived_at is None
    assert (batch.expires_at - batch.created_at).total_seconds() == 24 * 3600
    assert batch._request_id.startswith("req_")


def test_wire_timestamps_are_rfc3339_with_z(emu: Emulator, client: anthropic.Anthropic):
    batch_id = client.messages.batches.create(requests=[request("a")]).id
    emu.advance(3600)
    raw = client.messages.batches.with_raw_response.retrieve(batch_id)
    body = json.loads(raw.text())

    for field in ("created_at", "expires_at", "ended_at"):
        assert RFC3339_Z.match(body[field]), body[field]
    assert body["cancel_initiated_at"] is None and body["archived_at"] is None
    assert body["results_url"] == f"/v1/messages/batches/{batch_id}/results"
    assert raw.headers["request-id"].startswith("req_")


def test_batch_ends_after_its_duration(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.create_batch(KEY, [request("a")], duration=120)
    emu.advance(119)
    assert client.messages.batches.retrieve(batch_id).processing_status == "in_progress"
    emu.advance(1)
    batch = client.messages.batches.retrieve(batch_id)
    assert batch.processing_status == "ended"
    assert batch.request_counts.succeeded == 1 and batch.request_counts.processing == 0


def test_results_iterate_with_the_sdk(emu: Emulator, client: anthropic.Anthropic):
    requests = [
        request("ok", "[emulate:succeeded] hi", model="claude-haiku-4-5-20251001"),
        request("bad", "[emulate:errored:invalid_request_error] hi"),
        request("gone", "[emulate:expired] hi"),
        request("stop", [{"type": "text", "text": "[emulate:canceled] hi"}]),
    ]
    batch_id = emu.create_batch(KEY, requests, duration=60)
    emu.advance(60)

    results = {r.custom_id: r.result for r in client.messages.batches.results(batch_id)}

    assert {k: v.type for k, v in results.items()} == {
        "ok": "succeeded",
        "bad": "errored",
        "gone": "expired",
        "stop": "canceled",
    }
    message = results["ok"].message
    assert message.id.startswith("msg_") and message.role == "assistant" and message.type == "message"
    assert message.model == "claude-haiku-4-5-20251001"
    assert message.content[0].type == "text" and message.stop_sequence is None
    usage = message.usage
    assert usage.service_tier == "batch"
    cache = usage.cache_creation
    assert cache.ephemeral_5m_input_tokens + cache.ephemeral_1h_input_tokens == usage.cache_creation_input_tokens
    assert results["bad"].error.error.type == "invalid_request_error"
    assert results["bad"].error.request_id.startswith("req_")


def test_results_with_streaming_response_are_clean_jsonl(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 300, outcomes={"succeeded": 0.5, "errored": 0.3, "expired": 0.2})
    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        raw = response.read()

    assert raw.endswith(b"\n") and b"\n\n" not in raw and b"\r" not in raw
    lines = [json.loads(line) for line in raw.split(b"\n")[:-1]]
    assert len(lines) == 300
    assert {line["result"]["type"] for line in lines} == {"succeeded", "errored", "expired"}


def test_web_search_requests_report_server_tool_use(emu: Emulator, client: anthropic.Anthropic):
    tools = [{"type": "web_search_20250305", "name": "web_search"}]
    batch_id = emu.create_batch(KEY, [request("s", "[emulate:succeeded] q", tools=tools)], duration=1)
    emu.advance(1)
    (line,) = list(client.messages.batches.results(batch_id))
    assert line.result.message.usage.server_tool_use.web_search_requests >= 1


def test_line_bytes_pads_lines_to_about_that_size(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 50, outcomes={"succeeded": 1.0}, line_bytes=1200)
    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        sizes = {len(line) + 1 for line in response.read().split(b"\n")[:-1]}
    assert sizes == {1200}


def test_results_404_while_in_progress(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.create_batch(KEY, [request("a")], duration=600)
    with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):
        list(client.messages.batches.results(batch_id))
    with pytest.raises(anthropic.NotFoundError):
        client.get(f"/v1/messages/batches/{batch_id}/results", cast_to=object)


def test_cancel_moves_to_canceling_then_ended_with_canceled_requests(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.create_batch(KEY, [request(f"r{i}") for i in range(50)], duration=1000)
    emu.advance(100)

    canceling = client.messages.batches.cancel(batch_id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    emu.advance(10)

    ended = client.messages.batches.retrieve(batch_id)
    assert ended.processing_status == "ended"
    counts = ended.request_counts
    assert counts.canceled > 0 and counts.processing == 0
    assert counts.succeeded + counts.errored + counts.canceled == 50
    results = list(client.messages.batches.results(batch_id))
    assert sum(r.result.type == "canceled" for r in results) == counts.canceled


def test_cancel_of_an_ended_batch_is_a_400(emu: Emulator, client: anthropic.Anthropic):
    batch_id = emu.seed_batch(KEY, 3)
    with pytest.raises(anthropic.BadRequestError, match="already ended") as excinfo:
        client.messages.batches.cancel(batch_id)
    assert excinfo.value.type == "invalid_request_error"


def test_delete_only_ended_batches(emu: Emulator, client: anthropic.Anthropic):
    running = emu.seed_batch(KEY, 3, status="in_progress")
    with pytest.raises(anthropic.BadRequestError, match="cancel"):
        client.messages.batches.delete(running)

    ended = emu.seed_batch(KEY, 3)
    deleted = client.messages.batches.delete(ended)
    assert (deleted.id, deleted.type) == (ended, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(ended)
    assert ended not in {b.id for b in client.messages.batches.list()}


def test_batches_are_scoped_to_the_workspace(emu: Emulator, client: anthropic.Anthropic):
    other = emu.seed_batch(OTHER_KEY, 3)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(other)
    assert list(client.messages.batches.list()) == []


def test_unknown_route_is_a_404_error_body(emu: Emulator, client: anthropic.Anthropic):
    with pytest.raises(anthropic.NotFoundError) as excinfo:
        client.get("/v1/nothing/here", cast_to=object)
    assert excinfo.value.type == "not_found_error"
