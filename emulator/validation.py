"""Validation of a create-batch body, with the API's pydantic-style messages (`requests.0.custom_id: ...`)."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import invalid
from .plan import RequestItem, forced_outcome

MAX_REQUESTS = 100_000
MAX_BODY_BYTES = 256 * 1024 * 1024  # above this Cloudflare answers 413 before the API sees the request
CUSTOM_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_CUSTOM_ID = re.compile(CUSTOM_ID_PATTERN)


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object")
    return body


def validate_requests(requests: Any) -> list[RequestItem]:
    if requests is None:
        raise invalid("requests: Field required")
    if not isinstance(requests, list):
        raise invalid("requests: Input should be a valid list")
    if not requests:
        raise invalid("requests: List should have at least 1 item after validation, not 0")
    if len(requests) > MAX_REQUESTS:
        raise invalid(f"requests: List should have at most {MAX_REQUESTS} items after validation, not {len(requests)}")
    seen: set[str] = set()
    items = []
    for index, request in enumerate(requests):
        item = _validate_request(index, request)
        if item.custom_id in seen:
            raise invalid(
                f"requests.{index}.custom_id: Duplicate custom_id {item.custom_id!r}; "
                "custom_id values must be unique within a batch"
            )
        seen.add(item.custom_id)
        items.append(item)
    return items


def _validate_request(index: int, request: Any) -> RequestItem:
    where = f"requests.{index}"
    if not isinstance(request, dict):
        raise invalid(f"{where}: Input should be a valid dictionary")
    custom_id = request.get("custom_id")
    if custom_id is None:
        raise invalid(f"{where}.custom_id: Field required")
    if not isinstance(custom_id, str):
        raise invalid(f"{where}.custom_id: Input should be a valid string")
    if not custom_id:
        raise invalid(f"{where}.custom_id: String should have at least 1 character")
    if len(custom_id) > 64:
        raise invalid(f"{where}.custom_id: String should have at most 64 characters")
    if not _CUSTOM_ID.match(custom_id):
        raise invalid(f"{where}.custom_id: String should match pattern '{CUSTOM_ID_PATTERN}'")
    params = request.get("params")
    if params is None:
        raise invalid(f"{where}.params: Field required")
    if not isinstance(params, dict):
        raise invalid(f"{where}.params: Input should be a valid dictionary")
    return _validate_params(f"{where}.params", custom_id, params)


def _validate_params(where: str, custom_id: str, params: dict[str, Any]) -> RequestItem:
    model = params.get("model")
    if model is None:
        raise invalid(f"{where}.model: Field required")
    if not isinstance(model, str) or not model:
        raise invalid(f"{where}.model: Input should be a valid string")
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        raise invalid(f"{where}.max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise invalid(f"{where}.max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        raise invalid(f"{where}.max_tokens: Input should be greater than or equal to 1")
    messages = params.get("messages")
    if messages is None:
        raise invalid(f"{where}.messages: Field required")
    if not isinstance(messages, list):
        raise invalid(f"{where}.messages: Input should be a valid list")
    if not messages:
        raise invalid(f"{where}.messages: List should have at least 1 item after validation, not 0")
    if params.get("stream"):
        raise invalid(f"{where}.stream: Streaming is not supported in the Message Batches API")
    tools = params.get("tools") or []
    web_search = any(isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools)
    input_chars = len(json.dumps(messages)) + len(json.dumps(params.get("system") or ""))
    return RequestItem(custom_id, forced_outcome(params), model, max_tokens, input_chars, web_search)
