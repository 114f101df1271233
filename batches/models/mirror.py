"""The mirror of each workspace's Message Batches, and what derives from it.

Field names follow the API (`processing_status`, `custom_id`, `result_type`) so a reader can follow
a value from the wire to the page. No model does network I/O: services in this app do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

from batches import api_hosts, crypto, result_lines
from batches.errors import PermanentAPIError

# Results can be downloaded for 29 days after a batch is *created* (not ended).
RESULTS_RETENTION = timedelta(days=29)
# Within this of that limit, results not yet kept are at risk: the list flags them and can filter on it.
RESULTS_EXPIRING_SOON = timedelta(days=3)
# The API's `request_counts` keys, in its order: the client reads them, sync writes one column each.
# Not an API status: what pages show for a batch the API stopped listing before it ended (its results are gone).
DELETED_IN_API = "deleted"
REQUEST_COUNTS = ("processing", "succeeded", "errored", "canceled", "expired")
# Any of these set means the batch's results are settled: kept, unavailable for good, or the batch is gone.
_RESULTS_SETTLED_BY = ("results_ingested_at", "results_unavailable_at", "gone_from_api_at")
AWAITING_RESULTS = Q(**{name: None for name in _RESULTS_SETTLED_BY})
# A succeeded answer that is not whole: cut off, paused or refused. The API counts it as "succeeded"; the product
# counts it apart (pages, triage, retry, notifications, /metrics), from this one rule.
INCOMPLETE_STOP_REASONS = ("max_tokens", "model_context_window_exceeded", "pause_turn", "refusal")
INCOMPLETE = Q(result_type="succeeded", stop_reason__in=INCOMPLETE_STOP_REASONS)
# A whole answer: never retried. A retry reads the others (`exclude(WHOLE)`), which an index of their own holds.
WHOLE = Q(result_type="succeeded") & ~Q(stop_reason__in=INCOMPLETE_STOP_REASONS)


@dataclass(frozen=True)
class Credentials:
    """What the client needs to reach one workspace. Never logged: its repr hides the key."""

    api_key: str
    base_url: str | None

    def __repr__(self) -> str:
        return f"Credentials(api_key={crypto.mask(self.api_key)!r}, base_url={self.base_url!r})"


class Workspace(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    api_key_encrypted = models.TextField(editable=False)
    api_key_hint = models.CharField(max_length=32, editable=False, help_text="The key, masked")
    base_url = models.URLField(blank=True, help_text="Leave empty for https://api.anthropic.com")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Sync health, shown on every page.
    last_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_full_sync_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_error_type = models.CharField(max_length=64, blank=True, editable=False)
    last_error_message = models.TextField(blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    # A 429's retry-after: the next pass waits until then rather than hammering the API.
    sync_not_before = models.DateTimeField(null=True, blank=True, editable=False)
    # The same, met by an ingest: every ingest of this workspace waits until then (the sync does not).
    ingest_not_before = models.DateTimeField(null=True, blank=True, editable=False)

    # One sync per workspace at a time: a lease claimed with a conditional UPDATE.
    sync_lease_token = models.CharField(max_length=32, blank=True, editable=False)
    sync_lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    # Bumped (batches/services/versions.py) in the transaction of every change a page shows of this workspace's batches
    # or sync health: a poll whose versions did not move is answered 304 without rendering (dashboard/polling.py).
    data_version = models.PositiveBigIntegerField(default=0, editable=False)
    # The last answer the mirror refused (MirrorRefusal), on the workspace so the health bar reads it for free.
    last_refusal_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_refusal = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        refused = api_hosts.refusal(self.base_url)
        if refused:
            raise ValidationError({"base_url": refused})

    def set_api_key(self, api_key: str) -> None:
        api_key = api_key.strip()
        if not api_key:
            raise ValueError("the API key is empty")
        self.api_key_encrypted = crypto.encrypt(api_key)
        self.api_key_hint = crypto.mask(api_key)

    @property
    def credentials(self) -> Credentials:
        refused = api_hosts.refusal(self.base_url)
        if refused:  # the key is never sent there; every caller records and shows this as a refused key
            raise PermanentAPIError(f"base URL refused: {refused}", error_type="configuration_error")
        try:
            api_key = crypto.decrypt(self.api_key_encrypted)
        except ValueError as exc:
            # Raised as the API refusing the key would be: every caller (sync, ingest, submit, cancel)
            # then records and shows it, instead of a 500 or a part stuck mid-create.
            raise PermanentAPIError(str(exc), error_type="configuration_error") from None
        return Credentials(api_key=api_key, base_url=self.base_url or None)

    @property
    def is_failing(self) -> bool:
        return self.consecutive_failures > 0

    @property
    def is_overdue(self) -> bool:
        """Not synced for SYNC_OVERDUE_SECONDS with nothing to say why: the workers or the beat have stopped. A failure
        says itself (is_failing), a 429 is waited out on purpose, and a long pass holds its lease (a worker that
        died holding it lets the lease run out first)."""
        if not self.is_active or self.last_synced_at is None or self.is_failing:
            return False
        now = timezone.now()
        if now - self.last_synced_at <= timedelta(seconds=settings.SYNC_OVERDUE_SECONDS):
            return False
        waiting = self.sync_not_before is not None and self.sync_not_before > now
        syncing = self.sync_lease_until is not None and self.sync_lease_until > now
        return not (waiting or syncing)

    @property
    def needs_attention(self) -> bool:
        """What the health bar counts (and shows in the tab title): a failing sync, or one that has stopped."""
        return self.is_failing or self.is_overdue

    @property
    def refusing(self) -> bool:
        """The mirror refused an answer of this workspace's API within the last day: the health bar says so."""
        return self.last_refusal_at is not None and timezone.now() - self.last_refusal_at < timedelta(days=1)


