"""The result page shows every content block type SDK 2.17 knows, each its own way; an unknown one as JSON."""

from __future__ import annotations

import json

import pytest

from batches import result_lines
from batches.models import Result, ResultChunk
from dashboard import blocks
from tests.builders import ended_batch
from tests.html import attribute, element, elements, prose, text

SEARCH = [
    {"type": "web_search_result", "title": "Helios <b>", "url": "https://example.org/helios", "encrypted_content": "e",
     "page_age": "2 days"},
    {"type": "web_search_result", "title": "Trap", "url": "javascript:alert(1)", "encrypted_content": "e"},
]  # fmt: skip
CONTENT = [
    {"type": "thinking", "thinking": "Let me think <script>", "signature": "sig"},
    {"type": "redacted_thinking", "data": "abcdef"},
    {"type": "text", "text": "The answer is B.", "citations": [
        {"type": "web_search_result_location", "url": "https://example.org/helios", "title": "Helios",
         "cited_text": "Helios is the Sun", "encrypted_index": "x"}]},
    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "greek sun"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": SEARCH},
    {"type": "web_fetch_tool_result", "tool_use_id": "srvtoolu_2", "content": {
        "type": "web_fetch_result", "url": "https://example.org/page", "retrieved_at": "2026-12-01T00:00:00Z",
        "content": {"type": "document", "title": "A page", "source": {"type": "text", "media_type": "text/plain",
                                                                       "data": "Fetched body"}}}},
    {"type": "web_fetch_tool_result", "tool_use_id": "srvtoolu_3",
     "content": {"type": "web_fetch_tool_result_error", "error_code": "url_not_accessible"}},
    {"type": "code_execution_tool_result", "tool_use_id": "srvtoolu_4", "content": {
        "type": "code_execution_result", "stdout": "42\n", "stderr": "warn", "return_code": 0,
        "content": [{"type": "code_execution_output", "file_id": "file_out1"}]}},
    {"type": "bash_code_execution_tool_result", "tool_use_id": "srvtoolu_5", "content": {
        "type": "bash_code_execution_result", "stdout": "ls-out", "stderr": "", "return_code": 2, "content": []}},
    {"type": "text_editor_code_execution_tool_result", "tool_use_id": "srvtoolu_6", "content": {
        "type": "text_editor_code_execution_view_result", "content": "file body", "file_type": "text"}},
    {"type": "tool_search_tool_result", "tool_use_id": "srvtoolu_7", "content": {
        "type": "tool_search_tool_search_result",
        "tool_references": [{"type": "tool_reference", "tool_name": "calc"}]}},
    {"type": "container_upload", "file_id": "file_up1"},
    {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "lookup", "server_name": "crm", "input": {"id": 7}},
    {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "is_error": True,
     "content": [{"type": "text", "text": "no such id"}]},
    {"type": "mcp_tool_listing", "mcp_server_name": "crm", "tools": [{"name": "lookup", "input_schema": {}}]},
    {"type": "compaction", "content": "Summary so far"},
    {"type": "fallback", "from": {"model": "claude-opus-4-6"}, "to": {"model": "claude-sonnet-4-6"},
     "trigger": {"type": "refusal", "category": "cyber"}},
    {"type": "advisor_tool_result", "tool_use_id": "srvtoolu_8",
     "content": {"type": "advisor_result", "text": "Advice"}},
    {"type": "hologram", "beam": "<img src=x onerror=alert(1)>"},
]  # fmt: skip


def _result_with(content: list, **message_fields) -> Result:
    batch = ended_batch()
    message = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-6", "content": content,
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 20, "inference_geo": "us", "speed": "fast",
                  "output_tokens_details": {"thinking_tokens": 12}},
        **message_fields,
    }  # fmt: skip
    line = json.dumps({"custom_id": "item-1", "result": {"type": "succeeded", "message": message}}).encode()
    chunk = ResultChunk.objects.create(batch=batch, data=result_lines.pack([line]), line_count=1, raw_bytes=len(line))
    return Result.objects.create(batch=batch, chunk=chunk, line_index=0, **result_lines.parse(line))


