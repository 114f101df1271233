"""Every stop reason and content block type of SDK 2.17, on request, valid under the SDK's strict validation."""

from __future__ import annotations

from typing import get_args

import anthropic
import pytest
from anthropic.types import ContentBlock, StopReason

from emulator import Emulator, content

from .conftest import KEY, request


@pytest.fixture
def strict(emu: Emulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0, _strict_response_validation=True)


def _results(emu: Emulator, client: anthropic.Anthropic, requests: list[dict]) -> dict:
    batch_id = client.messages.batches.create(requests=requests).id
    emu.advance(24 * 3600)
    return {r.custom_id: r for r in client.messages.batches.results(batch_id)}


def test_the_lists_are_the_sdks_own():
    assert set(get_args(StopReason)) == set(content.STOP_REASONS)
    members = get_args(get_args(ContentBlock)[0])
    assert {get_args(m.model_fields["type"].annotation)[0] for m in members} == set(content.CONTENT_BLOCK_TYPES)


def test_each_stop_reason_on_request(emu: Emulator, strict: anthropic.Anthropic):
    requests = [request(s, f"go [emulate:succeeded:{s}]", stop_sequences=["@@"]) for s in content.STOP_REASONS]
    results = _results(emu, strict, requests)

    for stop in content.STOP_REASONS:
        message = results[stop].result.message
        assert message.stop_reason == stop
    assert results["max_tokens"].result.message.usage.output_tokens == 256
    assert results["stop_sequence"].result.message.stop_sequence == "@@"
    assert [b.type for b in results["tool_use"].result.message.content] == ["text", "tool_use"]
    assert [b.type for b in results["pause_turn"].result.message.content] == [
        "server_tool_use",
        "web_search_tool_result",
    ]
    refusal = results["refusal"].result.message.stop_details
    assert refusal.type == "refusal" and refusal.category in content.REFUSAL_CATEGORIES and refusal.explanation
    assert results["end_turn"].result.message.stop_details is None


def test_every_block_type_in_one_message(emu: Emulator, strict: anthropic.Anthropic):
    results = _results(emu, strict, [request("all", "go [emulate:succeeded:all_blocks]", max_tokens=4096)])
    message = results["all"].result.message
    assert [b.type for b in message.content] == list(content.CONTENT_BLOCK_TYPES)
    assert message.container.id.startswith("container_") and message.stop_reason == "end_turn"


def test_beta_fields_only_under_a_beta_header(emu: Emulator, client: anthropic.Anthropic):
    beta = request("b", context_management={"edits": []})
    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.messages.batches.create(requests=[beta])
    assert "context_management" in str(excinfo.value) and "Extra inputs are not permitted" in str(excinfo.value)
    made = client.beta.messages.batches.create(requests=[beta], betas=["context-management-2025-06-27"])
    assert made.processing_status == "in_progress"


def test_inference_geo_is_refused_on_models_below_4_6_as_an_errored_request(emu: Emulator, strict: anthropic.Anthropic):
    requests = [request("old", "[emulate:succeeded] hi", model="claude-haiku-4-5", inference_geo="us"),
                request("new", "[emulate:succeeded] hi", model="claude-opus-4-6", inference_geo="us"),
                request("plain", "[emulate:succeeded] hi", model="claude-haiku-4-5")]  # fmt: skip
    results = _results(emu, strict, requests)
    assert results["old"].result.type == "errored"
    assert results["old"].result.error.error.type == "invalid_request_error"
    assert results["new"].result.type == "succeeded" and results["plain"].result.type == "succeeded"


def test_a_server_tool_request_can_report_output_over_max_tokens(emu: Emulator, strict: anthropic.Anthropic):
    tools = [{"type": "web_search_20250305", "name": "web_search"}]
    requests = [request(f"s{i}", "[emulate:succeeded] hi", max_tokens=16, tools=tools) for i in range(5)]
    requests += [request("plain", "[emulate:succeeded] hi", max_tokens=16)]
    results = _results(emu, strict, requests)
    searched = [results[f"s{i}"].result.message for i in range(5)]
    assert all(m.usage.server_tool_use.web_search_requests >= 1 for m in searched)
    assert all(m.usage.output_tokens > 16 and m.stop_reason == "max_tokens" for m in searched)
    assert results["plain"].result.message.usage.output_tokens == 16  # no server tool: capped
