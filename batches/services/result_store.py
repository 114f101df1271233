"""Store a batch's result lines: parsed, in chunks, each chunk one transaction, never a line twice.

Each chunk is written in one transaction: its raw lines packed together (batches/result_lines.py) and
one `Result` row per line. A stream cut short leaves only whole chunks behind; reading again with
`resuming` skips every `custom_id` already stored, so nothing is duplicated and nothing is missed. The
unique (batch, custom_id) constraint backs this up against concurrent runs. `finish` marks the batch
ingested only when the stored results cover its request counts, and rolls up its errors and usage.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from batches import result_lines
from batches.models import (
    INCOMPLETE,
    INCOMPLETE_STOP_REASONS,
    Batch,
    ErrorCount,
    IncompleteCount,
    Result,
    ResultChunk,
    UsageRollup,
)
from batches.services import pricing, versions
from batches.services.notify import events

THREADED_FROM_CHUNKS = 3  # a batch of more chunks than this is written on a second thread


@dataclass
class Counts:
    new_items: int = 0
    skipped_items: int = 0
    malformed: int = 0
    # What the stored rows hold, counted as they are stored: the rollups of a batch stored in one run,
    # without reading its rows again (finish).
    errors: Counter = field(default_factory=Counter)  # error_type → rows
    incomplete: Counter = field(default_factory=Counter)  # (stop_reason, stop_details_category) → rows


def store(batch: Batch, lines: Iterable[bytes], counts: Counts, *, resuming: bool, renew: Callable[[], None]) -> None:
    """Parse and store `lines` chunk by chunk; `renew` is called after each (the caller's lease)."""
    with _Writer(batch, counts) as writer:
        for chunk in _chunks(lines, settings.INGEST_CHUNK_LINES, settings.INGEST_CHUNK_BYTES):
            writer.put(_new_lines(batch, chunk, resuming, counts))
            renew()


def _chunks(lines: Iterable[bytes], most_lines: int, most_bytes: int) -> Iterator[list[bytes]]:
    """Runs of lines, each ending at `most_lines` lines or once it holds `most_bytes`, whichever comes first.

    Bytes bound what an ingest holds (a few chunks at a time) whatever the lines' size: counted in lines
    alone, 2,000 lines of 50 KB were 100 MB a chunk.
    """
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        chunk.append(line)
        size += len(line)
        if len(chunk) >= most_lines or size >= most_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _new_lines(batch: Batch | None, lines: list[bytes], resuming: bool, counts: Counts) -> list[tuple[bytes, dict]]:
    """The chunk's lines parsed, less those already stored (by an earlier, interrupted run)."""
    parsed = [(line, result_lines.parse(line)) for line in lines]
    seen: set[str] = set()
    if resuming:
        ids = [fields["custom_id"] for _, fields in parsed]
        seen = set(Result.objects.filter(batch=batch, custom_id__in=ids).values_list("custom_id", flat=True))
    keep: list[tuple[bytes, dict[str, Any]]] = []
    for line, fields in parsed:
        if fields["custom_id"] in seen:
            counts.skipped_items += 1
            continue
        seen.add(fields["custom_id"])  # a line repeated within one stream is stored once
        keep.append((line, fields))
    return keep


def parse_new(lines: list[bytes], counts: Counts) -> list[tuple[bytes, dict]]:
    """A first run's lines parsed, a line repeated within the stream kept once (nothing is stored yet)."""
    return _new_lines(None, lines, False, counts)


def store_many(runs: list[tuple[Batch, list[tuple[bytes, dict]], Counts]]) -> None:
    """Several batches' first runs, each one chunk, in the caller's transaction: their chunks by one INSERT,
    their rows by one COPY (an INSERT elsewhere). A custom_id already stored fails it whole (IntegrityError)."""
    chunks = ResultChunk.objects.bulk_create(
        [
            ResultChunk(batch=batch, data=result_lines.pack([line for line, _ in keep]), line_count=len(keep),
                        raw_bytes=sum(len(line) for line, _ in keep) + len(keep) - 1)
            for batch, keep, _ in runs
        ]
    )  # fmt: skip
    ids = [(batch.pk, keep, chunk.pk) for (batch, keep, _), chunk in zip(runs, chunks, strict=True)]
    rows = [
        (batch_id, chunk_id, i, *fields.values())
        for batch_id, keep, chunk_id in ids
        for i, (_, fields) in enumerate(keep)
    ]
    _write_rows(rows, copy=connection.vendor == "postgresql", skip_stored=False)
    for _, keep, counts in runs:
        _count(keep, counts)


@dataclass
class _Chunk:
    """One chunk's new lines, parsed and packed (on the reading thread), ready to store."""

    keep: list[tuple[bytes, dict]]
    data: bytes = b""
    raw_bytes: int = 0
    id: int | None = None  # given beforehand when several writers store chunks: the stream's order, kept

    @classmethod
    def of(cls, keep: list[tuple[bytes, dict]]) -> _Chunk:
        lines = [line for line, _ in keep]
        return cls(keep, result_lines.pack(lines), sum(map(len, lines)) + len(lines) - 1)


def _store(batch: Batch, chunk: _Chunk) -> None:
    """One chunk: its compressed raw lines and its rows, in one transaction."""
    fields = {"batch": batch, "data": chunk.data, "line_count": len(chunk.keep), "raw_bytes": chunk.raw_bytes}
    if chunk.id is not None:
        fields["id"] = chunk.id
    try:
        with transaction.atomic():
            row = ResultChunk.objects.create(**fields)
            _insert_rows(batch, row, chunk.keep, copy=connection.vendor == "postgresql")
    except IntegrityError:
        # COPY cannot skip conflicts: a concurrent run stored some of these custom_ids a moment earlier.
        # The chunk is written again whole, its rows by an INSERT that skips them. (No savepoint around the
        # COPY on the common path: two round trips a chunk, a tenth of a small batch's ingest.)
        with transaction.atomic():
            row = ResultChunk.objects.create(**fields)
            _insert_rows(batch, row, chunk.keep, copy=False)


def _count(keep: list[tuple[bytes, dict]], counts: Counts) -> None:
    counts.new_items += len(keep)
    counts.malformed += sum(1 for _, fields in keep if fields["result_type"] == Result.Type.MALFORMED)
    # As _roll_up_errors and _roll_up_incomplete count them in SQL (INCOMPLETE).
    counts.errors.update(fields["error_type"] for _, fields in keep if fields["error_type"])
    counts.incomplete.update(
        (fields["stop_reason"], fields["stop_details_category"])
        for _, fields in keep
        if fields["result_type"] == Result.Type.SUCCEEDED and fields["stop_reason"] in INCOMPLETE_STOP_REASONS
    )


class _Writer:
    """Stores chunks on writer threads, each with its own connection, while this one reads, parses and packs.

    PostgreSQL's work and zstd both release the GIL, so reading and writing overlap. One writer was the slower
    side: it waits for each chunk's COPY, and took 2.0 s of a 2.3 s ingest of 100,000 results while the reading
    thread waited on it for 1.1 s. Two writers on PostgreSQL (INGEST_WRITERS) took it to 1.6-1.8 s
    (bench/ingest.py); SQLite writes one transaction at a time, so it has one. With several, each chunk's id is
    taken from the sequence here, in the stream's order, so the kept lines read back in the order the API sent
    them whichever writer commits first.

    A batch of a few chunks is stored inline: threads and new connections cost more than the overlap saves
    (9 ms a batch, most of a 100-result batch's ingest). Inside an open transaction (a test's) a second
    connection could not see the batch, so chunks are stored inline there too.
    """

    def __init__(self, batch: Batch, counts: Counts) -> None:
        self.batch, self.counts = batch, counts
        small = batch.request_total <= THREADED_FROM_CHUNKS * settings.INGEST_CHUNK_LINES
        self.threaded = not connection.in_atomic_block and not small
        writers = max(1, settings.INGEST_WRITERS) if connection.vendor == "postgresql" else 1
        self.ids = _ChunkIds() if writers > 1 else None
        self.queue: queue.Queue = queue.Queue(maxsize=writers)
        self.counting = threading.Lock()  # the writers' counts are one Counts
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._run, name=f"ingest-{batch.pk}-{n}", daemon=True) for n in range(writers)
        ]

    def __enter__(self) -> _Writer:
        if self.threaded:
            for thread in self.threads:
                thread.start()
        return self

    def put(self, keep: list[tuple[bytes, dict]]) -> None:
        if not keep:
            return
        chunk = _Chunk.of(keep)
        if not self.threaded:
            _store(self.batch, chunk)
            _count(keep, self.counts)
            return
        if self.error:
            raise self.error
        if self.ids:
            chunk.id = self.ids.next()
        self.queue.put(chunk)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.threaded:
            for _ in self.threads:
                self.queue.put(None)  # even after a cut: what was read is still stored
            for thread in self.threads:
                thread.join()
            if self.error and exc is None:
                raise self.error

    def _run(self) -> None:
        try:
            while (chunk := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        _store(self.batch, chunk)
                    except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                        self.error = exc
                        continue
                    with self.counting:
                        _count(chunk.keep, self.counts)
        finally:
            connection.close()


class _ChunkIds:
    """Chunk ids taken from the table's sequence ahead, in order, a block at a time: one round trip a chunk cost
    as much as a tenth of the reading thread's time, each answer waiting its turn for the GIL."""

    BLOCK = 16

    def __init__(self) -> None:
        self.ahead: list[int] = []

    def next(self) -> int:
        if not self.ahead:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [ResultChunk._meta.db_table, self.BLOCK],
                )
                self.ahead = sorted((row[0] for row in cursor.fetchall()), reverse=True)
        return self.ahead.pop()


