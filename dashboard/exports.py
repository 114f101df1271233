"""A batch's kept results as downloads: generators for streaming responses, never the whole file in memory.

At most one chunk's lines are decompressed at a time; rows are read from a cursor in batches. The CSV is sorted
by custom_id, read a window of rows at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.http import StreamingHttpResponse

from batches import result_lines
from batches.models import Batch, Result, ResultChunk
from batches.services import pricing
from dashboard.spend.figures import spend_of_batches

CSV_COLUMNS = [
    "custom_id", "result_type", "error_type", "error_message", "request_id", "stop_reason", "model", "input_tokens",
    "output_tokens", "cache_creation_input_tokens", "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens", "cache_read_input_tokens", "web_search_requests", "cost_usd", "text",
]  # fmt: skip
# Every column read from the row (cost and text are worked out), and what pricing a row needs besides.
_ROW_FIELDS = [name for name in CSV_COLUMNS if name not in ("cost_usd", "text")]
_PRICED_BY = ["inference_geo", "speed", "iterations"]
CSV_WINDOW = 5000  # rows sorted by custom_id read at a time: the chunks they need are read once per window

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def results_file(batch: Batch, results: QuerySet[Result], fmt: str, filtered: bool) -> tuple[Iterator, int | None]:
    """A results download ("jsonl" or "csv") and its size when it is known beforehand (the whole JSONL's)."""
    if fmt == "csv":
        return csv_rows(batch, results), None
    if filtered:
        return jsonl_filtered(results), None
    return kept_jsonl(batch)


def kept_jsonl(batch: Batch) -> tuple[Iterator[bytes], int]:
    """Every kept line as the API sent them (`jsonl_all`), and their size."""
    return jsonl_all(batch), jsonl_all_size(batch)


def sized(content: Iterator, size: int | None, content_type: str) -> StreamingHttpResponse:
    """A streamed download, with its Content-Length when its size is known beforehand: the server then writes it as
    it comes (not re-framed in HTTP chunks, a copy of every byte), a browser shows the progress, and a client can
    tell a download cut short."""
    response = StreamingHttpResponse(content, content_type=content_type)
    if size is not None:
        response["Content-Length"] = str(size)
    return response


KEPT_CHUNKS_A_QUERY = 8  # a download reads this many packed chunks at a time: a few MB at most in memory


def jsonl_all(batch: Batch) -> Iterator[bytes]:
    """Every kept line, in the order the API sent them, as it was packed: `jsonl_all_size` bytes.

    Each chunk is written unsearched: every writer packs the lines the stream reader gave, and it gives no empty
    line (client._split_lines); searching each chunk for one was half a 100,000-result download (0.10 of 0.20 s).
    A chunk whose lines are not the size kept with them stops the download (the client sees it cut short by its
    Content-Length), never a file silently different from what was declared."""
    chunks = list(batch.chunks.order_by("pk").values_list("pk", "raw_bytes"))
    for start in range(0, len(chunks), KEPT_CHUNKS_A_QUERY):
        some = chunks[start : start + KEPT_CHUNKS_A_QUERY]
        for (chunk_id, raw_bytes), data in zip(some, ResultChunk.packed_many([pk for pk, _ in some]), strict=True):
            written = 0
            for piece in result_lines.unpack_pieces(data):
                written += len(piece)
                yield piece
            if written != raw_bytes:
                raise ValueError(f"kept chunk {chunk_id} of {batch.pk} holds {written} bytes, not {raw_bytes}")
            yield b"\n"


def jsonl_all_size(batch: Batch) -> int:
    """The bytes `jsonl_all` writes: each chunk's lines and a newline after them."""
    kept = batch.chunks.aggregate(chunks=Count("pk"), raw_bytes=Sum("raw_bytes"))
    return (kept["raw_bytes"] or 0) + kept["chunks"]


def jsonl_filtered(results: QuerySet[Result]) -> Iterator[bytes]:
    return _grouped(line + b"\n" for _, line in _rows_with_lines(results, []))


def _grouped(pieces: Iterator, size: int = 1 << 16) -> Iterator:
    """Join small pieces into ~64 KB writes: 100,000 one-line writes cost more than the data."""
    buffer, length = [], 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield buffer[0][:0].join(buffer)
            buffer, length = [], 0
    if buffer:
        yield buffer[0][:0].join(buffer)


def csv_rows(batch: Batch, results: QuerySet[Result]) -> Iterator[str]:
    """The header, then one row per result sorted by custom_id (as the item table is): its columns, what it
    cost (exact, in dollars; empty when its model has no price) and the message text, in full."""
    book, day = pricing.PriceBook(), pricing.usage_day(batch)
    fields = [*_ROW_FIELDS, *_PRICED_BY]

    def row(values: tuple, line: bytes) -> tuple:
        item = SimpleNamespace(**dict(zip(fields, values, strict=True)))
        cost = pricing.usage_cost(item, day, book)
        succeeded = item.result_type == Result.Type.SUCCEEDED
        return (*values[: len(_ROW_FIELDS)], "" if cost is None else _dollars(cost.cost),
                result_lines.text_of(line) if succeeded else "")  # fmt: skip

    return csv_stream(CSV_COLUMNS, (row(values, line) for values, line in _sorted_rows_with_lines(results, fields)))


def _dollars(value: Decimal) -> str:
    """Exact: a column of them sums to the batch's cost, where rounding each to the cent would not."""
    return f"{value.normalize():f}" if value else "0"


def _sorted_rows_with_lines(results: QuerySet[Result], fields: list[str]) -> Iterator[tuple[tuple, bytes]]:
    """(the fields' values, the raw line) per result, sorted by custom_id. The API sends results in any order,
    so a window of rows may point into every chunk: each window reads each chunk it needs once, and keeps only
    its own rows' lines."""
    rows = results.order_by("custom_id").values_list("chunk_id", "line_index", *fields).iterator(chunk_size=2000)
    while window := list(islice(rows, CSV_WINDOW)):
        wanted: dict[int, set[int]] = {}
        for chunk_id, line_index, *_ in window:
            wanted.setdefault(chunk_id, set()).add(line_index)
        lines = {}
        for chunk_id, indexes in wanted.items():
            chunk_lines = _chunk_lines(chunk_id)
            lines.update(((chunk_id, i), chunk_lines[i]) for i in indexes)
        for chunk_id, line_index, *values in window:
            yield tuple(values), lines[chunk_id, line_index]


BATCH_COLUMNS = [
    "id", "workspace", "status", "created_at", "ended_at", "expires_at", "results_available_until",
    "deleted_in_api_at", "request_total", "processing", "succeeded", "errored", "canceled", "expired", "cost_usd",
    "unpriced_requests", "label", "submitted_by",
]  # fmt: skip
BATCH_WINDOW = 2000  # batches read (with their costs: one more query) at a time


def batch_list_rows(batches: QuerySet[Batch]) -> Iterator[str]:
    """Every batch the list's filters select, in the list's order: times in UTC (ISO 8601), the status as the
    page shows it, cost exact in dollars (empty while nothing of it is priced; "" before its results are kept)."""

    def rows() -> Iterator[tuple]:
        selected = batches.select_related("workspace", "submitted_by").iterator(chunk_size=BATCH_WINDOW)
        while window := list(islice(selected, BATCH_WINDOW)):
            costs = spend_of_batches([batch.pk for batch in window])
            for batch in window:
                spend = costs.get(batch.pk)
                yield (
                    batch.id, batch.workspace.name, batch.shown_status, _utc(batch.created_at), _utc(batch.ended_at),
                    _utc(batch.expires_at), _utc(batch.results_available_until), _utc(batch.gone_from_api_at),
                    batch.request_total, *batch.request_counts.values(),
                    "" if spend is None or spend.cost is None else _dollars(spend.cost),
                    spend.unpriced if spend else 0, batch.label,
                    batch.submitted_by.get_username() if batch.submitted_by else "",
                )  # fmt: skip

    return csv_stream(BATCH_COLUMNS, rows())


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def csv_stream(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """A streamed CSV, every cell neutralised against spreadsheet formulas."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_neutralise(value) for value in row])

    return _grouped(lines())


def _rows_with_lines(results: QuerySet[Result], fields: list[str]) -> Iterator[tuple[tuple, bytes]]:
    """(the fields' values, the raw line) per result, in storage order so each chunk is read once."""
    rows = results.order_by("chunk_id", "line_index").values_list("chunk_id", "line_index", *fields)
    current, lines = None, []
    for chunk_id, line_index, *values in rows.iterator(chunk_size=2000):
        if chunk_id != current:
            current, lines = chunk_id, _chunk_lines(chunk_id)
        yield tuple(values), lines[line_index]


def _chunk_lines(chunk_id: int) -> list[bytes]:
    return result_lines.unpack(ResultChunk.packed(chunk_id))


def _neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _Echo:
    """A file-like object for csv.writer: writerow returns the row's text instead of storing it."""

    def write(self, value: str) -> str:
        return value
