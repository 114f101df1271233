"""Ingest an ended batch's results: streamed, chunked, idempotent and resumable.

Each chunk of lines is written in one transaction: the compressed raw lines and one `Result` row
per line. A run cut short (connection lost, worker killed) leaves only whole chunks behind; the
next run streams again and skips every `custom_id` already stored, so nothing is duplicated and
nothing is missed. The unique (batch, custom_id) constraint backs this up against concurrent runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from batches import client
from batches.errors import ResultsUnavailableError
from batches.models import Batch, Result, ResultChunk

log = logging.getLogger(__name__)

RESULT_TYPES = {"succeeded", "errored", "canceled", "expired"}


@dataclass
class IngestReport:
    batch_id: str
    new_items: int = 0
    skipped_items: int = 0
    malformed: int = 0
    complete: bool = False
    unavailable: str = ""


def ingest_results(batch: Batch) -> IngestReport:
    """Store every result line of an ended batch that is not stored yet."""
    report = IngestReport(batch.id)
    if batch.results_ingested_at or batch.results_unavailable_at or not batch.is_terminal:
        return report
    if batch.results_expired():
        _mark_unavailable(batch, "results expired: the API keeps them for 29 days after creation", report)
        return report
    Batch.objects.filter(pk=batch.pk).update(ingest_attempts=F("ingest_attempts") + 1)
    resuming = Result.objects.filter(batch=batch).exists()
    try:
        with client.stream_results(batch.workspace.credentials, batch.id) as lines:
            for chunk in _chunks(lines, settings.INGEST_CHUNK_LINES):
                _write_chunk(batch, chunk, resuming, report)
    except ResultsUnavailableError as exc:
        # Past the retention window (or archived) this is final; otherwise it may be the API's
        # propagation delay right after the batch ended, so the next pass tries again.
        if batch.results_expired():
            _mark_unavailable(batch, f"results no longer available: {exc.message}", report)
            return report
        raise
    except Exception as exc:
        Batch.objects.filter(pk=batch.pk).update(ingest_error=str(exc)[:2000])
        raise
    _finish(batch, report)
    return report


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    it = iter(lines)
    while chunk := list(islice(it, size)):
        yield chunk


def _write_chunk(batch: Batch, lines: list[bytes], resuming: bool, report: IngestReport) -> None:
    parsed = [(line, parse_line(line)) for line in lines]
    seen: set[str] = set()
    if resuming:
        ids = [fields["custom_id"] for _, fields in parsed]
        seen = set(Result.objects.filter(batch=batch, custom_id__in=ids).values_list("custom_id", flat=True))
    keep: list[tuple[bytes, dict[str, Any]]] = []
    for line, fields in parsed:
        if fields["custom_id"] in seen:
            report.skipped_items += 1
            continue
        seen.add(fields["custom_id"])  # a line repeated within one stream is stored once
        keep.append((line, fields))
    if not keep:
        return
    raw = b"\n".join(line for line, _ in keep)
    malformed = sum(1 for _, fields in keep if fields["result_type"] == Result.Type.MALFORMED)
    with transaction.atomic():
        chunk = ResultChunk.objects.create(
            batch=batch, data=zlib.compress(raw, 6), line_count=len(keep), raw_bytes=len(raw)
        )
        rows = [Result(batch=batch, chunk=chunk, line_index=i, **fields) for i, (_, fields) in enumerate(keep)]
        # ignore_conflicts: a concurrent run may have stored some of these a moment ago.
        Result.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    report.new_items += len(keep)
    report.malformed += malformed


def _finish(batch: Batch, report: IngestReport) -> None:
    stored = Result.objects.filter(batch=batch).count()
    malformed = Result.objects.filter(batch=batch, result_type=Result.Type.MALFORMED).count()
    expected = batch.total_requests
    if stored < expected:
        # The stream ended early without a transport error: try again next pass rather than
        # declare done with items missing.
        message = f"results stream ended with {stored} of {expected} results; will resume"
        Batch.objects.filter(pk=batch.pk).update(items_ingested=stored, malformed_count=malformed, ingest_error=message)
        log.warning("batch %s: %s", batch.id, message)
        return
    now = timezone.now()
    Batch.objects.filter(pk=batch.pk).update(
        items_ingested=stored, malformed_count=malformed, results_ingested_at=now, ingest_error=""
    )
    batch.items_ingested, batch.malformed_count, batch.results_ingested_at = stored, malformed, now
    report.complete = True


def _mark_unavailable(batch: Batch, reason: str, report: IngestReport) -> None:
    now = timezone.now()
    Batch.objects.filter(pk=batch.pk).update(results_unavailable_at=now, results_unavailable_reason=reason[:300])
    batch.results_unavailable_at, batch.results_unavailable_reason = now, reason[:300]
    report.unavailable = reason


# --- parsing -----------------------------------------------------------------------------------
def parse_line(line: bytes) -> dict[str, Any]:
    """The `Result` fields of one JSONL line; a line that is not a valid result is `malformed`."""
    try:
        data = json.loads(line)
        custom_id = data["custom_id"]
        result = data["result"]
        result_type = result["type"]
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 128 or result_type not in RESULT_TYPES:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return _malformed(line)
    fields: dict[str, Any] = {"custom_id": custom_id, "result_type": result_type}
    try:
        if result_type == "succeeded":
            fields.update(_message_fields(result["message"]))
        elif result_type == "errored":
            fields.update(_error_fields(result["error"]))
    except (KeyError, TypeError, ValueError):
        return _malformed(line, custom_id)
    return fields


def _message_fields(message: dict[str, Any]) -> dict[str, Any]:
    usage = message["usage"]
    cache_creation = usage.get("cache_creation") or {}
    server_tool_use = usage.get("server_tool_use") or {}
    return {
        "message_id": message.get("id") or "",
        "model": message.get("model") or "",
        "stop_reason": message.get("stop_reason") or "",
        "input_tokens": int(usage["input_tokens"]),
        "output_tokens": int(usage["output_tokens"]),
        "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
        "cache_creation_5m_input_tokens": int(cache_creation.get("ephemeral_5m_input_tokens") or 0),
        "cache_creation_1h_input_tokens": int(cache_creation.get("ephemeral_1h_input_tokens") or 0),
        "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
        "web_search_requests": int(server_tool_use.get("web_search_requests") or 0),
        "web_fetch_requests": int(server_tool_use.get("web_fetch_requests") or 0),
        "service_tier": usage.get("service_tier") or "",
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
        "custom_id": key,
        "result_type": Result.Type.MALFORMED,
        "error_type": "malformed_line",
        "error_message": f"unparseable result line ({len(line)} bytes); the raw text is kept",
    }