_COLUMNS = ["batch_id", "chunk_id", "line_index", *result_lines.FIELDS]


def _insert_rows(batch: Batch, chunk: ResultChunk, keep: list[tuple[bytes, dict]], *, copy: bool) -> None:
    """Insert Result rows as plain tuples: the ORM's per-field preparation costs more than the DB.

    PostgreSQL takes them by COPY, which raises IntegrityError on a custom_id already stored; otherwise an
    INSERT that skips those.
    """
    # The ids read once: a model's `pk` is a property, and reading two per row held the GIL for a sixth of a large
    # ingest, on the thread that writes.
    batch_id, chunk_id = batch.pk, chunk.pk
    rows = [(batch_id, chunk_id, i, *fields.values()) for i, (_, fields) in enumerate(keep)]
    _write_rows(rows, copy=copy, skip_stored=True)


def _write_rows(rows: list[tuple], *, copy: bool, skip_stored: bool) -> None:
    table = Result._meta.db_table
    columns = ", ".join(_COLUMNS)
    if copy:
        # The raw psycopg cursor's errors are psycopg's own: wrap them so IntegrityError is caught.
        with connection.cursor() as cursor, connection.wrap_database_errors:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as writer:
                for row in rows:
                    writer.write_row(row)
        return
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
            + (" ON CONFLICT (batch_id, custom_id) DO NOTHING" if skip_stored else ""),
            rows,
        )


