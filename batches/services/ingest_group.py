"""Ingest several small ended batches as one unit of work: one claim, one transaction, one COPY.

The first sync of a workspace with a long history meets thousands of batches of a few hundred results,
and a batch's fixed cost (its claim, chunk, rollups, release: about twenty statements and three commits)
was most of its ingest. Here a group of them is claimed by one UPDATE, each one's results are read whole
into memory (it fits one chunk), and a run of them is stored in one transaction: their chunks by one
INSERT, their rows by one COPY, their rollups by set-based queries (result_store.finish_many). A run
ends once it holds INGEST_CHUNK_BYTES, so memory stays bounded in bytes.

The downloads go INGEST_DOWNLOADS_IN_FLIGHT ahead of the batch being stored, on threads: each waits for the
API's answer (a round trip and its time to serve, 50 ms or more from a remote API), and one after another
those waits were most of a first sync. At most that many downloads (each at most a chunk) are held besides
the run.

Every guarantee of `ingest.ingest_batch` holds, because anything out of the ordinary leaves the group
for that path, under the same lease: a batch with an earlier attempt (resume), one whose stream fails or
ends short, one larger than a chunk, or a run whose transaction fails (a concurrent run stored some of its
rows: the unique (batch, custom_id) constraint). A run is stored whole or not at all.

An API storm (a download refused with 429, 503 or 529) is the workspace's, not the batch's: that batch takes
its own path (it waits as the API asks, then backs off or pauses the workspace's ingests), and the group asks
for nothing more. Without that, each of up to a hundred batches was asked for, and retried, into the storm.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from batches import client
from batches.errors import APIError, RetryableAPIError
from batches.models import Batch, SubmissionPart
from batches.services import durable, ingest, result_store, submit

log = logging.getLogger(__name__)

GROUP_MOST = 100  # batches one task claims: a run of them is done in well under a lease
GROUPS_AT_LEAST = 8  # a few small batches still make several tasks, for several workers to share
STORM = frozenset({429, 503, 529})  # refusals that say "not now" of the API, not of one batch


class _Refused(Exception):
    """The API refused a download for the moment (rate limited, overloaded, unavailable)."""


def small(request_total: int) -> bool:
    """A batch whose results fit one chunk: ingested in a group."""
    return 0 < request_total <= settings.INGEST_CHUNK_LINES


def plan(batch_ids: list[str]) -> tuple[list[str], list[list[str]]]:
    """(the batches ingested each by its own task, the groups of small ones), in the order given."""
    totals = dict(Batch.objects.filter(pk__in=batch_ids).values_list("pk", "request_total"))
    alone = [pk for pk in batch_ids if not small(totals.get(pk, 0))]
    grouped = [pk for pk in batch_ids if small(totals.get(pk, 0))]
    size = min(GROUP_MOST, max(1, -(-len(grouped) // GROUPS_AT_LEAST)))
    return alone, [grouped[i : i + size] for i in range(0, len(grouped), size)]


def ingest_batches(batch_ids: list[str]) -> list[ingest.IngestReport]:
    """`ingest.ingest_batch` of each batch, the small fresh ones together. A report per batch."""
    batch_ids = list(dict.fromkeys(batch_ids))  # each once: a batch's download is started once, and taken once
    token = uuid.uuid4().hex
    now = timezone.now()
    # The conditions of ingest_batch and its claim, for all at once: due, not leased, not backing off, and
    # their workspace not paused.
    Batch.objects.filter(pk__in=batch_ids).needing_ingest().filter(
        ingest.free(now),
        Q(ingest_not_before=None) | Q(ingest_not_before__lte=now),
        Q(workspace__ingest_not_before=None) | Q(workspace__ingest_not_before__lte=now),
    ).update(
        ingest_lease_token=token,
        ingest_lease_until=now + timedelta(seconds=settings.INGEST_LEASE_SECONDS),
        ingest_attempts=F("ingest_attempts") + 1,
    )
    claimed = {
        b.pk: b for b in Batch.objects.select_related("workspace").filter(pk__in=batch_ids, ingest_lease_token=token)
    }
    reports: list[ingest.IngestReport] = []
    groupable = {pk for pk, batch in claimed.items() if _groupable(batch)}
    downloads = _Downloads([claimed[pk] for pk in batch_ids if pk in groupable])
    try:
        run: list[tuple[Batch, list[bytes]]] = []
        run_bytes = 0
        for index, batch_id in enumerate(batch_ids):
            batch = claimed.get(batch_id)
            if batch is None:  # not claimed: its own path says why (busy, waiting, paused, not needed)
                reports.append(ingest.ingest_batch(batch_id))
                continue
            try:
                lines = downloads.take(batch_id) if batch_id in groupable else None
            except _Refused:
                # What is downloaded is stored first (no API call); the downloads in flight are finished and
                # dropped; then the refused batch waits by its own path, and the rest is left for later.
                reports += _store_run(run, token)
                run = []
                downloads.stop()
                reports.append(_alone(batch, token))
                reports += _defer(batch_ids[index + 1 :], claimed, token)
                break
            if lines is None:
                reports.append(_alone(batch, token))
                continue
            run.append((batch, lines))
            run_bytes += sum(map(len, lines))
            if run_bytes >= settings.INGEST_CHUNK_BYTES:
                reports += _store_run(run, token)
                run, run_bytes = [], 0
        reports += _store_run(run, token)
    finally:
        downloads.stop()
        durable.reconnecting(lambda: _release(list(claimed), token), f"ingest of {len(claimed)} batches")
    outcomes = Counter(report.outcome for report in reports)
    log.info("ingest of %d batches together: %s", len(batch_ids), ", ".join(f"{n} {o}" for o, n in outcomes.items()))
    return reports


def _groupable(batch: Batch) -> bool:
    # Its first attempt (this claim's): nothing of it can be stored yet, so no resume and every row is counted.
    return (
        small(batch.request_total)
        and batch.ingest_attempts == 1
        and batch.items_ingested == 0
        and not (batch.results_expired())
    )


class _Downloads:
    """The group's downloads in its order, each started while those before it are stored."""

    def __init__(self, batches: list[Batch]) -> None:
        self.ahead = deque(batches)
        self.started: dict[str, Future] = {}
        self.most = max(1, settings.INGEST_DOWNLOADS_IN_FLIGHT)
        self.pool = ThreadPoolExecutor(self.most, thread_name_prefix="ingest-download") if batches else None

    def take(self, batch_id: str) -> list[bytes] | None:
        """`_download` of the next batch in order (which is this one); _Refused as it raises it."""
        self._start()
        lines = self.started.pop(batch_id).result()
        self._start()
        return lines

    def _start(self) -> None:
        while self.ahead and len(self.started) < self.most:
            batch = self.ahead.popleft()
            self.started[batch.pk] = self.pool.submit(_download, batch)

    def stop(self) -> None:
        """Start nothing more; wait for the downloads running (each bounded by the API timeout)."""
        self.ahead.clear()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _download(batch: Batch) -> list[bytes] | None:
    """The batch's result lines, or None when anything is out of the ordinary (its own path then deals with
    it, and records it): a refused key, a failed or cut stream, more than one chunk of lines or bytes."""
    try:
        creds = batch.workspace.credentials
        lines: list[bytes] = []
        size = 0
        with client.stream_results(creds, batch.id, results_url=batch.results_url) as stream:
            for line in stream:
                lines.append(line)
                size += len(line)
                if len(lines) > settings.INGEST_CHUNK_LINES or size > settings.INGEST_CHUNK_BYTES:
                    return None
    except APIError as exc:
        if isinstance(exc, RetryableAPIError) and exc.status in STORM:
            log.info("ingest %s: %s; the group stops here", batch.id, exc)
            raise _Refused from exc
        log.info("ingest %s: %s; ingested on its own", batch.id, exc)
        return None
    return lines


