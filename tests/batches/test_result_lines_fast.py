"""The fast parse gives the reference parse's answer on every line: the usual ones it takes, and every odd one it
hands back. Lines are the API's shapes (docs and the pinned SDK's types), then each value in them swapped for an
odd one, each key dropped, and the bytes broken in the ways a stream breaks."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from batches import result_lines

USAGE = {
    "input_tokens": 1200, "output_tokens": 340, "cache_creation_input_tokens": 50, "cache_read_input_tokens": 7000,
    "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 30},
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1}, "service_tier": "batch",
    "inference_geo": "global", "speed": "standard", "output_tokens_details": {"thinking_tokens": 120},
}  # fmt: skip
ITERATIONS = [
    {"type": "message", "model": "claude-opus-4-5", "input_tokens": 100, "output_tokens": 20,
     "cache_creation_input_tokens": 40, "cache_read_input_tokens": 3},
    {"type": "advisor_message", "input_tokens": 7, "output_tokens": 9,
     "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 11}},
]  # fmt: skip


def _succeeded(custom_id: str = "req-1", **message: Any) -> dict:
    body = {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "Hello, wörld ✓"}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": copy.deepcopy(USAGE), **message}  # fmt: skip
    return {"custom_id": custom_id, "result": {"type": "succeeded", "message": body}}


BASES = [
    _succeeded(),
    _succeeded("a_B-9", usage={"input_tokens": 3, "output_tokens": 4}),
    _succeeded(stop_reason="refusal", stop_details={"type": "refusal", "category": "cyber", "explanation": "no"}),
    _succeeded(stop_reason="max_tokens", stop_details=None, usage={**USAGE, "iterations": ITERATIONS}),
    _succeeded(usage={**USAGE, "cache_creation": None, "server_tool_use": None, "service_tier": None}),
    {"custom_id": "e1", "result": {"type": "errored", "error": {
        "type": "error", "request_id": "req_011", "error": {"type": "overloaded_error", "message": "Overloaded"}}}},
    {"custom_id": "e2", "result": {"type": "errored", "error": {
        "type": "error", "error": {"type": "invalid_request_error"}}}},
    {"custom_id": "c1", "result": {"type": "canceled"}},
    {"custom_id": "x1", "result": {"type": "expired"}},
]  # fmt: skip

ODD_VALUES = [None, "", 0, -1, 1.5, 3.0, True, False, "12", "x" * 300, 2**31 - 1, 2**31, 2**70, [], [1], {}, {"a": 1},
              "nul\u0000", "\ud800", "succeeded", "req 1"]  # fmt: skip


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every place in a JSON tree: each key of each object, each index of each list."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*path, index)
            yield from _paths(value, (*path, index))


def _with(base: dict, path: tuple, value: Any, drop: bool = False) -> dict:
    tree = copy.deepcopy(base)
    node = tree
    for step in path[:-1]:
        node = node[step]
    if drop:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return tree


def _encode(tree: Any) -> bytes:
    # ensure_ascii=False: non-ASCII text as UTF-8, as the API sends it; a lone surrogate escaped, as JSON allows.
    return json.dumps(tree, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _odd_lines() -> Iterator[bytes]:
    for base in BASES:
        for path in _paths(base):
            yield _encode(_with(base, path, None, drop=True))
            for value in ODD_VALUES:
                yield _encode(_with(base, path, value))
        line = _encode(base)
        yield line
        yield line.replace(b"}}", b'}, "result": {"type": "canceled"}}', 1)  # a repeated key: the last one counts
        yield line[:-1]  # cut short
        yield line + b" trailing"
        yield b"\xef\xbb\xbf" + line  # a byte-order mark
        yield line.replace("✓".encode(), b"\xff\xfe") if "✓".encode() in line else line + b"\xff"  # not UTF-8
        yield line.replace(b"Hello", b"Hel\x01lo")  # a raw control character in a text
        yield line.replace(b"1200", b"NaN")
        yield line.replace(b"1200", b"1.2e3")
        yield line.replace(b'"type": "succeeded"', b'"type": "succeeded", "type": "expired"')
    yield from (b"", b"null", b"[]", b"[1, 2]", b'"text"', b"{}", b'{"custom_id": "a"}', b"not json")


ODD_LINES = list(dict.fromkeys(_odd_lines()))


def test_the_odd_lines_are_many_and_cover_every_kind_of_answer():
    kinds = {result_lines.parse_reference(line)["result_type"] for line in ODD_LINES}
    assert len(ODD_LINES) > 2_000
    assert kinds == {"succeeded", "errored", "canceled", "expired", "malformed"}


def test_the_fast_parse_gives_the_reference_answer_on_every_odd_line():
    differ = [line for line in ODD_LINES if result_lines.parse(line) != result_lines.parse_reference(line)]
    assert differ == [], f"{len(differ)} lines differ, first: {differ[:3]}"


@pytest.mark.parametrize("base", BASES, ids=lambda b: b["custom_id"] + "-" + b["result"]["type"])
def test_every_usual_line_takes_the_fast_path_with_the_reference_answer(base):
    line = _encode(base)
    fast = result_lines._parse_fast(line)
    assert fast is not None, "a usual line fell back to the slow parse"
    assert fast == result_lines.parse_reference(line)
    assert list(fast) == list(result_lines.FIELDS)  # a row is fields.values(): the order is the columns'