def finish(batch: Batch, *, counted: Counts | None = None) -> str:
    """Mark the batch ingested if every result is stored, with its rollups: "" then, or why it is not.

    `counted`: what one run stored from nothing (no row was there before it). When it accounts for every
    stored row, the rollups are taken from its counts rather than by reading the rows again, and there
    are no earlier rollup rows to clear (a batch's first ingest: 4 queries fewer).
    """
    totals = Result.objects.filter(batch=batch).aggregate(
        stored=Count("id"), malformed=Count("id", filter=Q(result_type=Result.Type.MALFORMED))
    )
    stored, malformed = totals["stored"], totals["malformed"]
    expected = batch.request_total
    if stored < expected:
        # The stream ended early without a transport error: never declare done with items missing.
        Batch.objects.filter(pk=batch.pk).update(items_ingested=stored, malformed_count=malformed)
        return f"the results stream ended with {stored:,} of {expected:,} results"
    now = timezone.now()
    with transaction.atomic():
        versions.bump(batch.workspace_id)  # results kept: the list's errors and cost, the page's tables
        if counted is not None and counted.new_items == stored:
            incomplete = _write_counts(batch, counted)
        else:
            _roll_up_errors(batch)
            incomplete = _roll_up_incomplete(batch)
        pricing.roll_up(batch)
        # The model most of its results name: what makes later batches "like this one" for an ETA.
        main = batch.usage.filter(iteration="").order_by("-requests", "model").values_list("model", flat=True).first()
        _mark_kept(batch, stored, malformed, incomplete, main, now)
        # In the same transaction (an outbox): the end is announced if and only if it is recorded.
        events.batch_settled(batch, "kept")
        events.prices_missing(batch)  # an alarm, not a footnote: totals leave these requests out
        events.budgets_crossed(workspace_id=batch.workspace_id)
    return ""