class BatchQuerySet(models.QuerySet):
    """The derived states as filters, from the same rules as the Batch properties below."""

    def running(self) -> BatchQuerySet:
        return self.exclude(processing_status=Batch.Status.ENDED)

    def awaiting_results(self) -> BatchQuerySet:
        return self.filter(AWAITING_RESULTS)

    def needing_ingest(self) -> BatchQuerySet:
        return self.filter(AWAITING_RESULTS, processing_status=Batch.Status.ENDED)


class Batch(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        CANCELING = "canceling"
        ENDED = "ended"

    # The API's own id (`msgbatch_…`) is the primary key: URLs and logs name what the API names.
    id = models.CharField(max_length=128, primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="batches")
    processing_status = models.CharField(max_length=16, choices=Status.choices)
    # request_counts, one column each so they can be filtered and summed.
    processing_count = models.PositiveIntegerField(default=0)
    succeeded_count = models.PositiveIntegerField(default=0)
    errored_count = models.PositiveIntegerField(default=0)
    canceled_count = models.PositiveIntegerField(default=0)
    expired_count = models.PositiveIntegerField(default=0)
    # Of succeeded_count, the answers that are not whole (INCOMPLETE): counted at ingest, from the results.
    incomplete_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    cancel_initiated_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    results_url = models.CharField(max_length=500, blank=True)

    # What the API fixes at create: the number of requests (the sum of request_counts, whatever their
    # state) and, once known, the model most of them asked for (from our inputs or its results): what
    # makes batches "similar" for an ETA. Kept by every write of the counts (services/upsert.py).
    request_total = models.PositiveIntegerField(default=0)
    model = models.CharField(max_length=128, blank=True)

    label = models.CharField(max_length=200, blank=True)
    # What it was created with through the beta endpoint (`anthropic-beta` values), and the batch-level
    # `anthropic-user-profile-id`: a spend dimension beside the submitter. Empty for batches made elsewhere.
    betas = models.JSONField(default=list, blank=True)
    user_profile_id = models.CharField(max_length=128, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    first_seen_at = models.DateTimeField(default=timezone.now)
    refreshed_at = models.DateTimeField(default=timezone.now)
    # Set by a full pass when the API no longer lists the batch (deleted there).
    gone_from_api_at = models.DateTimeField(null=True, blank=True)
    # Whether its end is news (batch.ended and friends): the mirror first saw it running, or after the workspace's
    # first full sync. Set once, when the batch is first mirrored (services/upsert.py): an old history is not news.
    notify_end = models.BooleanField(default=False, editable=False)

    # Ingest bookkeeping.
    results_ingested_at = models.DateTimeField(null=True, blank=True)
    results_unavailable_at = models.DateTimeField(null=True, blank=True)
    results_unavailable_reason = models.CharField(max_length=300, blank=True)
    items_ingested = models.PositiveIntegerField(default=0)
    malformed_count = models.PositiveIntegerField(default=0)
    ingest_attempts = models.PositiveIntegerField(default=0)
    ingest_error = models.TextField(blank=True)
    # Each ended batch's ingest is its own unit of work (batches/services/ingest.py): queued by the sync once, run under
    # its own lease (a conditional UPDATE, so two tasks never both stream it), backing off on its own when it fails.
    ingest_queued_at = models.DateTimeField(null=True, blank=True)
    ingest_lease_token = models.CharField(max_length=32, blank=True)
    ingest_lease_until = models.DateTimeField(null=True, blank=True)
    ingest_failures = models.PositiveIntegerField(default=0)  # in a row; 0 after a success
    ingest_not_before = models.DateTimeField(null=True, blank=True)  # the next attempt, after a failure
    ingest_error_type = models.CharField(max_length=64, blank=True)
    ingest_error_permanent = models.BooleanField(default=False)  # the API said retrying will not help
    # "Refresh now" is honoured at most once per REFRESH_EVERY: more clicks join the refresh under way.
    refresh_requested_at = models.DateTimeField(null=True, blank=True)
    # "Cancel" asked for on a page: the worker makes the API call (services/actions.py), never the request.
    # Until it has, pages show "canceling…"; the API's refusal is kept for the page to say.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_error = models.CharField(max_length=500, blank=True)

    objects = BatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"
        # What the roles (batches/roles.py) grant, beyond Django's own view_batch.
        permissions = [
            ("cancel_batch", "Can cancel batches"),
            ("submit_batch", "Can submit batches"),
            ("retry_results", "Can retry failed results"),
            ("attach_inputs", "Can attach request inputs"),
            ("view_audit_log", "Can view and export the audit log"),
            ("view_spend", "Can view spend reports"),
        ]
        indexes = [
            # The batch list's default order: its first page reads 50 index entries, not 10,000 rows.
            models.Index(fields=["-created_at", "-id"], name="batch_by_created"),
            models.Index(fields=["workspace", "-created_at"]),
            models.Index(fields=["processing_status", "-created_at"]),
            # A workspace's past batches by how long they took: the history an ETA is drawn from.
            models.Index(fields=["workspace", "processing_status", "request_total"], name="batch_by_size"),
            # On PostgreSQL, also the list's "longest first" order (migration 0039: SQLite cannot index NULLS LAST).
        ]

    def __str__(self) -> str:
        return self.id

    # --- derived state ---------------------------------------------------------------------------
    @property
    def request_counts(self) -> dict[str, int]:
        return {key: getattr(self, f"{key}_count") for key in REQUEST_COUNTS}

    @property
    def is_terminal(self) -> bool:
        return self.processing_status == self.Status.ENDED

    @property
    def cancelable(self) -> bool:
        """Only a batch in progress can be canceled: a canceling one already is (or has been asked to be), an
        ended one is done."""
        return self.processing_status == self.Status.IN_PROGRESS and self.cancel_requested_at is None

    @property
    def shown_status(self) -> str:
        """What pages show: "canceling" from the moment a cancel is asked for, before the worker has told the API;
        "deleted" (DELETED_IN_API) for a batch deleted in the API before it ended, which will never end here."""
        if self.gone_from_api_at and not self.is_terminal:
            return DELETED_IN_API
        if self.processing_status == self.Status.IN_PROGRESS and self.cancel_requested_at:
            return self.Status.CANCELING
        return self.processing_status

    @property
    def shown_status_label(self) -> str:
        shown = self.shown_status
        return "Deleted in the API" if shown == DELETED_IN_API else self.Status(shown).label

    @property
    def progress(self) -> float:
        """Share of requests no longer processing, 0.0 to 1.0."""
        total = sum(self.request_counts.values())
        return 1.0 if total == 0 else (total - self.processing_count) / total

    @property
    def duration(self) -> timedelta | None:
        """How long it ran, once it has ended."""
        return self.ended_at - self.created_at if self.ended_at else None

    @property
    def state(self) -> str:
        """What a page drew it in: a page polling it redraws what depends on it when this changes."""
        canceling = "asked" if self.cancel_requested_at else "refused" if self.cancel_error else ""
        return f"{self.processing_status}:{'awaiting' if self.awaiting_results else 'settled'}:{canceling}"

    @property
    def results_available_until(self):
        return self.created_at + RESULTS_RETENTION

    def results_expired(self, now=None) -> bool:
        return self.archived_at is not None or (now or timezone.now()) >= self.results_available_until

    @property
    def awaiting_results(self) -> bool:
        """Still running, or ended with results neither kept nor known to be lost: pages keep polling it."""
        return all(getattr(self, name) is None for name in _RESULTS_SETTLED_BY)

    @property
    def needs_ingest(self) -> bool:
        return self.is_terminal and self.awaiting_results


class ResultChunk(models.Model):
    """A run of raw result lines, compressed together: ~20x smaller than per-line compression.

    Written in the same transaction as the items that point into it, so a chunk never exists
    without its items, nor an item without its raw line.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="chunks")
    data = models.BinaryField()
    line_count = models.PositiveIntegerField()
    raw_bytes = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"{self.batch_id} chunk {self.pk} ({self.line_count} lines)"

    def lines(self) -> list[bytes]:
        return result_lines.unpack(self.data)

    @staticmethod
    def packed(chunk_id: int) -> bytes:
        """One chunk's packed lines, read on their own."""
        return ResultChunk.packed_many([chunk_id])[0]

    @staticmethod
    def packed_many(chunk_ids: list[int]) -> list[bytes]:
        """These chunks' packed lines, in the order asked, by one query (a download reads a few at a time).

        PostgreSQL sends bytea as hex text unless asked for binary: twice the bytes, decoded in Python. Read in
        binary, the 50 chunks of a 100,000-result batch came in 0.04 s instead of 0.13 s; a query per chunk was
        then a third of a download's time in the server, waiting on each answer in turn.
        """
        if connection.vendor != "postgresql":
            found = dict(ResultChunk.objects.filter(pk__in=chunk_ids).values_list("pk", "data"))
        else:
            import psycopg  # only where the database is PostgreSQL

            connection.close_if_health_check_failed()  # as Django's own cursors do first (CONN_HEALTH_CHECKS)
            connection.ensure_connection()
            raw = psycopg.Cursor(connection.connection)  # Django's own are client-side cursors: text results only
            raw.format = psycopg.pq.Format.BINARY
            # Through Django's wrapper all the same: its errors, and the query counted where queries are.
            debug = connection.queries_logged
            with connection.make_debug_cursor(raw) if debug else connection.make_cursor(raw) as cursor:
                cursor.execute(f"SELECT id, data FROM {ResultChunk._meta.db_table} WHERE id = ANY(%s)", [chunk_ids])
                found = dict(cursor.fetchall())
        missing = [pk for pk in chunk_ids if pk not in found]
        if missing:
            raise ResultChunk.DoesNotExist(missing[0])
        return [bytes(found[pk]) for pk in chunk_ids]


class Result(models.Model):
    """One line of a batch's results (`MessageBatchIndividualResponse`), flattened for queries."""

    class Type(models.TextChoices):
        SUCCEEDED = "succeeded"
        ERRORED = "errored"
        CANCELED = "canceled"
        EXPIRED = "expired"
        # Not an API type: a line that could not be parsed, kept with its raw text.
        MALFORMED = result_lines.MALFORMED

    # Result rows are bulk-written by COPY, 100,000 at a time. Foreign-key constraints would cost a
    # lookup per row for nothing: Django cascades deletes itself, and a chunk and its rows are
    # written in one transaction. The unique (batch, custom_id) index serves batch_id lookups.
    batch = models.ForeignKey(
        Batch, on_delete=models.CASCADE, related_name="results", db_constraint=False, db_index=False
    )
    custom_id = models.CharField(max_length=128)
    result_type = models.CharField(max_length=16, choices=Type.choices)
    error_type = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    message_id = models.CharField(max_length=128, blank=True)
    model = models.CharField(max_length=128, blank=True)
    stop_reason = models.CharField(max_length=64, blank=True)
    # usage: every field of the API's Usage that carries a number or a tier.
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_creation_5m_input_tokens = models.PositiveIntegerField(default=0)
    cache_creation_1h_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    web_search_requests = models.PositiveIntegerField(default=0)
    web_fetch_requests = models.PositiveIntegerField(default=0)
    service_tier = models.CharField(max_length=32, blank=True)
    inference_geo = models.CharField(max_length=32, blank=True)  # "us" costs more on some models
    speed = models.CharField(max_length=16, blank=True)  # "fast" mode is priced apart
    # usage.output_tokens_details.thinking_tokens: of output_tokens, those spent thinking.
    thinking_tokens = models.PositiveIntegerField(default=0)
    # stop_details (a refusal's): its category and explanation, when the API gives them.
    stop_details_type = models.CharField(max_length=32, blank=True)
    stop_details_category = models.CharField(max_length=64, blank=True)
    stop_details_explanation = models.TextField(blank=True)
    # The beta usage.iterations, compact (result_lines._iterations): a compaction or an advisor's call is billed
    # apart from the top-level usage, each at the model that ran it (pricing rules). Empty for most results.
    iterations = models.TextField(blank=True, default="")

    # Deleted with their batch (above); a chunk is never deleted on its own.
    chunk = models.ForeignKey(
        ResultChunk, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    line_index = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "custom_id"], name="result_unique_custom_id")]
        # The item table filters by type or error type and pages by custom_id (keyset): these make
        # its first and last pages equally cheap at 100,000 items. Partial: only the rows that are not
        # succeeded (few), so a succeeded row, most of a batch, updates neither; every index a row
        # updates is COPY time (two full ones were half the ingest). The succeeded tab reads the unique
        # (batch, custom_id) index, where its rows are most of what it meets.
        indexes = [
            models.Index(
                fields=["batch", "result_type", "custom_id"],
                name="result_failed_by_type",
                condition=~models.Q(result_type="succeeded"),
            ),
            models.Index(
                fields=["batch", "error_type", "custom_id"],
                name="result_error_by_type",
                condition=~models.Q(error_type=""),
            ),
            # What a retry reads (the failed and incomplete results, `exclude(WHOLE)`) with every column it
            # classifies them by, so a workspace's retry plan reads this small index alone, not the table: 1M
            # results hold 24,179 of these, which PostgreSQL estimated at 37 and so scanned every result.
            models.Index(
                fields=["batch", "custom_id"],
                name="result_not_whole",
                condition=~WHOLE,
                include=["id", "result_type", "error_type", "stop_reason"],
            ),
            # No pattern-ops index for custom_id prefix search: it cost ingest ~15% (every COPY row
            # updates each index) to take the search page from 33 ms to 14 ms, both within target.
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.custom_id}"

    @property
    def incomplete(self) -> bool:
        """Succeeded, but cut off, paused or refused (INCOMPLETE)."""
        return self.result_type == self.Type.SUCCEEDED and self.stop_reason in INCOMPLETE_STOP_REASONS

    def raw_line(self) -> str:
        """The line exactly as the API sent it."""
        return self.chunk.lines()[self.line_index].decode("utf-8", errors="replace")