def _defer(batch_ids: list[str], claimed: dict[str, Batch], token: str) -> list[ingest.IngestReport]:
    """Leave the claimed ones for the next pass, as if this task had never claimed them: no attempt counted (so
    they are still grouped), no lease, no queue mark (so the next pass queues them, once the workspace is not
    paused). The others take their own path, as in the loop: it says why they were not claimed (one held by
    another task is "busy", and the task hands it on)."""
    ours = [pk for pk in batch_ids if pk in claimed]
    Batch.objects.filter(pk__in=ours, ingest_lease_token=token).update(
        ingest_lease_token="", ingest_lease_until=None, ingest_queued_at=None, ingest_attempts=F("ingest_attempts") - 1
    )
    return [
        ingest.IngestReport(batch_id=pk, outcome="deferred") if pk in claimed else ingest.ingest_batch(pk)
        for pk in batch_ids
    ]


def _store_run(run: list[tuple[Batch, list[bytes]]], token: str) -> list[ingest.IngestReport]:
    """Store the run's batches in one transaction; any that cannot be (short, or a failed transaction) alone."""
    if not run:
        return []
    whole: list[tuple[Batch, list[tuple[bytes, dict]], ingest.IngestReport]] = []
    reports = []
    for batch, lines in run:
        report = ingest.IngestReport(batch_id=batch.pk, streams=1)
        keep = result_store.parse_new(lines, report)
        if len(keep) < batch.request_total:  # ended short: its own path retries and records it
            reports.append(_alone(batch, token))
            continue
        whole.append((batch, keep, report))
    if not whole:
        return reports
    try:
        with transaction.atomic():
            result_store.store_many([(batch, keep, report) for batch, keep, report in whole])
            result_store.finish_many([(batch, report) for batch, _, report in whole])
    except Exception as exc:  # noqa: BLE001 - nothing of the run is stored: each batch goes its own way
        if durable.connection_lost(exc):
            durable.reconnect()
        log.warning("ingest of %d batches together failed (%s); each is ingested on its own", len(whole), exc)
        return reports + [_alone(batch, token) for batch, _, _ in whole]
    _verify_adoptions([batch for batch, _, _ in whole])
    for _, _, report in whole:
        report.outcome = "ingested"
    return reports + [report for _, _, report in whole]


def _alone(batch: Batch, token: str) -> ingest.IngestReport:
    """The batch by ingest_batch's own path, under this claim."""
    batch.refresh_from_db()
    return ingest.run_claimed(batch, token)


def _verify_adoptions(batches: list[Batch]) -> None:
    """submit.verify_adoption of those adopted after a lost answer (one query finds them: usually none)."""
    adopted = set(
        SubmissionPart.objects.filter(batch__in=batches, adoption="provisional").values_list("batch_id", flat=True)
    )
    for batch in batches:
        if batch.pk in adopted:
            submit.verify_adoption(batch)


def _release(batch_ids: list[str], token: str) -> None:
    Batch.objects.filter(pk__in=batch_ids, ingest_lease_token=token).update(
        ingest_lease_token="", ingest_lease_until=None, ingest_queued_at=None
    )