def finish_many(runs: list[tuple[Batch, Counts]]) -> None:
    """`finish` of batches each stored whole by one run just now (store_many), in the caller's transaction and
    in set-based queries: the rollups of all at once, then one UPDATE and the events of each."""
    now = timezone.now()
    versions.bump_many(batch.workspace_id for batch, _ in runs)
    ErrorCount.objects.bulk_create(
        [ErrorCount(batch=batch, workspace_id=batch.workspace_id, error_type=t, count=n)
         for batch, counted in runs for t, n in counted.errors.items()],
        update_conflicts=True, unique_fields=["batch", "error_type"], update_fields=["count", "workspace"],
    )  # fmt: skip
    IncompleteCount.objects.bulk_create(
        [IncompleteCount(batch=batch, workspace_id=batch.workspace_id, stop_reason=r, category=c, count=n)
         for batch, counted in runs for (r, c), n in counted.incomplete.items()],
        update_conflicts=True, unique_fields=["batch", "stop_reason", "category"], update_fields=["count"],
    )  # fmt: skip
    batches = [batch for batch, _ in runs]
    pricing.roll_up_many(batches)
    main = _main_models(batches)
    for batch, counted in runs:
        _mark_kept(
            batch, counted.new_items, counted.malformed, sum(counted.incomplete.values()), main.get(batch.pk), now
        )
        events.batch_settled(batch, "kept")
    events.prices_missing_many(batches)
    for workspace_id in sorted({batch.workspace_id for batch in batches}):
        events.budgets_crossed(workspace_id=workspace_id)


def _mark_kept(batch: Batch, stored: int, malformed: int, incomplete: int, main: str | None, now) -> None:
    """Record the batch as kept, on the row and on `batch`: its counts, the model most of its results name (what
    makes later batches "like this one" for an ETA), and whatever failed before is over."""
    Batch.objects.filter(pk=batch.pk).update(
        items_ingested=stored, malformed_count=malformed, results_ingested_at=now, incomplete_count=incomplete,
        model=(main or batch.model)[:128],
        ingest_failures=0, ingest_not_before=None, ingest_error="", ingest_error_type="", ingest_error_permanent=False,
    )  # fmt: skip
    batch.items_ingested, batch.malformed_count, batch.results_ingested_at = stored, malformed, now
    batch.incomplete_count = incomplete


def _main_models(batches: list[Batch]) -> dict[str, str]:
    """The model most of each batch's results name (its usage row of most requests), as `finish` picks it."""
    rows = (
        UsageRollup.objects.filter(batch__in=batches, iteration="")
        .order_by("batch_id", "-requests", "model")
        .values_list("batch_id", "model")
    )
    main: dict[str, str] = {}
    for batch_id, model in rows:
        main.setdefault(batch_id, model)
    return main


def _write_counts(batch: Batch, counted: Counts) -> int:
    """The ErrorCount and IncompleteCount rows of a batch stored whole by one run; the total incomplete."""
    ws = batch.workspace_id
    errors = [ErrorCount(batch=batch, workspace_id=ws, error_type=t, count=n) for t, n in counted.errors.items()]
    ErrorCount.objects.bulk_create(
        errors, update_conflicts=True, unique_fields=["batch", "error_type"], update_fields=["count", "workspace"]
    )
    incomplete = [
        IncompleteCount(batch=batch, workspace_id=ws, stop_reason=r, category=c, count=n)
        for (r, c), n in counted.incomplete.items()
    ]
    IncompleteCount.objects.bulk_create(
        incomplete, update_conflicts=True, unique_fields=["batch", "stop_reason", "category"], update_fields=["count"]
    )
    return sum(counted.incomplete.values())


def _roll_up_errors(batch: Batch) -> None:
    """Replace the batch's ErrorCount rows by a fresh count: idempotent however often it runs."""
    counts = (
        Result.objects.filter(batch=batch)
        .exclude(error_type="")
        .values_list("error_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [ErrorCount(batch=batch, workspace_id=batch.workspace_id, error_type=t, count=n) for t, n in counts]
    ErrorCount.objects.filter(batch=batch).exclude(error_type__in=[r.error_type for r in rows]).delete()
    # An upsert: two runs finishing the same batch at once (each saw every result) agree on the rows.
    ErrorCount.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["batch", "error_type"], update_fields=["count", "workspace"]
    )


def _roll_up_incomplete(batch: Batch) -> int:
    """Replace the batch's IncompleteCount rows by a fresh count (idempotent); the batch's total incomplete."""
    counts = (
        Result.objects.filter(INCOMPLETE, batch=batch)
        .values_list("stop_reason", "stop_details_category")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [
        IncompleteCount(batch=batch, workspace_id=batch.workspace_id, stop_reason=r, category=c, count=n)
        for r, c, n in counts
    ]
    keep = Q()
    for row in rows:
        keep |= Q(stop_reason=row.stop_reason, category=row.category)
    IncompleteCount.objects.filter(batch=batch).exclude(keep).delete() if rows else None
    if not rows:
        IncompleteCount.objects.filter(batch=batch).delete()
    # An upsert, as for errors: two runs finishing the same batch at once agree on the rows.
    IncompleteCount.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["batch", "stop_reason", "category"], update_fields=["count"]
    )
    return sum(row.count for row in rows)
