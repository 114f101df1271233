"""Deterministic JSONL result bodies, built once per batch and cached (the results endpoint is the hot path
of client benchmarks, so serving must be a plain memcpy of cached bytes)."""

from __future__ import annotations

import json
import random
import threading
from collections import OrderedDict
from typing import Any

from .errors import DEFAULT_MESSAGES
from .plan import ItemPlan, RequestItem
from .state import Batch, Store
from .util import base62, digest

_PAD_UNIT = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt. "
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _usage(bits: int, req: RequestItem | None) -> tuple[dict[str, Any], str]:
    """Token usage and stop_reason for a succeeded item, from its hash bits."""
    r = bits >> 143  # the low 143 bits went into the message id
    input_tokens = (req.input_chars // 4 + (r & 63) + 1) if req else 200 + (r & 0xFFF) % 3000
    output_tokens = 30 + ((r >> 12) & 0xFFF) % 1200
    stop_reason = "end_turn"
    if req and output_tokens >= req.max_tokens:
        output_tokens, stop_reason = req.max_tokens, "max_tokens"
    elif not req and (r >> 24) & 0xF == 0:
        stop_reason = "max_tokens"
    cache_mode, cache_size = (r >> 28) & 0x7, 1024 + ((r >> 31) & 0x1FFF)
    read = cache_size if cache_mode in (0, 1, 2, 5) else 0
    created = cache_size // (2 if cache_mode == 5 else 1) if cache_mode in (3, 4, 5) else 0
    one_hour = created if cache_mode == 4 else created // 3 if cache_mode == 5 else 0
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": created - one_hour, "ephemeral_1h_input_tokens": one_hour},
        "output_tokens": output_tokens,
        "service_tier": "batch",
    }
    if req and req.web_search:
        usage["server_tool_use"] = {"web_search_requests": 1 + (r >> 44) % 3, "web_fetch_requests": 0}
    return usage, stop_reason


def _succeeded(item: ItemPlan, model: str, req: RequestItem | None, line_bytes: int | None) -> bytes:
    usage, stop_reason = _usage(item.bits, req)
    text = f"Emulated reply to {item.custom_id}."
    message = {
        "id": "msg_" + base62(item.bits, 24),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }
    line = {"custom_id": item.custom_id, "result": {"type": "succeeded", "message": message}}
    data = _dumps(line).encode() + b"\n"
    if line_bytes and len(data) < line_bytes:
        # Pad the text to reach the target size; the padding is plain ASCII, so no escaping shifts it.
        missing = line_bytes - len(data)
        message["content"][0]["text"] = text + " " + (_PAD_UNIT * (missing // len(_PAD_UNIT) + 1))[: missing - 1]
        data = _dumps(line).encode() + b"\n"
    return data


def _errored(item: ItemPlan, model: str) -> bytes:
    error_type = item.error_type or "api_error"
    message = f"model: {model}" if error_type == "not_found_error" else DEFAULT_MESSAGES[error_type]
    error = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_" + base62(item.bits, 24)}
    return _dumps({"custom_id": item.custom_id, "result": {"type": "errored", "error": error}}).encode() + b"\n"


def build_results(store: Store, batch: Batch) -> bytes:
    """The full JSONL body of an ended batch, in a shuffled order that is the same on every call."""
    with store.lock:
        plan = store.batch_plan(batch)
    order = list(range(batch.n))
    random.Random(digest(store.seed, "order", batch.id)).shuffle(order)
    lines = []
    for index in order:
        item = plan.items[index]
        req = batch.items[index] if batch.items is not None else None
        model = req.model if req else batch.model
        result_type = store.settled_type(batch, item.fraction, item.result_type)
        if result_type == "succeeded":
            lines.append(_succeeded(item, model, req, batch.line_bytes))
        elif result_type == "errored":
            lines.append(_errored(item, model))
        else:  # canceled / expired lines carry only their type
            lines.append(b'{"custom_id":%s,"result":{"type":"%s"}}\n' % (_dumps(item.custom_id).encode(), result_type.encode()))
    return b"".join(lines)


class ResultsCache:
    """A small LRU of built bodies; one build per batch even when several clients ask at once."""

    def __init__(self, store: Store, max_batches: int = 4) -> None:
        self._store = store
        self._max = max_batches
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def get(self, batch: Batch) -> bytes:
        with self._lock:
            if batch.id in self._bodies:
                self._bodies.move_to_end(batch.id)
                return self._bodies[batch.id]
            build_lock = self._building.setdefault(batch.id, threading.Lock())
        with build_lock:
            with self._lock:
                if batch.id in self._bodies:
                    return self._bodies[batch.id]
            body = build_results(self._store, batch)
            with self._lock:
                self._bodies[batch.id] = body
                while len(self._bodies) > self._max:
                    self._bodies.popitem(last=False)
                self._building.pop(batch.id, None)
            return body

    def discard(self, batch_id: str) -> None:
        with self._lock:
            self._bodies.pop(batch_id, None)
