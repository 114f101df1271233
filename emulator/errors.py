"""API error types, their HTTP statuses and bodies, and the exception the Python API raises."""

from __future__ import annotations

import json
from typing import Any

STATUS_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

DEFAULT_MESSAGES: dict[str, str] = {
    "invalid_request_error": "messages: text content blocks must be non-empty",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit.",
    "timeout_error": "Request timed out before a response could be produced.",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
    "conflict_error": "Conflict",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
}


# Error statuses the API marks `x-should-retry: true` (what the SDK retries by default too: 408, 409, 429
# and every 5xx, 529 included). Every other error status carries `x-should-retry: false`.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def should_retry(status: int) -> bool:
    """The `x-should-retry` value of an error response of this status (a fault may override it)."""
    return status in RETRYABLE_STATUSES or status >= 500


def error_type_for(status: int) -> str:
    if status in STATUS_ERROR_TYPES:
        return STATUS_ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(error_type: str, message: str | None, request_id: str, error_code: str | None = None) -> bytes:
    error: dict[str, Any] = {"type": error_type, "message": message or DEFAULT_MESSAGES.get(error_type, error_type)}
    if error_code is not None:  # newer API versions name the cause; the SDK maps (status, code) to a subclass
        error["details"] = {"error_code": error_code}
    return json.dumps({"type": "error", "error": error, "request_id": request_id}).encode()


class EmulatorError(Exception):
    """An API-level error. The HTTP layer turns it into the API's error response; the Python API raises it."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_for(status)


def not_found(batch_id: str) -> EmulatorError:
    return EmulatorError(404, f"Message batch {batch_id} not found.")


def invalid(message: str) -> EmulatorError:
    return EmulatorError(400, message)
