"""Every API error as JSON with one clear message: {"error": {"type": ..., "message": ...}}, the Anthropic API's
shape, so one client handles both."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.views import exception_handler

TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
         405: "invalid_request_error", 409: "conflict_error", 413: "request_too_large", 415: "invalid_request_error",
         429: "rate_limit_error", 503: "overloaded_error"}  # fmt: skip


def handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handler answers, and it is logged
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    response.data = {"type": "error", "error": {"type": TYPES.get(response.status_code, "api_error"),
                                                "message": message(detail)}}  # fmt: skip
    if isinstance(detail, dict) and response.status_code == 400:
        response.data["error"]["fields"] = detail
    return response


def message(detail) -> str:
    """One sentence from DRF's detail (a string, a list, or field -> errors)."""
    if isinstance(detail, dict):
        return "; ".join(f"{name}: {message(value)}" if name != "detail" and name != "non_field_errors"
                         else message(value) for name, value in detail.items())  # fmt: skip
    if isinstance(detail, list):
        return " ".join(message(d) for d in detail)
    return str(detail)
