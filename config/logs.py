"""Logs that can be followed and shared: a request id on every line, JSON on demand, never a request body.

Imported by the logging configuration itself (settings.LOGGING), so nothing here touches models.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from celery import current_task

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# An incoming id is kept only if it is short and plain, so a client cannot write markup or newlines into logs.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Health probes hit every few seconds: their lines would bury the rest at INFO.
QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}
access_log = logging.getLogger("dashboard.request")


def configure(config: dict) -> None:
    """settings.LOGGING_CONFIG, also used by Celery: Python warnings become log records like any other,
    so with LOG_FORMAT=json every line on stderr is one JSON object."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


class RequestIdMiddleware:
    """Give each request an id (or keep a valid incoming `X-Request-ID`), return it in `X-Request-ID`,
    and log one line per request with its method, path, status and duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        # For the request watchdog (config/watchdog.py), which names a request it cuts by this id.
        request.META["dashboard.request_id"] = rid
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
            access_log.log(
                level, "%s %s %s %.1f ms", request.method, request.path, response.status_code, elapsed_ms,
                extra={"method": request.method, "path": request.path, "status": response.status_code,
                       "duration_ms": elapsed_ms},
            )  # fmt: skip
            return response
        finally:
            request_id.reset(token)


class ContextFilter(logging.Filter):
    """Put the current request's id, and the current Celery task's id, on every record (`context_id`:
    whichever there is, for the text format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.task_id = getattr(current_task.request, "id", None) if current_task else None
        record.context_id = record.request_id or record.task_id or "-"
        return True


class DropRequestBodies(logging.Filter):
    """At DEBUG the SDK logs each request's options, whole body included (a 13.4 MB line of prompts was
    seen). Keep what says which call it was, and drop the rest."""

    KEPT = ("method", "url", "params", "timeout", "max_retries")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Request options: %s" and record.name.startswith("anthropic"):
            options = record.args if isinstance(record.args, dict) else (record.args or ({},))[0]
            kept = {k: options[k] for k in self.KEPT if isinstance(options, dict) and k in options}
            record.args = ({**kept, "body": "(not logged)"},)
        return True


class ForbiddenInOneLine(logging.Filter):
    """Django logs every 403 at WARNING with the PermissionDenied's whole traceback (97 in 25 minutes were
    seen): a refusal is the server working as meant. Keep its one line, which says the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info, record.exc_text = None, None
        return True


# Every control character (and the Unicode line breaks) as a visible escape: a path with %0a, or an id from the API
# with a newline, cannot start a forged line of its own in the text log.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, 0x85)} | {0x2028: "\\u2028", 0x2029: "\\u2029"}
_CONTROLS |= {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


class TextFormatter(logging.Formatter):
    """The text format: one line per record whatever its message holds (a traceback still follows it)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's API
        record.message = record.message.translate(_CONTROLS)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id or task_id, and any extras
    a caller passed (method, path, status, duration_ms)."""

    EXTRAS = ("method", "path", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "task_id"):
            if getattr(record, key, None):
                entry[key] = getattr(record, key)
        entry.update({k: getattr(record, k) for k in self.EXTRAS if hasattr(record, k)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
