"""Validation of a create-batch body and of a count_tokens body, with the API's pydantic-style messages
(`requests.0.custom_id: ...`, `requests.0.params.foo: Extra inputs are not permitted`)."""

from __future__ import annotations

import json
import re
from typing import Any

from . import iterations
from .errors import EmulatorError, invalid
from .models import resolve_model
from .plan import CHARS_PER_TOKEN, DEFAULT_GEO_JSON, RequestItem, forced_outcome
from .pricing import takes_inference_geo

MAX_REQUESTS = 100_000
MAX_BODY_BYTES = 256 * 1024 * 1024  # above this Cloudflare answers 413 before the API sees the request
CUSTOM_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_CUSTOM_ID = re.compile(CUSTOM_ID_PATTERN)

# Allowed fields, as the API's models forbid extra ones (`<path>: Extra inputs are not permitted`).
# The create body: `BatchCreateParams` of SDK 2.17.0 (`types/messages/batch_create_params.py`) less its
# `workspace_id` and `user_profile_id`, which the SDK sends as headers: its create body is `{"requests"}`.
CREATE_FIELDS = ("requests",)
REQUEST_FIELDS = ("custom_id", "params")  # one request of it (ibid., `Request`)
# A request's params: exactly the fields of `MessageCreateParamsNonStreaming` in SDK 2.17.0
# (`anthropic/types/message_create_params.py`, with those of `MessageCreateParamsBase`). `workspace_id` and
# `user_profile_id` are there because the SDK models those headers as params; they are accepted, unused.
PARAMS_FIELDS = (
    "max_tokens",
    "messages",
    "model",
    "cache_control",
    "container",
    "diagnostics",
    "inference_geo",
    "metadata",
    "output_config",
    "service_tier",
    "speed",
    "stop_sequences",
    "system",
    "thinking",
    "tool_choice",
    "tools",
    "user_profile_id",
    "workspace_id",
    "stream",
)
# The fields only the beta params type takes (`anthropic/types/beta/message_create_params.py` of SDK 2.17, less
# `betas`, a header): accepted only in a create sent with an `anthropic-beta` header, as the API does.
BETA_ONLY_FIELDS = (
    "billing_policy", "compaction", "context_management", "fallback_credit_token", "fallbacks", "mcp_servers", "thread",
)  # fmt: skip
# A count_tokens body: exactly the fields of `MessageCountTokensParams` in SDK 2.17.0
# (`anthropic/types/message_count_tokens_params.py`). No max_tokens: it is neither required nor allowed.
COUNT_TOKENS_FIELDS = (
    "messages",
    "model",
    "cache_control",
    "output_config",
    "speed",
    "system",
    "thinking",
    "tool_choice",
    "tools",
    "user_profile_id",
    "workspace_id",
)


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _no_extras(where: str, obj: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for name in obj:
        if name not in allowed:
            raise invalid(f"{_at(where, name)}: Extra inputs are not permitted")


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # the API answers a 400 to any body it cannot read
        raise invalid(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object")
    return body


def validate_create_body(body: dict[str, Any]) -> Any:
    """The `requests` of a create body, once its top level has only allowed fields."""
    _no_extras("", body, CREATE_FIELDS)
    return body.get("requests")


def validate_requests(requests: Any, *, beta: bool = False, betas: tuple[str, ...] = ()) -> list[RequestItem]:
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
        item = _validate_request(index, request, beta or bool(betas), betas)
        if item.custom_id in seen:
            raise invalid(
                f"requests.{index}.custom_id: Duplicate custom_id {item.custom_id!r}; "
                "custom_id values must be unique within a batch"
            )
        seen.add(item.custom_id)
        items.append(item)
    return items


def attribute_profile(requests: list[Any], items: list[RequestItem], user_profile_id: str | None) -> list[RequestItem]:
    """The batch's `anthropic-user-profile-id` applies to every request; one whose own `user_profile_id` names
    another profile is errored, as the API documents ("an individual request whose `user_profile_id` body field
    conflicts with this header is errored"). Accepted at create, like every per-request error."""
    if not user_profile_id:
        return items
    return [
        item._replace(forced=("errored", "invalid_request_error"))
        if (own := request["params"].get("user_profile_id")) is not None
        and own != user_profile_id
        and (item.forced is None or item.forced[0] != "errored")  # an unserved model's error comes first
        else item
        for request, item in zip(requests, items, strict=True)
    ]


def _validate_request(index: int, request: Any, beta: bool = False, betas: tuple[str, ...] = ()) -> RequestItem:
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
    item = _validate_params(f"{where}.params", custom_id, params, beta, betas)
    _no_extras(where, request, REQUEST_FIELDS)  # like pydantic: declared fields first, then extra ones
    return item


def _check_model(where: str, params: dict[str, Any]) -> str:
    model = params.get("model")
    if model is None:
        raise invalid(f"{_at(where, 'model')}: Field required")
    if not isinstance(model, str) or not model:
        raise invalid(f"{_at(where, 'model')}: Input should be a valid string")
    return model


def _check_messages(where: str, params: dict[str, Any]) -> None:
    messages = params.get("messages")
    if messages is None:
        raise invalid(f"{_at(where, 'messages')}: Field required")
    if not isinstance(messages, list):
        raise invalid(f"{_at(where, 'messages')}: Input should be a valid list")
    if not messages:
        raise invalid(f"{_at(where, 'messages')}: List should have at least 1 item after validation, not 0")


def input_chars(params: dict[str, Any]) -> int:
    """The size the emulator derives input tokens from: the messages and the system prompt as JSON."""
    return len(json.dumps(params["messages"])) + len(json.dumps(params.get("system") or ""))


def _validate_params(
    where: str, custom_id: str, params: dict[str, Any], beta: bool = False, betas: tuple[str, ...] = ()
) -> RequestItem:
    model = _check_model(where, params)
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        raise invalid(f"{where}.max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise invalid(f"{where}.max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        raise invalid(f"{where}.max_tokens: Input should be greater than or equal to 1")
    _check_messages(where, params)
    if params.get("stream"):
        raise invalid(f"{where}.stream: Streaming is not supported in the Message Batches API")
    geo = params.get("inference_geo")
    if geo is not None and not isinstance(geo, str):
        raise invalid(f"{where}.inference_geo: Input should be a valid string")
    _no_extras(where, params, PARAMS_FIELDS + BETA_ONLY_FIELDS if beta else PARAMS_FIELDS)
    tools = params.get("tools") or []
    web_search = any(isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools)
    resolved = resolve_model(model)
    # A model the API does not serve: accepted at create, the request then ends errored (models.py).
    forced = forced_outcome(params) if resolved is not None else ("errored", "not_found_error")
    if geo is not None and resolved is not None and not takes_inference_geo(resolved):
        forced = ("errored", "invalid_request_error")  # below Opus 4.6 / Sonnet 4.6: the API refuses the param
    geo_json = DEFAULT_GEO_JSON if geo is None else json.dumps(geo)  # ASCII: keeps line_bytes exact
    stops = params.get("stop_sequences")
    stop = stops[0] if isinstance(stops, list) and stops and isinstance(stops[0], str) else ""
    compact_over, advisor, fallback, refused = iterations.features(params, tools, betas)
    if refused and resolved is not None:
        forced = ("errored", "invalid_request_error")  # a beta tool or edit without its header, or a bad advisor
    return RequestItem(
        custom_id, forced, resolved or model, max_tokens, input_chars(params), web_search, geo_json, stop,
        compact_over, advisor, fallback,
    )  # fmt: skip


def count_tokens(body: dict[str, Any]) -> int:
    """`input_tokens` of POST /v1/messages/count_tokens: the base figure of what results report for the
    same messages and system (`plan.CHARS_PER_TOKEN`). A model the API does not serve is a 404."""
    model = _check_model("", body)
    _check_messages("", body)
    _no_extras("", body, COUNT_TOKENS_FIELDS)
    if resolve_model(model) is None:
        raise EmulatorError(404, f"model: {model}", "not_found_error")
    return input_chars(body) // CHARS_PER_TOKEN
