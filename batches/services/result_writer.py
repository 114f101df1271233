"""A batch's result chunks written: each in one transaction, a large batch's by writer threads in the stream's order.

result_store.py reads and parses the lines and decides what is new; here each chunk is packed and stored (its raw
lines compressed together, one `Result` row per line, by COPY on PostgreSQL), and what the stored rows hold is
counted as they are stored.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from batches import result_lines
from batches.models import INCOMPLETE_STOP_REASONS, Batch, Result, ResultChunk

THREADED_FROM_CHUNKS = 3  # a batch of more chunks than this is written on writer threads
TURN_SECONDS = 30.0  # the longest a chunk waits for the one before it to commit (a chunk takes tens of ms)


@dataclass
class Counts:
    new_items: int = 0
    skipped_items: int = 0
    malformed: int = 0
    # What the stored rows hold, counted as they are stored: the rollups of a batch stored in one run,
    # without reading its rows again (finish).
    errors: Counter = field(default_factory=Counter)  # error_type → rows
    incomplete: Counter = field(default_factory=Counter)  # (stop_reason, stop_details_category) → rows
    # What the spend rollup would otherwise find by reading every stored row twice more (pricing.roll_up): the
    # models of the succeeded rows, and how many of those have calls billed apart (`iterations`).
    models: set = field(default_factory=set)
    with_iterations: int = 0


@dataclass
class Chunk:
    """One chunk's new lines, parsed and packed (on the reading thread), ready to store: `of` says how a run of
    lines is kept (result_store.store_many keeps a group's runs so too)."""

    keep: list[tuple[bytes, dict]]
    data: bytes = b""
    raw_bytes: int = 0
    id: int | None = None  # given beforehand when several writers store chunks: the stream's order, kept
    seq: int = 0  # its place in the stream: with several writers, chunks commit in this order

    @classmethod
    def of(cls, keep: list[tuple[bytes, dict]]) -> Chunk:
        lines = [line for line, _ in keep]
        return cls(keep, result_lines.pack(lines), sum(map(len, lines)) + len(lines) - 1)


def _store(batch: Batch, chunk: Chunk, before_commit: Callable[[], None] = lambda: None) -> list[tuple[bytes, dict]]:
    """One chunk: its compressed raw lines and its rows, in one transaction (`before_commit` is its last step).
    Returns the lines whose rows it stored."""
    fields = {"batch": batch, "data": chunk.data, "line_count": len(chunk.keep), "raw_bytes": chunk.raw_bytes}
    if chunk.id is not None:
        fields["id"] = chunk.id
    try:
        with transaction.atomic():
            row = ResultChunk.objects.create(**fields)
            _insert_rows(batch, row, chunk.keep, copy=connection.vendor == "postgresql")
            before_commit()
        return chunk.keep
    except IntegrityError:
        # COPY cannot skip conflicts: a concurrent run stored some of these custom_ids a moment earlier.
        # The chunk is written again whole, its rows by an INSERT that skips them. (No savepoint around the
        # COPY on the common path: two round trips a chunk, a tenth of a small batch's ingest.)
        with transaction.atomic():
            row = ResultChunk.objects.create(**fields)
            _insert_rows(batch, row, chunk.keep, copy=False)
            # Counted as stored: only the rows this chunk holds (the others were the concurrent run's).
            ours = set(Result.objects.filter(chunk=row).values_list("custom_id", flat=True))
            before_commit()
        return [(line, fields) for line, fields in chunk.keep if fields["custom_id"] in ours]


_SUCCEEDED, _MALFORMED = str(Result.Type.SUCCEEDED.value), str(Result.Type.MALFORMED.value)


def count(keep: list[tuple[bytes, dict]], counts: Counts) -> None:
    """Add what these stored rows hold to `counts`: one pass, with plain strings (several passes comparing
    with the enum took 70 ms of a 100,000-result ingest's GIL time; this takes 30)."""
    errors, incomplete, models = counts.errors, counts.incomplete, counts.models
    malformed = with_iterations = 0
    for _, fields in keep:
        kind = fields["result_type"]
        if kind == _SUCCEEDED:
            models.add(fields["model"])
            if fields["iterations"]:
                with_iterations += 1
            # As _roll_up_incomplete counts them in SQL (INCOMPLETE).
            if fields["stop_reason"] in INCOMPLETE_STOP_REASONS:
                incomplete[fields["stop_reason"], fields["stop_details_category"]] += 1
        elif kind == _MALFORMED:
            malformed += 1
        if fields["error_type"]:  # as _roll_up_errors counts them
            errors[fields["error_type"]] += 1
    counts.new_items += len(keep)
    counts.malformed += malformed
    counts.with_iterations += with_iterations


class Writer:
    """Stores chunks on writer threads, each with its own connection, while this one reads, parses and packs.

    PostgreSQL's work and zstd both release the GIL, so reading and writing overlap. One writer was the slower
    side: it waits for each chunk's COPY, and took 2.0 s of a 2.3 s ingest of 100,000 results while the reading
    thread waited on it for 1.1 s. Two writers on PostgreSQL (INGEST_WRITERS) took it to 1.6-1.8 s
    (bench/ingest.py); SQLite writes one transaction at a time, so it has one. With several, each chunk's id is
    taken from the sequence here, in the stream's order, so the kept lines read back in the order the API sent
    them; and chunks commit in that order (`_Turns`), so what is stored is always the stream's beginning, as with
    one writer: a worker killed, or a writer that fails, leaves no gap for a resumed run to fill out of order.

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
        self.turns = _Turns()
        self.chunks_put = 0
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._run, name=f"ingest-{batch.pk}-{n}", daemon=True) for n in range(writers)
        ]

    def __enter__(self) -> Writer:
        if self.threaded:
            for thread in self.threads:
                thread.start()
        return self

    def put(self, keep: list[tuple[bytes, dict]]) -> None:
        if not keep:
            return
        chunk = Chunk.of(keep)
        if not self.threaded:
            count(_store(self.batch, chunk), self.counts)
            return
        if self.error:
            raise self.error
        if self.ids:
            chunk.id = self.ids.next()
        chunk.seq, self.chunks_put = self.chunks_put, self.chunks_put + 1
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
                if self.error is not None:
                    continue  # drained: nothing after a failed chunk is stored
                try:
                    stored = _store(self.batch, chunk, before_commit=lambda seq=chunk.seq: self.turns.wait(seq))
                except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                    self.turns.fail(chunk.seq)
                    with self.counting:
                        if self.error is None or isinstance(self.error, _OutOfTurn):
                            self.error = exc
                    continue
                self.turns.done(chunk.seq)
                with self.counting:
                    count(stored, self.counts)
        finally:
            connection.close()


class _OutOfTurn(Exception):
    """This chunk was not committed: an earlier one failed, or did not commit in time."""


class _Turns:
    """Chunks commit in the stream's order: each waits, before its commit, for the one before it to be committed.

    A wait is bounded: holding its rows, a chunk that waits for ever could be what an earlier chunk waits on in
    PostgreSQL (the same custom_id in both, from another run of the batch), a deadlock PostgreSQL cannot see. After
    TURN_SECONDS it gives up (and rolls back); the chunk before it may then commit, and the run resumes later.
    """

    def __init__(self) -> None:
        self.turn = threading.Condition()
        self.next = 0
        self.failed: int | None = None  # the first chunk that failed: none after it commits

    def wait(self, seq: int) -> None:
        with self.turn:
            came = self.turn.wait_for(lambda: self.next == seq or self._after_failure(seq), timeout=TURN_SECONDS)
            if self._after_failure(seq):
                raise _OutOfTurn(f"chunk {seq} not committed: chunk {self.failed} failed")
            if not came:
                raise _OutOfTurn(f"chunk {seq} not committed: chunk {self.next} took over {TURN_SECONDS} s")

    def _after_failure(self, seq: int) -> bool:
        return self.failed is not None and self.failed < seq

    def done(self, seq: int) -> None:
        with self.turn:
            self.next = seq + 1
            self.turn.notify_all()

    def fail(self, seq: int) -> None:
        with self.turn:
            self.failed = seq if self.failed is None else min(self.failed, seq)
            self.turn.notify_all()


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


# A result row as written: the order of each row tuple given to write_rows.
COLUMNS = ["batch_id", "chunk_id", "line_index", *result_lines.FIELDS]


def _insert_rows(batch: Batch, chunk: ResultChunk, keep: list[tuple[bytes, dict]], *, copy: bool) -> None:
    """Insert Result rows as plain tuples: the ORM's per-field preparation costs more than the DB.

    PostgreSQL takes them by COPY, which raises IntegrityError on a custom_id already stored; otherwise an
    INSERT that skips those.
    """
    # The ids read once: a model's `pk` is a property, and reading two per row held the GIL for a sixth of a large
    # ingest, on the thread that writes.
    batch_id, chunk_id = batch.pk, chunk.pk
    rows = [(batch_id, chunk_id, i, *fields.values()) for i, (_, fields) in enumerate(keep)]
    write_rows(rows, copy=copy, skip_stored=True)


def write_rows(rows: list[tuple], *, copy: bool, skip_stored: bool) -> None:
    table = Result._meta.db_table
    columns = ", ".join(COLUMNS)
    if copy:
        # Text, not binary: psycopg formats a row in binary in 0.6 µs against 2.3 µs, but PostgreSQL took longer to
        # read binary rows (a bare load of 100,000 took 0.88 s against 0.76 s), and the ingest was no faster.
        # The raw psycopg cursor's errors are psycopg's own: wrap them so IntegrityError is caught.
        with connection.cursor() as cursor, connection.wrap_database_errors:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as writer:
                for row in rows:
                    writer.write_row(row)
        return
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
            + (" ON CONFLICT (batch_id, custom_id) DO NOTHING" if skip_stored else ""),
            rows,
        )