def test_every_block_type_of_the_sdk_has_its_own_template():
    # The SDK's unions, read from the pinned package: a new type in a new pin fails here until it is shown.
    from typing import get_args

    from anthropic.types import ContentBlock
    from anthropic.types.beta import BetaContentBlock

    def types(union) -> set[str]:
        members = get_args(get_args(union)[0])
        return {get_args(m.model_fields["type"].annotation)[0] for m in members}

    assert types(ContentBlock) | types(BetaContentBlock) == set(blocks.KNOWN)


@pytest.mark.django_db
def test_each_block_is_shown_for_what_it_is(viewer_client):
    result = _result_with(CONTENT)
    body = viewer_client.get(f"/batches/{result.batch_id}/results/item-1/").content.decode()
    said = prose(body)

    assert "Thinking (21 characters)" in said and "Let me think <script>" in said
    assert element(body, "details") is not None  # thinking is collapsed
    assert "Thinking redacted by the API (6 characters" in said
    assert "The answer is B." in said and "Helios is the Sun" in said
    assert "Called get_weather" in said and '"city": "Paris"' in said
    assert "Called web_search" in said and '"query": "greek sun"' in said
    assert "Helios <b>" in said and "(2 days)" in said
    assert "Fetched https://example.org/page" in said and "A page" in said and "Fetched body" in said
    assert "Web fetch failed: url_not_accessible" in said
    assert "42" in said and "warn" in said and "file_out1" in said and "Return code 2" in said and "ls-out" in said
    assert "Text editor: view" in said and "file body" in said
    assert "Tools found: calc" in said
    assert "File uploaded to the container: file_up1" in said
    assert "Called lookup on MCP server crm" in said and "MCP tool error" in said and "no such id" in said
    assert "MCP server crm offers: lookup" in said
    assert "Context compacted" in said and "Summary so far" in said
    assert "Fell back from claude-opus-4-6 to claude-sonnet-4-6 on a refusal (cyber)" in said
    assert "Advice" in said
    assert "Unknown block type hologram" in said and "<img src=x onerror=alert(1)>" in said
    # Escaped, and only http(s) links: the page's markup has none of the API's text as markup.
    assert "<script>" not in body and "<img src=x" not in body and "<b>" not in body
    links = [attribute(a, "href") for a in elements(body, "a")]
    assert "https://example.org/helios" in links and not any(str(h).startswith("javascript") for h in links)
    assert "Inference geo us" in said and "Speed fast" in said and "(of which thinking: 12)" in said


@pytest.mark.django_db
def test_a_refusal_says_its_category_and_explanation_and_that_it_is_incomplete(viewer_client):
    details = {"type": "refusal", "category": "bio", "explanation": "Dangerous lab methods."}
    _result_with([{"type": "text", "text": "I can't"}], stop_reason="refusal", stop_details=details)
    body = viewer_client.get("/batches/msgbatch_b1/results/item-1/").content.decode()
    said = prose(body)
    assert "Stop reason refusal incomplete" in said
    assert "category bio: Dangerous lab methods." in said
    assert "Retry only on purpose" in text(element(body, class_="incomplete-note"))


@pytest.mark.django_db
def test_a_container_is_shown(viewer_client):
    container = {"id": "container_1", "expires_at": "2026-12-05T10:00:00Z",
                 "skills": [{"type": "anthropic", "skill_id": "pptx", "version": "latest"}]}  # fmt: skip
    _result_with([{"type": "text", "text": "ok"}], container=container)
    said = prose(viewer_client.get("/batches/msgbatch_b1/results/item-1/").content.decode())
    assert "Container container_1, expires 2026-12-05T10:00:00Z; skills: pptx" in said
