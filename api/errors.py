"""Every API error as JSON with one clear message: {"error": {"type": ..., "message": ...}}, the Anthropic API's
shape, so one client handles both."""

from __future__ import annotations

import json
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler

from dashboard.views.server_error import bad_request as page_bad_request
from dashboard.views.server_error import server_error as page_server_error
from dashboard.views.server_error import why_bad

API_PATHS = ("/api/v1/", "/anthropic/")  # code's callers: the REST API and the pass-through

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


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's last handler (config/urls.py). Code calling the REST API or the pass-through gets JSON in the API's
    shape, as for every other error: a database that cannot be reached is a 503 to try again in a moment (the SDK
    retries it; nothing was forwarded without its keep, so a retried create is safe), anything else a 500. A person
    gets the dashboard's page."""
    if not request.path_info.startswith(API_PATHS):  # path_info: the same under a script prefix
        return page_server_error(request)
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        status, text = 503, "The dashboard's database is unreachable right now; try again in a moment."
        headers = {"Retry-After": "5", "x-should-retry": "true"}
    else:
        status, text, headers = 500, "Something went wrong on the dashboard's side; it was logged.", {}
    return error_response(status, text, headers)


def bad_request(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """Django's 400 handler (config/urls.py): code gets the API's shape, with why (more than 1,000 fields, say), where
    it got Django's bare HTML page; a person gets a page that says what to do."""
    if not request.path_info.startswith(API_PATHS):
        return page_bad_request(request, exception)
    return error_response(400, why_bad(exception))


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    """An error answered outside DRF (the 500 handler, middleware) in the same shape as every other."""
    body = {"type": "error", "error": {"type": TYPES.get(status, "api_error"), "message": message}}
    return HttpResponse(json.dumps(body), status=status, content_type="application/json", headers=headers)
