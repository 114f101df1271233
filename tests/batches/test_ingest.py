"""Results ingest: one unit of work per batch, streamed, resumed in place, backing off on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from batches.models import AuditEvent, Batch, Result, ResultChunk, Workspace
from batches.services import ingest, sync
from tests.threads import at_once


def _ended_batch(emulator, workspace, n: int, **kwargs) -> Batch:
    """An ended batch mirrored by the sync, its results not ingested yet (the sync never ingests)."""
    batch_id = emulator.seed_batch(workspace.test_api_key, n, status="ended", **kwargs)
    sync.sync_workspace(workspace.pk)
    return Batch.objects.get(pk=batch_id)


def test_every_result_is_stored_once_with_its_raw_line(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 230, outcomes={"succeeded": 0.7, "overloaded_error": 0.2, "expired": 0.1})
    emulator.reset_calls()

    report = ingest.ingest_batch(batch.id)

    assert report.complete and report.new_items == 230
    counts = {t: Result.objects.filter(batch=batch, result_type=t).count() for t in ("succeeded", "errored", "expired")}
    batch.refresh_from_db()
    assert counts == {
        "succeeded": batch.succeeded_count,
        "errored": batch.errored_count,
        "expired": batch.expired_count,
    }
    assert batch.items_ingested == 230 and batch.results_ingested_at
    assert ResultChunk.objects.filter(batch=batch).count() == 5  # 50 lines a chunk in tests
    item = Result.objects.filter(batch=batch, result_type="errored").first()
    assert item.custom_id in item.raw_line() and "overloaded_error" in item.raw_line()
    # One call: the results_url the list gave, with no retrieve first (the SDK's results() makes two).
    assert (emulator.calls["results"], emulator.calls["retrieve"]) == (1, 0)


def test_ingesting_twice_leaves_the_same_rows(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 120)
    ingest.ingest_batch(batch.id)
    rows = sorted(Result.objects.values_list("custom_id", "result_type", "input_tokens", "line_index"))
    Batch.objects.filter(pk=batch.pk).update(results_ingested_at=None)  # force a second full run

    report = ingest.ingest_batch(batch.id)

    assert report.new_items == 0 and report.skipped_items == 120 and report.complete
    assert sorted(Result.objects.values_list("custom_id", "result_type", "input_tokens", "line_index")) == rows
    assert ResultChunk.objects.filter(batch=batch).count() == 3


def test_a_cut_mid_stream_is_resumed_within_the_same_task(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 300)
    emulator.faults.add(op="results", cut_after_lines=170, times=1)
    emulator.reset_calls()

    report = ingest.ingest_batch(batch.id)

    assert report.complete and report.streams == 2 and emulator.calls["results"] == 2
    # The second stream skipped what the first had stored: only whole chunks of 50, never half of one.
    assert report.skipped_items % 50 == 0 and report.skipped_items <= 150 and report.new_items == 300
    assert Result.objects.filter(batch=batch).count() == 300 == batch.request_total
    assert Result.objects.filter(batch=batch).values("custom_id").distinct().count() == 300


def test_a_stream_cut_every_time_backs_off_the_batch_alone(emulator, workspace, settings):
    batch = _ended_batch(emulator, workspace, 200)
    other = _ended_batch(emulator, workspace, 20)
    emulator.faults.add(op="results", cut_after_lines=60, times=settings.INGEST_STREAM_ATTEMPTS)
    before = timezone.now()

    report = ingest.ingest_batch(batch.id)

    assert report.outcome == "failed" and report.streams == settings.INGEST_STREAM_ATTEMPTS
    batch.refresh_from_db()
    assert batch.results_ingested_at is None and batch.ingest_failures == 1
    assert batch.ingest_error_type == "connection_error" and "connection" in batch.ingest_error
    base = settings.INGEST_BACKOFF_SECONDS
    assert before + timedelta(seconds=0.75 * base) <= batch.ingest_not_before
    assert batch.ingest_not_before <= timezone.now() + timedelta(seconds=1.25 * base)
    workspace.refresh_from_db()
    assert not workspace.is_failing  # a batch's ingest is its own: the workspace syncs on
    assert ingest.claim_due(workspace.pk) == [other.id]  # the other batch is due; this one waits
    assert ingest.ingest_batch(batch.id).outcome == "waiting"

    Batch.objects.filter(pk=batch.pk).update(ingest_not_before=timezone.now())  # its time has come
    assert ingest.ingest_batch(batch.id).complete
    batch.refresh_from_db()
    assert (batch.ingest_failures, batch.ingest_error, batch.ingest_not_before) == (0, "", None)


def test_every_first_stream_cut_converges_in_one_foreground_pass(emulator, workspace):
    ids = emulator.seed_batches(workspace.test_api_key, 8, status="ended", n_requests=120)
    emulator.faults.add(op="results", cut_after_lines=40, per_batch=True)  # each batch's first stream

    report = sync.catch_up(workspace.pk)

    assert sorted(report.ingested) == sorted(ids) and not report.failed
    assert Result.objects.count() == 8 * 120
    assert Result.objects.values("batch_id", "custom_id").distinct().count() == 8 * 120


def test_a_long_rate_limit_pauses_the_workspaces_ingests_not_its_sync(emulator, workspace, settings):
    first = _ended_batch(emulator, workspace, 30)
    second = _ended_batch(emulator, workspace, 30)
    emulator.faults.add(op="results", status=429, retry_after=600)
    emulator.reset_calls()

    report = ingest.ingest_batch(first.id)

    assert report.outcome == "failed" and report.streams == 0 and emulator.calls["results"] == 1  # not slept on
    workspace.refresh_from_db()
    assert workspace.ingest_not_before > timezone.now() + timedelta(seconds=590) and not workspace.is_failing
    first.refresh_from_db()
    assert first.ingest_not_before >= workspace.ingest_not_before - timedelta(seconds=1)
    assert ingest.ingest_batch(second.id).outcome == "paused" and emulator.calls["results"] == 1
    assert ingest.claim_due(workspace.pk) == []
    sync.sync_workspace(workspace.pk)  # the metadata sync carries on meanwhile
    assert emulator.calls["list"] == 1
    Workspace.objects.filter(pk=workspace.pk).update(ingest_not_before=timezone.now())
    assert ingest.claim_due(workspace.pk) == [second.id]


def test_a_refused_key_backs_off_to_the_longest_wait_as_permanent(emulator, workspace, settings):
    batch = _ended_batch(emulator, workspace, 10)
    emulator.faults.add(op="results", status=403, error_type="permission_error", message="no access")

    assert ingest.ingest_batch(batch.id).outcome == "failed"

    batch.refresh_from_db()
    assert batch.ingest_error_permanent and batch.ingest_error_type == "permission_error"
    wait = batch.ingest_not_before - timezone.now()
    assert timedelta(seconds=settings.INGEST_BACKOFF_MAX_SECONDS - 5) < wait
    assert emulator.calls["results"] == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_of_one_batch_stream_it_once(emulator, make_workspace):
    workspace = make_workspace("concurrent")
    batch = _ended_batch(emulator, workspace, 400)
    emulator.faults.add(op="results", delay=0.5)  # the first holds the lease while the others try
    emulator.reset_calls()

    reports = at_once(3, lambda: ingest.ingest_batch(batch.id))

    assert sorted(r.outcome for r in reports) == ["busy", "busy", "ingested"]
    assert emulator.calls["results"] == 1
    assert Result.objects.filter(batch=batch).count() == 400
    assert Result.objects.filter(batch=batch).values("custom_id").distinct().count() == 400


@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_of_one_workspace_run_once_and_queue_each_ingest_once(emulator, make_workspace):
    workspace = make_workspace("concurrent-sync")
    emulator.seed_batches(workspace.test_api_key, 5, status="ended", n_requests=60)
    emulator.faults.add(op="list", delay=1)  # the first pass holds the lease while the others try
    queued: list[str] = []

    def sync_then_queue():
        report = sync.sync_workspace(workspace.pk)
        queued.extend(ingest.claim_due(workspace.pk))
        return report

    reports = at_once(4, sync_then_queue)

    assert len(reports) == 4
    assert Batch.objects.count() == 5 and emulator.calls["results"] == 0  # the sync itself ingests nothing
    ran = [r for r in reports if not r.skipped]
    assert len(ran) == 1 and all("another sync" in r.skipped for r in reports if r.skipped)
    assert sorted(queued) == sorted(Batch.objects.values_list("id", flat=True))  # each queued once


def test_a_malformed_line_is_kept_counted_and_the_rest_goes_on(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 80)
    emulator.faults.add(op="results", malformed_lines=2, times=1)

    report = ingest.ingest_batch(batch.id)

    assert report.malformed == 2
    malformed = Result.objects.filter(batch=batch, result_type="malformed")
    assert malformed.count() == 2
    assert Result.objects.filter(batch=batch).exclude(result_type="malformed").count() == 78
    batch.refresh_from_db()
    assert batch.malformed_count == 2
    assert all(m.raw_line() for m in malformed)


def test_chunks_are_bounded_in_bytes_as_well_as_lines(emulator, workspace, settings):
    # 50 lines a chunk in tests; lines of 5 KB: by lines alone a chunk would hold 250 KB.
    settings.INGEST_CHUNK_BYTES = 20_000
    batch = _ended_batch(emulator, workspace, 30, line_bytes=5_000)

    assert ingest.ingest_batch(batch.id).complete

    chunks = [c.lines() for c in ResultChunk.objects.filter(batch=batch).order_by("id")]
    assert len(chunks) >= 6 and sum(map(len, chunks)) == 30  # by lines alone: one chunk
    # Each chunk ends with the line that takes it to the bound (the last, with the stream).
    for lines in chunks[:-1]:
        sizes = [len(line) for line in lines]
        assert sum(sizes) >= 20_000 > sum(sizes[:-1])
    assert Result.objects.filter(batch=batch).values("custom_id").distinct().count() == 30


def test_rows_a_concurrent_run_stored_first_are_skipped_not_doubled(emulator, workspace):
    from batches import client
    from batches.services import result_store

    batch = _ended_batch(emulator, workspace, 120)
    assert ingest.ingest_batch(batch.id).complete
    kept = set(Result.objects.filter(batch=batch, custom_id__lt="req-000060").values_list("custom_id", "id"))
    Result.objects.filter(batch=batch, custom_id__gte="req-000060").delete()
    assert len(kept) == 60

    # A run that did not see them (it started before they were stored): on PostgreSQL its COPY meets the
    # unique constraint, and each chunk is written again by an INSERT that skips what is there.
    counts = result_store.Counts()
    with client.stream_results(batch.workspace.credentials, batch.id, results_url=batch.results_url) as lines:
        result_store.store(batch, lines, counts, resuming=False, renew=lambda: None)

    ids = list(Result.objects.filter(batch=batch).values_list("custom_id", flat=True))
    assert len(ids) == len(set(ids)) == 120
    # The rows stored first are untouched (same primary keys), the rest stored once each.
    assert kept <= set(Result.objects.filter(batch=batch).values_list("custom_id", "id"))
    assert all(r.raw_line().startswith('{"custom_id":"' + r.custom_id) for r in Result.objects.filter(batch=batch))


def test_results_of_an_archived_batch_are_marked_unavailable(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 3)
    Batch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(days=29, seconds=5))

    report = ingest.ingest_batch(batch.id)

    assert report.unavailable and not Result.objects.filter(batch=batch).exists()
    batch.refresh_from_db()
    assert batch.results_unavailable_at is not None and not batch.needs_ingest


def test_a_batch_without_a_known_results_url_still_ingests(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 12)
    Batch.objects.filter(pk=batch.pk).update(results_url="")  # mirrored by an older version, say
    emulator.reset_calls()

    assert ingest.ingest_batch(batch.id).complete
    assert (emulator.calls["results"], emulator.calls["retrieve"]) == (1, 1)  # the SDK's way: retrieve first


def test_incomplete_answers_are_counted_apart_by_stop_reason(emulator, workspace):
    from batches.models import INCOMPLETE, IncompleteCount

    batch = _ended_batch(emulator, workspace, 230, outcomes={"succeeded": 1.0})

    ingest.ingest_batch(batch.id)

    batch.refresh_from_db()
    cut_off = Result.objects.filter(batch=batch, stop_reason="max_tokens")
    # The API calls them succeeded; the product counts them apart, from the stop reason of each stored answer.
    assert batch.succeeded_count == 230 and 0 < cut_off.count() < 230
    assert batch.incomplete_count == cut_off.count() == Result.objects.filter(INCOMPLETE, batch=batch).count()
    assert all(r.incomplete for r in cut_off) and not Result.objects.filter(stop_reason="end_turn").first().incomplete
    rows = list(IncompleteCount.objects.filter(batch=batch).values_list("stop_reason", "category", "count"))
    assert rows == [("max_tokens", "", cut_off.count())]


def test_a_queue_mark_never_outlives_the_lease(emulator, workspace, settings):
    """A worker killed holding the batch: once its lease runs out the next pass queues the batch again, not an
    hour later (INGEST_REQUEUE_SECONDS)."""
    batch = _ended_batch(emulator, workspace, 10)
    assert ingest.claim_due(workspace.pk) == [batch.id]
    assert ingest.claim_due(workspace.pk) == []  # queued: not twice
    # The task took the lease and its worker died: the lease and the queue mark stay behind.
    lease = timedelta(seconds=settings.INGEST_LEASE_SECONDS)
    started = timezone.now() - lease - timedelta(seconds=1)
    Batch.objects.filter(pk=batch.pk).update(
        ingest_lease_token="dead", ingest_lease_until=started + lease, ingest_queued_at=started
    )
    assert settings.INGEST_REQUEUE_SECONDS > settings.INGEST_LEASE_SECONDS

    assert ingest.claim_due(workspace.pk) == [batch.id]
    assert ingest.ingest_batch(batch.id).complete  # the dead holder's lease is taken over


def test_a_busy_ingest_says_when_the_holders_lease_runs_out(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 10)
    until = timezone.now() + timedelta(seconds=30)
    Batch.objects.filter(pk=batch.pk).update(ingest_lease_token="other", ingest_lease_until=until)

    report = ingest.ingest_batch(batch.id)

    assert report.outcome == "busy" and report.lease_until == until  # the task comes back then
    Batch.objects.filter(pk=batch.pk).update(ingest_lease_until=timezone.now() - timedelta(seconds=1))
    assert ingest.ingest_batch(batch.id).complete


@pytest.mark.django_db(transaction=True)
def test_a_database_connection_lost_mid_ingest_reconnects_and_completes(emulator, make_workspace, monkeypatch):
    from django.db import OperationalError, connection

    workspace = make_workspace("reconnect")
    batch = _ended_batch(emulator, workspace, 200)
    renewer, calls = ingest._renewer, []

    def renewer_losing_the_connection(batch_id, token):
        renew = renewer(batch_id, token)

        def renew_then_lose_the_connection():
            calls.append(1)
            if len(calls) == 2:  # after the second chunk is stored
                connection.close()
                raise OperationalError("the connection is closed")
            renew()

        return renew_then_lose_the_connection

    monkeypatch.setattr(ingest, "_renewer", renewer_losing_the_connection)

    report = ingest.ingest_batch(batch.id)

    assert report.complete and report.streams == 2
    assert Result.objects.filter(batch=batch).count() == 200
    assert Result.objects.filter(batch=batch).values("custom_id").distinct().count() == 200
    batch.refresh_from_db()
    assert batch.ingest_lease_token == "" and batch.ingest_queued_at is None


@pytest.mark.django_db(transaction=True)
def test_failure_bookkeeping_reconnects_when_the_connection_is_gone(emulator, make_workspace, monkeypatch):
    from django.db import OperationalError, connection

    workspace = make_workspace("bookkeeping")
    batch = _ended_batch(emulator, workspace, 20)

    def store_on_a_dead_connection(*args, **kwargs):
        connection.close()
        raise OperationalError("the connection is closed")

    monkeypatch.setattr(ingest.result_store, "store", store_on_a_dead_connection)

    report = ingest.ingest_batch(batch.id)

    assert report.outcome == "failed"
    batch.refresh_from_db()
    assert batch.ingest_error_type == "OperationalError" and batch.ingest_not_before and batch.ingest_failures == 1
    assert batch.ingest_lease_token == "" and batch.ingest_queued_at is None  # nothing held by a dead task


def test_an_ingest_that_dies_on_an_unexpected_error_is_recorded_on_its_batch(emulator, workspace, monkeypatch):
    batch = _ended_batch(emulator, workspace, 20)

    def broken(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(ingest.result_store, "store", broken)

    assert ingest.ingest_batch(batch.id).outcome == "failed"
    batch.refresh_from_db()
    assert (batch.ingest_error, batch.ingest_error_type, batch.ingest_failures) == ("injected", "RuntimeError", 1)
    assert batch.ingest_not_before > timezone.now()  # backs off, then tries again by itself
    assert batch.ingest_lease_token == "" and batch.ingest_queued_at is None  # nothing held by a dead task
    # ...and the audit log says so, beside the people's actions: no task dies without a trace.
    event = AuditEvent.objects.get(action="ingest", target=batch.id)
    assert (event.outcome, event.workspace_id, event.actor_name) == ("error", workspace.pk, "system")
    assert "RuntimeError" in event.detail and "injected" not in event.detail


def test_an_ingest_the_api_refuses_writes_no_audit_row(emulator, workspace):
    # A key refused (or a storm of 429s) is the batch's own back-off: one row per attempt would drown the log.
    batch = _ended_batch(emulator, workspace, 20)
    emulator.faults.add(op="results", status=403, error_type="permission_error", message="no access")
    assert ingest.ingest_batch(batch.id).outcome == "failed"
    assert not AuditEvent.objects.filter(action="ingest").exists()


def test_refresh_now_lets_a_backed_off_batch_try_again_at_once(emulator, workspace):
    from batches.services import actions

    batch = _ended_batch(emulator, workspace, 10)
    emulator.faults.add(op="results", status=403, error_type="permission_error", message="no access")
    assert ingest.ingest_batch(batch.id).outcome == "failed"
    assert ingest.claim_due(workspace.pk) == []  # backing off for an hour

    actions.request_refresh(batch)

    assert ingest.claim_due(workspace.pk) == [batch.id]
    assert ingest.ingest_batch(batch.id).complete


def test_storage_not_ready_during_ingest_is_tried_again_within_minutes_not_an_hour(emulator, workspace, settings):
    batch = _ended_batch(emulator, workspace, 20)
    emulator.faults.add(op="results", status=503, error_code="storage_not_ready", message="Try again in a minute",
                        times=50)  # fmt: skip
    before = timezone.now()

    report = ingest.ingest_batch(batch.id)

    batch.refresh_from_db()
    assert report.outcome == "failed" and not batch.ingest_error_permanent
    assert "storage_not_ready" in batch.ingest_error
    wait = batch.ingest_not_before - before
    assert wait < timedelta(minutes=2) < timedelta(seconds=settings.INGEST_BACKOFF_MAX_SECONDS)
    emulator.faults.clear()
    Batch.objects.filter(pk=batch.pk).update(ingest_not_before=None)
    assert ingest.ingest_batch(batch.id).complete


def test_a_small_batchs_first_ingest_costs_a_fixed_number_of_queries(emulator, workspace, settings):
    """The fixed cost of a batch bounds the first sync of many small ones (issue 24): read and claim it, its
    chunk, the count that proves it whole, the rollups (errors and incomplete from what was counted as it
    was stored; usage and cost by pricing, summed from the rows with the models counted as they were stored,
    then the spend report's sums of its day: delete and insert, on PostgreSQL after a lock), the batch marked
    kept with its events, the adoption check, the release. Savepoints are left out: outside a test's
    transaction they are BEGIN and COMMIT."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.INGEST_CHUNK_LINES = 2000
    outcomes = {"succeeded": 0.8, "overloaded_error": 0.1, "expired": 0.1}
    ids = [emulator.seed_batch(workspace.test_api_key, 100, status="ended", outcomes=outcomes) for _ in range(2)]
    sync.sync_workspace(workspace.pk)
    ingest.ingest_batch(ids[0])  # the first of a process reads what later ones have in memory (the client)

    with CaptureQueriesContext(connection) as queries:
        report = ingest.ingest_batch(ids[1])

    assert report.complete and report.new_items == 100
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # PostgreSQL's COPY goes by the raw cursor (not captured); SQLite's INSERT of the rows is one statement.
    assert len(statements) == 21, statements
    batch = Batch.objects.get(pk=ids[1])
    # The rollups taken from the counts agree with the rows.
    errors = dict(batch.error_counts.values_list("error_type", "count"))
    assert errors == {"overloaded_error": Result.objects.filter(batch=batch, error_type="overloaded_error").count()}
    assert errors["overloaded_error"] == batch.errored_count > 0


def _results_as_sent(emulator, workspace, batch) -> bytes:
    import urllib.request

    request = urllib.request.Request(
        f"{emulator.base_url}/v1/messages/batches/{batch.id}/results",
        headers={"x-api-key": workspace.test_api_key, "anthropic-version": "2023-06-01"},
    )
    return urllib.request.urlopen(request).read()  # noqa: S310 - the emulator on loopback


def _chunk_of(sent: bytes):
    """Which chunk (0, 1, ...) a run of kept lines is, by its first line (tests keep 50 lines a chunk)."""
    lines = sent.split(b"\n")
    return lambda keep: lines.index(keep[0][0]) // 50


@pytest.mark.django_db(transaction=True)
def test_chunks_stored_by_two_writers_read_back_in_the_order_the_api_sent_them(emulator, make_workspace, monkeypatch,
                                                                                 settings):  # fmt: skip
    """A large batch's chunks are stored by two threads (on PostgreSQL; SQLite has one). The second chunk's rows
    are written before the first chunk's: the kept lines must still read back as the API sent them, every line
    once, and the counts must be every row's, whichever thread stored it."""
    import threading

    from django.db import connection

    from batches.services import result_writer
    from dashboard.exports import jsonl_all

    settings.INGEST_WRITERS = 2
    workspace = make_workspace("writers")
    batch = _ended_batch(emulator, workspace, 600, outcomes={"succeeded": 0.8, "overloaded_error": 0.2})
    sent = _results_as_sent(emulator, workspace, batch)
    chunk_of, insert_rows, second_written = _chunk_of(sent), result_writer._insert_rows, threading.Event()

    def first_chunk_written_last(batch, row, keep, *, copy):
        if chunk_of(keep) == 0 and connection.vendor == "postgresql":  # two writers
            assert second_written.wait(timeout=10), "the other writer did not write the second chunk meanwhile"
        insert_rows(batch, row, keep, copy=copy)
        if chunk_of(keep) == 1:
            second_written.set()

    monkeypatch.setattr(result_writer, "_insert_rows", first_chunk_written_last)

    report = ingest.ingest_batch(batch.id)

    assert report.complete and report.new_items == 600
    assert b"".join(jsonl_all(Batch.objects.get(pk=batch.pk))) == sent
    batch.refresh_from_db()
    assert batch.items_ingested == 600
    assert dict(batch.error_counts.values_list("error_type", "count")) == {"overloaded_error": batch.errored_count}


@pytest.mark.django_db(transaction=True)
def test_a_chunk_that_fails_leaves_no_later_chunk_stored_and_the_resume_keeps_the_apis_order(
    emulator, make_workspace, monkeypatch, settings
):
    """The fourth chunk fails once its successor's rows are written (by the other writer, on PostgreSQL): that
    successor must not commit, or the stored lines would have a gap that the resumed run fills at the end."""
    import threading

    from django.db import connection

    from batches.services import result_writer
    from dashboard.exports import jsonl_all

    settings.INGEST_WRITERS = 2
    workspace = make_workspace("gap")
    batch = _ended_batch(emulator, workspace, 600)
    sent = _results_as_sent(emulator, workspace, batch)
    chunk_of, insert_rows, fifth_written = _chunk_of(sent), result_writer._insert_rows, threading.Event()
    failed = []

    def fourth_chunk_fails_once(batch, row, keep, *, copy):
        if chunk_of(keep) == 3 and not failed:
            if connection.vendor == "postgresql":  # two writers
                assert fifth_written.wait(timeout=10), "the other writer did not write the fifth chunk meanwhile"
            failed.append(1)
            raise RuntimeError("the disk is full")
        insert_rows(batch, row, keep, copy=copy)
        if chunk_of(keep) == 4:
            fifth_written.set()

    monkeypatch.setattr(result_writer, "_insert_rows", fourth_chunk_fails_once)

    assert ingest.ingest_batch(batch.id).outcome == "failed"
    kept = b"".join(jsonl_all(Batch.objects.get(pk=batch.pk)))
    assert kept == b"".join(line + b"\n" for line in sent.split(b"\n")[:150])  # the first three chunks alone

    assert ingest.ingest_batch(batch.id, force=True).complete
    assert b"".join(jsonl_all(Batch.objects.get(pk=batch.pk))) == sent


@pytest.mark.django_db(transaction=True)
def test_a_custom_id_repeated_in_a_later_chunk_is_stored_once_without_a_hang(
    emulator, make_workspace, monkeypatch, settings
):
    """The second chunk opens with the first chunk's last custom_id, and (on PostgreSQL, two writers) its rows are
    written first. The repeat must be dropped as the stream is read: met by the two open transactions instead, one
    waited on the other's row in PostgreSQL while that one waited for its turn to commit."""
    import threading
    import time

    from django.db import connection

    from batches.services import result_store, result_writer

    settings.INGEST_WRITERS = 2
    workspace = make_workspace("repeat")
    batch = _ended_batch(emulator, workspace, 600)
    lines = _results_as_sent(emulator, workspace, batch).split(b"\n")[:200]
    lines[50] = lines[49]
    insert_rows = result_writer._insert_rows

    def first_chunk_late(batch, row, keep, *, copy):
        if keep[0][0] == lines[0] and connection.vendor == "postgresql":
            time.sleep(0.5)  # the second chunk's writer gets to the repeated row first
        insert_rows(batch, row, keep, copy=copy)

    monkeypatch.setattr(result_writer, "_insert_rows", first_chunk_late)
    counts, outcome = result_writer.Counts(), []

    def store() -> None:
        try:
            result_store.store(batch, iter(lines), counts, resuming=False, renew=lambda: None)
            outcome.append("stored")
        except Exception as exc:  # noqa: BLE001 - the test reports it
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=store, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert outcome == ["stored"], outcome or "the ingest hung"
    assert Result.objects.filter(batch=batch).count() == 199
    assert (counts.new_items, counts.skipped_items) == (199, 1)


@pytest.mark.django_db(transaction=True)
def test_a_chunk_that_waits_too_long_for_its_turn_gives_up_and_the_one_before_still_commits(
    emulator, make_workspace, monkeypatch, settings
):
    """A chunk waits at most TURN_SECONDS for the one before it to commit (holding its rows, a longer wait could
    be half of a deadlock PostgreSQL cannot see). The first chunk is slow: the second gives up, the first still
    commits, nothing after it does, and the next run completes the batch in the API's order."""
    import time

    from django.db import connection

    from batches.services import result_writer
    from dashboard.exports import jsonl_all

    if connection.vendor != "postgresql":
        pytest.skip("two writers are PostgreSQL's (CI's second run)")
    settings.INGEST_WRITERS = 2
    monkeypatch.setattr(result_writer, "TURN_SECONDS", 0.3)
    workspace = make_workspace("turns")
    batch = _ended_batch(emulator, workspace, 600)
    sent = _results_as_sent(emulator, workspace, batch)
    chunk_of, insert_rows, slowed = _chunk_of(sent), result_writer._insert_rows, []

    def first_chunk_slow_once(batch, row, keep, *, copy):
        if chunk_of(keep) == 0 and not slowed:
            slowed.append(1)
            time.sleep(1.0)
        insert_rows(batch, row, keep, copy=copy)

    monkeypatch.setattr(result_writer, "_insert_rows", first_chunk_slow_once)

    report = ingest.ingest_batch(batch.id)

    assert report.outcome == "failed" and "not committed" in report.error
    assert b"".join(jsonl_all(Batch.objects.get(pk=batch.pk))) == b"".join(
        line + b"\n" for line in sent.split(b"\n")[:50]
    )
    assert ingest.ingest_batch(batch.id, force=True).complete
    assert b"".join(jsonl_all(Batch.objects.get(pk=batch.pk))) == sent


@pytest.mark.django_db(transaction=True)
def test_a_stream_cut_mid_chunk_under_two_writers_resumes_in_the_apis_order(emulator, make_workspace, settings):
    """The stream is cut after 170 lines with two writers at work (on PostgreSQL): the whole chunks read are
    stored, the stream is opened again within the task, and the kept lines still read back as sent."""
    from dashboard.exports import jsonl_all

    settings.INGEST_WRITERS = 2
    workspace = make_workspace("cut")
    batch = _ended_batch(emulator, workspace, 600)
    sent = _results_as_sent(emulator, workspace, batch)
    emulator.faults.add(op="results", cut_after_lines=170, times=1)

    report = ingest.ingest_batch(batch.id)

    assert report.complete and report.streams == 2 and report.new_items == 600
    # What was stored before the cut is whole chunks (how many lines arrived before it depends on the transport's
    # reads), and the second stream skipped exactly those.
    assert 0 < report.skipped_items <= 170 and report.skipped_items % 50 == 0
    assert b"".join(jsonl_all(Batch.objects.get(pk=batch.pk))) == sent
