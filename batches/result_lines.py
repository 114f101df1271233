"""The results line format, owned here: one `MessageBatchIndividualResponse` JSON object per line.

Ingest parses each line into `Result` fields and keeps the raw bytes in compressed runs; the result
page, the downloads and the exports read those runs back and take the message text from them. Each
of those steps is a function of this module, so the format is understood in one place.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
import orjson
import zstandard

RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")
# Not an API type: a line that could not be parsed, kept with its raw text.
MALFORMED = "malformed"
MALFORMED_LINE = "malformed_line"  # the error_type such a line is stored with
CUSTOM_ID_MAX_STORED = 128  # the Result column; the API's own limit is 64
CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the API's pattern; any other is a malformed line, kept raw

# The Result columns a line fills, in order, with the value a line without that field gets.
# parse() returns dicts with exactly these keys in this order, so a row is `fields.values()`.
FIELD_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("custom_id", ""), ("result_type", ""), ("error_type", ""), ("error_message", ""), ("request_id", ""),
    ("message_id", ""), ("model", ""), ("stop_reason", ""), ("input_tokens", 0), ("output_tokens", 0),
    ("cache_creation_input_tokens", 0), ("cache_creation_5m_input_tokens", 0), ("cache_creation_1h_input_tokens", 0),
    ("cache_read_input_tokens", 0), ("web_search_requests", 0), ("web_fetch_requests", 0), ("service_tier", ""),
    ("inference_geo", ""), ("speed", ""), ("thinking_tokens", 0), ("stop_details_type", ""),
    ("stop_details_category", ""), ("stop_details_explanation", ""), ("iterations", ""),
)  # fmt: skip
FIELDS = tuple(name for name, _ in FIELD_DEFAULTS)
_EMPTY = dict(FIELD_DEFAULTS)


# --- parsing -------------------------------------------------------------------------------------
def parse(line: bytes) -> dict[str, Any]:
    """The `Result` fields of one line; a line that is not a valid result is `malformed`.

    Every usual line takes the strict fast path (about twice as fast: it decodes only the fields read, straight
    into typed structs); anything it does not take exactly as it is goes to `parse_reference`, which decides.
    tests/batches/test_result_lines_fast.py holds the two to the same answer on every shape of line.
    """
    fields = _parse_fast(line) if isinstance(line, bytes) else None
    return parse_reference(line) if fields is None else fields


def parse_reference(line: bytes) -> dict[str, Any]:
    """The reference parse: every line, however odd, gets its fields or is `malformed`."""
    try:
        data = _loads(line)
        custom_id = data["custom_id"]
        result = data["result"]
        result_type = result["type"]
        # The API's documented pattern, nothing looser: a custom_id reaches URLs, logs, CSV cells and file names.
        valid_id = isinstance(custom_id, str) and CUSTOM_ID.fullmatch(custom_id) is not None
        if not valid_id or result_type not in RESULT_TYPES:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return _malformed(line)
    fields: dict[str, Any] = {**_EMPTY, "custom_id": custom_id, "result_type": result_type}
    try:
        if result_type == "succeeded":
            fields.update(_message_fields(result["message"]))
        elif result_type == "errored":
            fields.update(_error_fields(result["error"]))
    except (KeyError, TypeError, ValueError, AttributeError):  # AttributeError: a list or text where an object goes
        return _malformed(line, custom_id)
    if (b"\\u0000" if isinstance(line, bytes) else "\\u0000") in line:  # JSON carries NUL only escaped
        # PostgreSQL text cannot hold NUL: one in any text (a message, a model name) would fail the chunk's insert
        # at every attempt. Shown as U+FFFD; the raw line, kept compressed, still has it.
        fields = {name: value.replace("\x00", "\ufffd") if isinstance(value, str) else value
                  for name, value in fields.items()}  # fmt: skip
    return fields


# The fast path's shapes: only the fields read, each in the one type a usual line has. A value of any other type
# (a float count, a bool, a number for a model name, a list for an object) fails the decode, and the reference
# decides what it is, as it always has.
# Each struct is `gc=False`: the collector never tracks them. A line decodes into a tree of them (up to eight, no
# cycles: nothing decoded from JSON can refer back to itself), and tracking each one cost more than decoding it: 2.05
# against 1.31 µs a line with a worker's collector settings (config/celery.py, settle_heap).
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]  # COUNT_MAX: a PositiveIntegerField


class _CacheCreation(msgspec.Struct, gc=False):
    ephemeral_5m_input_tokens: _Count | None = None
    ephemeral_1h_input_tokens: _Count | None = None


class _ServerToolUse(msgspec.Struct, gc=False):
    web_search_requests: _Count | None = None
    web_fetch_requests: _Count | None = None


class _OutputTokensDetails(msgspec.Struct, gc=False):
    thinking_tokens: _Count | None = None


class _Iteration(msgspec.Struct, gc=False):
    type: str
    input_tokens: _Count
    output_tokens: _Count
    model: str | None = None
    cache_creation_input_tokens: _Count | None = None
    cache_creation: _CacheCreation | None = None
    cache_read_input_tokens: _Count | None = None


class _Usage(msgspec.Struct, gc=False):
    input_tokens: _Count
    output_tokens: _Count
    cache_creation_input_tokens: _Count | None = None
    cache_creation: _CacheCreation | None = None
    cache_read_input_tokens: _Count | None = None
    server_tool_use: _ServerToolUse | None = None
    service_tier: str | None = None
    inference_geo: str | None = None
    speed: str | None = None
    output_tokens_details: _OutputTokensDetails | None = None
    iterations: list[_Iteration] | None = None


class _StopDetails(msgspec.Struct, gc=False):
    type: str | None = None
    category: str | None = None
    explanation: str | None = None


class _Message(msgspec.Struct, gc=False):
    usage: _Usage
    id: str | None = None
    model: str | None = None
    stop_reason: str | None = None
    stop_details: _StopDetails | None = None


class _ErrorDetail(msgspec.Struct, gc=False):
    type: str | None = None
    message: str | None = None


class _ErrorResponse(msgspec.Struct, gc=False):
    error: _ErrorDetail | None = None
    request_id: str | None = None


class _Outcome(msgspec.Struct, gc=False):
    type: str
    message: _Message | None = None
    error: _ErrorResponse | None = None


class _Line(msgspec.Struct, gc=False):
    custom_id: str
    result: _Outcome


_decode_line = msgspec.json.Decoder(_Line).decode


def _parse_fast(line: bytes) -> dict[str, Any] | None:
    """The fields of a usual line, or None for the reference to decide."""
    if b"\\u0000" in line:  # NUL in a text: the reference's replacement applies
        return None
    if not line.isascii():
        # The decoder does not check the UTF-8 of the fields it skips; the reference refuses the whole line.
        try:
            line.decode()
        except UnicodeDecodeError:
            return None
    try:
        data = _decode_line(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    custom_id, result = data.custom_id, data.result
    result_type = result.type
    if result_type not in RESULT_TYPES or CUSTOM_ID.fullmatch(custom_id) is None:
        return None
    fields: dict[str, Any] = {**_EMPTY, "custom_id": custom_id, "result_type": result_type}
    if result_type == "succeeded":
        message = result.message
        if message is None:
            return None
        usage = message.usage
        cache_creation = usage.cache_creation
        server_tool_use = usage.server_tool_use
        fields["message_id"] = (message.id or "")[:128]
        fields["model"] = (message.model or "")[:128]
        fields["stop_reason"] = (message.stop_reason or "")[:64]
        fields["input_tokens"] = usage.input_tokens
        fields["output_tokens"] = usage.output_tokens
        fields["cache_creation_input_tokens"] = usage.cache_creation_input_tokens or 0
        if cache_creation is not None:
            fields["cache_creation_5m_input_tokens"] = cache_creation.ephemeral_5m_input_tokens or 0
            fields["cache_creation_1h_input_tokens"] = cache_creation.ephemeral_1h_input_tokens or 0
        fields["cache_read_input_tokens"] = usage.cache_read_input_tokens or 0
        if server_tool_use is not None:
            fields["web_search_requests"] = server_tool_use.web_search_requests or 0
            fields["web_fetch_requests"] = server_tool_use.web_fetch_requests or 0
        fields["service_tier"] = (usage.service_tier or "")[:32]
        fields["inference_geo"] = (usage.inference_geo or "")[:32]
        fields["speed"] = (usage.speed or "")[:16]
        if usage.output_tokens_details is not None:
            fields["thinking_tokens"] = usage.output_tokens_details.thinking_tokens or 0
        details = message.stop_details
        if details is not None:
            fields["stop_details_type"] = (details.type or "")[:32]
            fields["stop_details_category"] = (details.category or "")[:64]
            fields["stop_details_explanation"] = details.explanation or ""
        if usage.iterations:
            fields["iterations"] = _iterations_fast(usage.iterations)
    elif result_type == "errored":
        error = result.error
        if error is None:
            return None
        detail = error.error
        fields["error_type"] = ((detail and detail.type) or "unknown_error")[:64]
        fields["error_message"] = (detail and detail.message) or ""
        fields["request_id"] = (error.request_id or "")[:128]
    return fields


def _iterations_fast(entries: list[_Iteration]) -> str:
    """`_iterations` on decoded entries: the same rows, the same JSON."""
    rows = []
    for entry in entries:
        split = entry.cache_creation
        five = (split and split.ephemeral_5m_input_tokens) or 0
        hour = (split and split.ephemeral_1h_input_tokens) or 0
        if five + hour == 0:
            five = entry.cache_creation_input_tokens or 0
        rows.append([entry.type[:32], (entry.model or "")[:128], entry.input_tokens, entry.output_tokens, five, hour,
                     entry.cache_read_input_tokens or 0])  # fmt: skip
    return json.dumps(rows, separators=(",", ":"))


def _loads(line: bytes) -> Any:
    """orjson: a third of the ingest's parsing time. What it refuses and the standard parser takes (a lone
    surrogate escape, NaN) is read as before, never turned into a malformed line."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def load(line: bytes | str) -> dict[str, Any] | None:
    """The JSON object of a well-formed line (for showing it whole), or None."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("result"), dict) else None


def message_text(message: dict[str, Any]) -> str:
    """The text of every text block of a message, in order."""
    blocks = message.get("content") or []
    return "\n\n".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")


def text_of(line: bytes | str) -> str:
    """The message text of a succeeded line; empty for any other line."""
    data = load(line)
    if data is None or data["result"].get("type") != "succeeded":
        return ""
    message = data["result"].get("message")
    return message_text(message) if isinstance(message, dict) else ""


def _message_fields(message: dict[str, Any]) -> dict[str, Any]:
    usage = message["usage"]
    cache_creation = usage.get("cache_creation") or {}
    server_tool_use = usage.get("server_tool_use") or {}
    return {
        "message_id": str(message.get("id") or "")[:128],
        "model": str(message.get("model") or "")[:128],
        "stop_reason": str(message.get("stop_reason") or "")[:64],
        "input_tokens": _count(usage["input_tokens"]),
        "output_tokens": _count(usage["output_tokens"]),
        "cache_creation_input_tokens": _count(usage.get("cache_creation_input_tokens") or 0),
        "cache_creation_5m_input_tokens": _count(cache_creation.get("ephemeral_5m_input_tokens") or 0),
        "cache_creation_1h_input_tokens": _count(cache_creation.get("ephemeral_1h_input_tokens") or 0),
        "cache_read_input_tokens": _count(usage.get("cache_read_input_tokens") or 0),
        "web_search_requests": _count(server_tool_use.get("web_search_requests") or 0),
        "web_fetch_requests": _count(server_tool_use.get("web_fetch_requests") or 0),
        "service_tier": str(usage.get("service_tier") or "")[:32],
        # Both change the price of the request (US-only inference, fast mode): kept for pricing.
        "inference_geo": str(usage.get("inference_geo") or "")[:32],
        "speed": str(usage.get("speed") or "")[:16],
        "thinking_tokens": _count((usage.get("output_tokens_details") or {}).get("thinking_tokens") or 0),
        **_stop_details(message.get("stop_details")),
        "iterations": _iterations(usage.get("iterations")),
    }


# Every count is stored in a PositiveIntegerField; one request's count is far below this (a context window is a few
# million tokens). A count outside 0..COUNT_MAX, or not a whole number, makes its line malformed (kept raw,
# counted), never an ingest that fails on the database at every attempt.
COUNT_MAX = 2**31 - 1


def _count(value: Any) -> int:
    number = int(value)
    if number != value and str(number) != value or not 0 <= number <= COUNT_MAX:
        raise ValueError(f"not a count: {value!r}")
    return number


def _iterations(entries: Any) -> str:
    """The beta `usage.iterations` as compact JSON: [type, model or "", input, output, 5-minute writes, 1-hour
    writes, reads] per entry ("" when absent). Some are billed apart from the top-level usage (pricing rules)."""
    if not isinstance(entries, list) or not entries:
        return ""
    rows = []
    for entry in entries:
        split = entry.get("cache_creation") or {}
        five = _count(split.get("ephemeral_5m_input_tokens") or 0)
        hour = _count(split.get("ephemeral_1h_input_tokens") or 0)
        if five + hour == 0:  # no split reported: the total is priced as 5-minute writes, as at the top level
            five = _count(entry.get("cache_creation_input_tokens") or 0)
        rows.append([
            str(entry["type"])[:32], str(entry.get("model") or "")[:128], _count(entry["input_tokens"]),
            _count(entry["output_tokens"]), five, hour, _count(entry.get("cache_read_input_tokens") or 0),
        ])  # fmt: skip
    return json.dumps(rows, separators=(",", ":"))


def _stop_details(details: Any) -> dict[str, str]:
    """`stop_details` (today only a refusal's): its type, category and explanation, each may be null."""
    if not isinstance(details, dict):
        return {}
    return {
        "stop_details_type": str(details.get("type") or "")[:32],
        "stop_details_category": str(details.get("category") or "")[:64],
        "stop_details_explanation": str(details.get("explanation") or ""),
    }


def _error_fields(error: dict[str, Any]) -> dict[str, Any]:
    inner = error.get("error") or {}
    return {
        "error_type": str(inner.get("type") or "unknown_error")[:64],
        "error_message": str(inner.get("message") or ""),
        "request_id": str(error.get("request_id") or "")[:128],
    }


def _malformed(line: bytes, custom_id: str | None = None) -> dict[str, Any]:
    # A stable key per distinct line, outside the API's custom_id charset, so a resumed run finds
    # the same malformed line already stored.
    key = custom_id or "malformed:" + hashlib.sha1(line).hexdigest()[:24]
    return {
        **_EMPTY,
        "custom_id": key,
        "result_type": MALFORMED,
        "error_type": MALFORMED_LINE,
        "error_message": f"unparseable result line ({len(line)} bytes); the raw text is kept",
    }


# --- keeping runs of lines -----------------------------------------------------------------------
# zstd level 1: 3.5-4x zlib level 1's speed and a smaller result on both kinds of text bench/ingest.py sends (23.5
# against 17.7 times smaller on repetitive text, 3.8 against 3.3 on prose), and it unpacks 2.5-3.5x faster. zlib
# level 1 took a third of a large ingest's time, on the thread that also waits for the COPY.
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # every zstd frame starts so; a zlib stream starts with 0x78


def compress(data: bytes) -> bytes:
    """`data` as one zstd frame (level 1): what is kept compressed (runs of lines, a pass-through create's body)."""
    return zstandard.ZstdCompressor(level=1).compress(data)


def decompress(data: bytes | memoryview) -> bytes:
    """What `compress` made, or a zlib stream (what was kept before zstd)."""
    data = bytes(data)
    if data[:4] == _ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().decompress(data)
    return zlib.decompress(data)


def pack(lines: list[bytes]) -> bytes:
    """Lines compressed together (a zstd frame), ~20x smaller than the raw text of repetitive answers."""
    return compress(b"\n".join(lines))


def unpack(data: bytes | memoryview) -> list[bytes]:
    """The lines of a packed run, in order, each without its newline."""
    return unpack_text(data).split(b"\n")


def unpack_text(data: bytes | memoryview) -> bytes:
    """A packed run as JSONL without its last newline: the lines as they came, one after another. Runs kept
    before zstd are zlib streams."""
    return decompress(data)


def unpack_pieces(data: bytes | memoryview, size: int = 1 << 18) -> Iterator[bytes]:
    """`unpack_text` in pieces of at most `size` bytes, for a download: each piece is sent while the next is
    unpacked, and pieces this small reuse the same memory where one 2 MB text a chunk was new memory each time."""
    data = bytes(data)
    if data[:4] == _ZSTD_MAGIC:
        yield from zstandard.ZstdDecompressor().read_to_iter(data, write_size=size)
    else:
        yield zlib.decompress(data)
