"""Deterministic JSONL result bodies, built once per batch and cached (the results endpoint is the hot path
of client benchmarks, so serving must be a plain memcpy of cached bytes)."""

from __future__ import annotations

import json
import random
import threading
from collections import OrderedDict
from collections.abc import Iterable

from .content import ALL_BLOCKS, message_parts
from .errors import DEFAULT_MESSAGES
from .iterations import APART, Usage, iterations
from .padding import padding
from .plan import CHARS_PER_TOKEN, DEFAULT_GEO_JSON, DEFAULT_INFERENCE_GEO, ItemPlan, RequestItem
from .pricing import Item, Tokens
from .state import Batch, Store
from .util import base62, digest

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# One succeeded line, i.e. json.dumps of {"custom_id", "result": {"type": "succeeded", "message": Message}}
# written out as a template: %-formatting is ~10x faster than the json encoder, which matters for
# 100,000-line batches. Only the model needs escaping (custom_ids are validated to [a-zA-Z0-9_-]).
_SUCCEEDED = (
    '{"custom_id":"%s","result":{"type":"succeeded","message":{"id":"msg_%s","type":"message",'
    '"role":"assistant","model":%s,"content":[{"type":"text","text":"%s"}],"stop_reason":"%s",'
    '"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,'
    '"cache_read_input_tokens":%d,"cache_creation":{"ephemeral_5m_input_tokens":%d,'
    '"ephemeral_1h_input_tokens":%d},"output_tokens":%d,"service_tier":"batch","inference_geo":%s%s}}}}\n'
)


def _usage(bits: int, req: RequestItem | None) -> tuple[int, int, int, int, int, str, str, list[dict]]:
    """Token counts, stop_reason, extra usage JSON and `usage.iterations` entries ([] for none) for a succeeded
    item, from its hash bits."""
    r = bits >> 100  # bits above the ones most used by the message id
    # count_tokens answers input_chars // CHARS_PER_TOKEN for the same request: this is 1..64 more.
    input_tokens = (req.input_chars // CHARS_PER_TOKEN + (r & 63) + 1) if req else 200 + (r & 0xFFF) % 3000
    output_tokens = 30 + ((r >> 12) & 0xFFF) % 1200
    stop_reason = "end_turn"
    detail = _detail(req)
    forced_stop = detail is not None and detail not in ("max_tokens", ALL_BLOCKS)
    if req and (detail == "max_tokens" or (not forced_stop and output_tokens >= req.max_tokens)):
        # The limit applies to each call to the model; a server-tool request calls it more than once, so its
        # output_tokens can exceed max_tokens (SDK 2.17, `max_tokens`): left as drawn, the last call cut off.
        over = req.web_search and not detail
        output_tokens, stop_reason = (output_tokens if over else req.max_tokens), "max_tokens"
    elif req and forced_stop:
        # A forced stop reason (content.py); a context window reached stops short of max_tokens.
        output_tokens, stop_reason = min(output_tokens, max(req.max_tokens - 1, 1)), detail
    elif not req and (r >> 24) & 0xF == 0:
        stop_reason = "max_tokens"
    # Prompt caching: most requests read a cached prefix, some write one (5 min or 1 h TTL), some both.
    cache_mode, cache_size = (r >> 28) & 0x7, 1024 + ((r >> 31) & 0x1FFF)
    read = cache_size if cache_mode in (0, 1, 2, 5) else 0
    created = cache_size // (2 if cache_mode == 5 else 1) if cache_mode in (3, 4, 5) else 0
    one_hour = created if cache_mode == 4 else created // 3 if cache_mode == 5 else 0
    extra = ""
    if searches := _searches(bits, req):
        extra = f',"server_tool_use":{{"web_search_requests":{searches},"web_fetch_requests":0}}'
    entries: list[dict] = []
    served = _served_by_fallback(req)
    if req and (req.compact_over is not None or req.advisor or served):
        top, entries = iterations(
            bits, req.compact_over, req.advisor, Usage(input_tokens, created, read, one_hour, output_tokens),
            req.model if served else "", req.fallback if served else "",
        )  # fmt: skip
        input_tokens, created, read, one_hour = top.input, top.cache_write, top.cache_read, top.one_hour
        output_tokens, stop_reason = top.output, "end_turn" if served else stop_reason
    return input_tokens, created, read, one_hour, output_tokens, stop_reason, extra, entries


def _served_by_fallback(req: RequestItem | None) -> bool:
    """A request its model declines (a refusal) that names a fallback model: served by that model."""
    return bool(req and req.fallback and _detail(req) == "refusal")


def _detail(req: RequestItem | None) -> str | None:
    """What a `[emulate:succeeded:<detail>]` marker asked for (content.DETAILS), if anything."""
    return req.forced[1] if req and req.forced and req.forced[0] == "succeeded" else None


def _searches(bits: int, req: RequestItem | None) -> int:
    """usage.server_tool_use.web_search_requests of a succeeded item (0 without the web search tool)."""
    return 1 + ((bits >> 100) >> 44) % 3 if req and req.web_search else 0


def _succeeded(
    item: ItemPlan, model_json: str, req: RequestItem | None, line_bytes: int | None, text_kind: str = "lorem"
) -> bytes:
    input_tokens, created, read, one_hour, output_tokens, stop_reason, extra, entries = _usage(item.bits, req)
    text = f"Emulated reply to {item.custom_id}."
    if _detail(req) or entries:
        return _succeeded_in_full(item, json.loads(model_json), req, text)
    values = [
        item.custom_id,
        base62(item.bits, 24),
        model_json,
        text,
        stop_reason,
        input_tokens,
        created,
        read,
    ]
    values += [created - one_hour, one_hour, output_tokens, req.geo_json if req else DEFAULT_GEO_JSON, extra]
    line = _SUCCEEDED % tuple(values)
    if line_bytes and len(line) < line_bytes:
        # Pad the text to the target size; the padding is plain ASCII, so the length adds up exactly.
        missing = line_bytes - len(line)
        values[3] = text + " " + padding(text_kind, item.bits, missing - 1)
        line = _SUCCEEDED % tuple(values)
    return line.encode()


def _succeeded_in_full(item: ItemPlan, model: str, req: RequestItem, text: str) -> bytes:
    """A succeeded line with a forced stop reason, every block type or `usage.iterations`: by the JSON encoder."""
    input_tokens, created, read, one_hour, output_tokens, stop_reason, extra, entries = _usage(item.bits, req)
    served = _served_by_fallback(req)
    parts = message_parts(
        "end_turn" if served else _detail(req) or "end_turn", item.bits, text,
        [req.stop_sequence] if req.stop_sequence else None,
    )  # fmt: skip
    if served:  # the hop from the declining model to the one that served the answer
        hop = {"type": "fallback", "from": {"model": model}, "to": {"model": req.fallback},
               "trigger": {"type": "refusal", "category": "cyber"}}  # fmt: skip
        parts["content"].insert(0, hop)
        model = req.fallback
    usage: dict = {
        "input_tokens": input_tokens, "cache_creation_input_tokens": created, "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": created - one_hour, "ephemeral_1h_input_tokens": one_hour},
        "output_tokens": output_tokens, "service_tier": "batch", "inference_geo": json.loads(req.geo_json),
    }  # fmt: skip
    if extra:
        usage.update(json.loads("{" + extra.lstrip(",") + "}"))
    if entries:
        usage["iterations"] = entries
    message = {"id": "msg_" + base62(item.bits, 24), "type": "message", "role": "assistant", "model": model,
               **parts, "stop_reason": "max_tokens" if stop_reason == "max_tokens" else parts["stop_reason"],
               "usage": usage}  # fmt: skip
    return _dumps({"custom_id": item.custom_id, "result": {"type": "succeeded", "message": message}}).encode() + b"\n"


