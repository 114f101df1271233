"""The dashboard's middleware, answering code in the API's error shape."""

from __future__ import annotations

import json
import uuid

from api.errors import API_PATHS, error_response
from batches.client import RETRYABLE_STATUSES
from dashboard import middleware


class RejectNulMiddleware(middleware.RejectNulMiddleware):
    """As the dashboard's, but a script calling the REST API or the pass-through gets the API's JSON error (the SDK
    reads its message), not a line of plain text."""

    def refuse(self, request):
        if not request.path_info.startswith(API_PATHS):
            return super().refuse(request)
        return error_response(400, self.MESSAGE)


class RequestIdMiddleware:
    """Every answer to code carries a `request-id`, as the API's do, and an error the dashboard answers itself (a
    refused token, an unknown batch, a 500) also carries it in its body and says whether to retry (`x-should-retry`):
    the SDK's `err.request_id` then names the dashboard's log line, and its retry logic has its cue. An answer the
    API gave (forwarded) has its own, passed on as it came."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path_info.startswith(API_PATHS) or "request-id" in response:
            return response
        rid = "req_" + request.META.get("dashboard.request_id", uuid.uuid4().hex)
        response["request-id"] = rid
        status = response.status_code
        if status < 400:
            return response
        if "x-should-retry" not in response:
            # As the SDK reads a status with no header (batches/client.py), so the header only says it outright.
            response["x-should-retry"] = "true" if status in RETRYABLE_STATUSES or status >= 500 else "false"
        if not response.streaming and response.get("Content-Type", "").startswith("application/json"):
            try:
                body = json.loads(response.content)
            except ValueError:
                return response
            if isinstance(body, dict) and body.get("type") == "error" and "request_id" not in body:
                body["request_id"] = rid
                response.content = json.dumps(body).encode()
                if response.has_header("Content-Length"):  # set by CommonMiddleware, inside this one
                    response["Content-Length"] = str(len(response.content))
        return response