class ErrorCount(models.Model):
    """Errored (and malformed) results per batch and error type, rolled up once at ingest.

    The errors view and batch pages read these few rows instead of grouping millions of results.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="error_counts")
    # The batch's, copied so the errors view groups by workspace without joining every batch.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    error_type = models.CharField(max_length=64)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "error_type"], name="error_count_unique")]
        # Each type's rows in rank order, so its top batches are a short index scan.
        indexes = [
            models.Index(fields=["error_type", "-count", "batch"], name="error_count_rank"),
            models.Index(fields=["workspace", "error_type", "-count", "batch"], name="error_count_ws_rank"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.error_type}: {self.count}"


class IncompleteCount(models.Model):
    """Incomplete answers per batch, stop reason and refusal category, rolled up once at ingest (like ErrorCount)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="incomplete_counts")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    stop_reason = models.CharField(max_length=64)
    category = models.CharField(max_length=64, blank=True)  # a refusal's stop_details.category, if any
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "stop_reason", "category"], name="incomplete_count_unique")
        ]
        indexes = [models.Index(fields=["workspace", "stop_reason", "-count"], name="incomplete_count_ws_rank")]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.stop_reason} {self.category}: {self.count}"


class MirrorRefusal(models.Model):
    """An answer of the API the mirror refused (batches/services/mirror_rules.py): an id it already holds for
    another workspace or another batch, an ended batch said to run again, an id outside the documented pattern.
    One row per workspace and id, counted; shown on the health bar and in /metrics."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="refusals")
    batch_id = models.CharField(max_length=200)  # as the API sent it, shortened: never put in a URL
    reason = models.CharField(max_length=300)
    count = models.PositiveIntegerField(default=1)
    first_refused_at = models.DateTimeField(default=timezone.now)
    last_refused_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "batch_id"], name="one_refusal_per_id")]

    def __str__(self) -> str:
        return f"{self.batch_id!r}: {self.reason}"