def _errored(item: ItemPlan, model: str) -> bytes:
    error_type = item.error_type or "api_error"
    message = f"model: {model}" if error_type == "not_found_error" else DEFAULT_MESSAGES[error_type]
    request_id = "req_" + base62(item.bits, 24)
    error = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    return _dumps({"custom_id": item.custom_id, "result": {"type": "errored", "error": error}}).encode() + b"\n"


def settled_items(store: Store, batch: Batch, order: Iterable[int] | None = None):
    """(item plan, request or None, model, final result type) of each item of an ended batch, in `order`
    (indexes into the batch; default: creation order). The one source of what a results line says."""
    with store.lock:
        plan = store.batch_plan(batch)
    for index in range(batch.n) if order is None else order:
        item = plan.items[index]
        req = batch.items[index] if batch.items is not None else None
        yield item, req, (req.model if req else batch.model), store.settled_type(batch, item.fraction, item.result_type)


def succeeded_usage(store: Store, batch: Batch) -> list[Item]:
    """The usage of each of an ended batch's succeeded items, exactly as their results lines report it
    (same `_usage` as `_succeeded`). What the cost report prices, one request at a time."""
    items = []
    for item, req, model, result_type in settled_items(store, batch):
        if result_type != "succeeded":
            continue
        input_tokens, created, read, one_hour, output_tokens, _, _, entries = _usage(item.bits, req)
        tokens = Tokens(1, input_tokens, created - one_hour, one_hour, read, output_tokens)
        geo = json.loads(req.geo_json) if req else DEFAULT_INFERENCE_GEO
        # Billed apart from the top level: the compaction at the request's model, the advisor at its own.
        apart = tuple((e.get("model", model), _entry_tokens(e)) for e in entries if e["type"] in APART)
        if _served_by_fallback(req):  # each hop at its own model: the response's model served the last one
            declined, served = entries
            model, tokens, apart = (
                served["model"],
                _entry_tokens(served)._replace(requests=1),
                ((model, _entry_tokens(declined)),),
            )
        items.append(Item(model, tokens, geo, "standard", _searches(item.bits, req), apart))
    return items


def _entry_tokens(entry: dict) -> Tokens:
    split = entry["cache_creation"]
    return Tokens(
        0, entry["input_tokens"], split["ephemeral_5m_input_tokens"], split["ephemeral_1h_input_tokens"],
        entry["cache_read_input_tokens"], entry["output_tokens"],
    )  # fmt: skip


def build_results(store: Store, batch: Batch) -> bytes:
    """The full JSONL body of an ended batch, in a shuffled order that is the same on every call."""
    order = list(range(batch.n))
    random.Random(digest(store.seed, "order", batch.id)).shuffle(order)
    lines = []
    models_json: dict[str, str] = {}
    for item, req, model, result_type in settled_items(store, batch, order):
        if model not in models_json:
            models_json[model] = json.dumps(model)
        if result_type == "succeeded":
            lines.append(_succeeded(item, models_json[model], req, batch.line_bytes, batch.text))
        elif result_type == "errored":
            lines.append(_errored(item, model))
        else:  # canceled / expired lines carry only their type
            lines.append(_dumps({"custom_id": item.custom_id, "result": {"type": result_type}}).encode() + b"\n")
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
