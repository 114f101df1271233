"""Succeeded messages beyond plain text: every stop reason and every content block type of SDK 2.17, on request.

A request asks with a marker in its first user message: `[emulate:succeeded:<stop_reason>]` for any of
STOP_REASONS, or `[emulate:succeeded:all_blocks]` for one block of each type in CONTENT_BLOCK_TYPES (as
`end_turn`). The shapes follow the SDK's `Message` and `ContentBlock` types, so the SDK's strict response
validation takes every line. Deterministic: ids come from the item's hash bits.
"""

from __future__ import annotations

from typing import Any

from .util import base62

# SDK 2.17's `StopReason`.
STOP_REASONS = (
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded",
)  # fmt: skip
# SDK 2.17's `ContentBlock` (the non-beta union: a result of a non-beta batch is validated against it).
CONTENT_BLOCK_TYPES = (
    "text", "thinking", "redacted_thinking", "tool_use", "server_tool_use", "web_search_tool_result",
    "web_fetch_tool_result", "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_search_tool_result", "container_upload",
)  # fmt: skip
ALL_BLOCKS = "all_blocks"
DETAILS = (*STOP_REASONS, ALL_BLOCKS)
# `stop_details.category` of a refusal (RefusalStopDetails).
REFUSAL_CATEGORIES = ("cyber", "bio", "frontier_llm", "reasoning_extraction", "general_harms")


def _id(prefix: str, bits: int, n: int) -> str:
    return f"{prefix}_{base62(bits >> (n * 7), 24)}"


def _search(bits: int) -> list[dict[str, Any]]:
    return [
        {"type": "server_tool_use", "id": _id("srvtoolu", bits, 1), "name": "web_search",
         "input": {"query": "emulated search"}},
        {"type": "web_search_tool_result", "tool_use_id": _id("srvtoolu", bits, 1), "content": [
            {"type": "web_search_result", "title": "Emulated result", "url": "https://example.com/emulated",
             "encrypted_content": "ZW11bGF0ZWQ=", "page_age": "1 day"}]},
    ]  # fmt: skip


def all_blocks(bits: int, text: str) -> list[dict[str, Any]]:
    """One block of each type in CONTENT_BLOCK_TYPES, in that order."""
    code = _id("srvtoolu", bits, 3)
    return [
        {"type": "text", "text": text, "citations": [
            {"type": "web_search_result_location", "url": "https://example.com/emulated", "title": "Emulated result",
             "cited_text": "an emulated quotation", "encrypted_index": "aW5kZXg="}]},
        {"type": "thinking", "thinking": "Emulated reasoning.", "signature": "c2lnbmF0dXJl"},
        {"type": "redacted_thinking", "data": "cmVkYWN0ZWQ="},
        {"type": "tool_use", "id": _id("toolu", bits, 2), "name": "get_weather", "input": {"city": "Paris"}},
        *_search(bits),
        {"type": "web_fetch_tool_result", "tool_use_id": _id("srvtoolu", bits, 4), "content": {
            "type": "web_fetch_result", "url": "https://example.com/page", "retrieved_at": "2026-12-01T00:00:00Z",
            "content": {"type": "document", "title": "Emulated page",
                        "source": {"type": "text", "media_type": "text/plain", "data": "Emulated page text."}}}},
        {"type": "code_execution_tool_result", "tool_use_id": code, "content": {
            "type": "code_execution_result", "stdout": "42\n", "stderr": "", "return_code": 0,
            "content": [{"type": "code_execution_output", "file_id": _id("file", bits, 5)}]}},
        {"type": "bash_code_execution_tool_result", "tool_use_id": _id("srvtoolu", bits, 6), "content": {
            "type": "bash_code_execution_result", "stdout": "emulated.txt\n", "stderr": "", "return_code": 0,
            "content": []}},
        {"type": "text_editor_code_execution_tool_result", "tool_use_id": _id("srvtoolu", bits, 7), "content": {
            "type": "text_editor_code_execution_view_result", "content": "emulated file", "file_type": "text",
            "num_lines": 1, "start_line": 1, "total_lines": 1}},
        {"type": "tool_search_tool_result", "tool_use_id": _id("srvtoolu", bits, 8), "content": {
            "type": "tool_search_tool_search_result",
            "tool_references": [{"type": "tool_reference", "tool_name": "get_weather"}]}},
        {"type": "container_upload", "file_id": _id("file", bits, 9)},
    ]  # fmt: skip


def message_parts(detail: str, bits: int, text: str, stop_sequences: list[str] | None) -> dict[str, Any]:
    """The message fields a detail sets: content, stop_reason, stop_sequence, stop_details, container."""
    parts: dict[str, Any] = {"content": [{"type": "text", "text": text}], "stop_reason": detail,
                             "stop_sequence": None, "stop_details": None}  # fmt: skip
    if detail == ALL_BLOCKS:
        parts.update(content=all_blocks(bits, text), stop_reason="end_turn")
        parts["container"] = {"id": _id("container", bits, 10), "expires_at": "2026-12-31T00:00:00Z", "skills": []}
    elif detail == "stop_sequence":
        parts["stop_sequence"] = (stop_sequences or ["###"])[0]
    elif detail == "tool_use":
        parts["content"].append(
            {"type": "tool_use", "id": _id("toolu", bits, 2), "name": "get_weather", "input": {"city": "Paris"}}
        )
    elif detail == "pause_turn":
        # A long server-tool turn paused by the API: its content so far, to be sent back to continue.
        parts["content"] = _search(bits)
    elif detail == "refusal":
        category = REFUSAL_CATEGORIES[bits % len(REFUSAL_CATEGORIES)]
        parts["stop_details"] = {"type": "refusal", "category": category,
                                 "explanation": f"Emulated refusal ({category})."}  # fmt: skip
    return parts
