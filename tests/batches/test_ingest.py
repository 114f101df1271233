"""Results ingest: streamed, chunked, idempotent, resumable, never duplicated."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from batches import sync
from batches.errors import RetryableAPIError
from batches.ingest import ingest_results
from batches.models import Batch, Result, ResultChunk


def _ended_batch(emulator, workspace, n: int, **kwargs) -> Batch:
    batch_id = emulator.seed_batch(workspace.test_api_key, n, status="ended", **kwargs)
    # Mirror it without ingesting, so each test drives ingest itself.
    emulator.faults.add(op="results", status=500, times=3)
    with pytest.raises(RetryableAPIError):
        sync.sync_workspace(workspace.pk)
    emulator.faults.clear()
    return Batch.objects.select_related("workspace").get(pk=batch_id)


def test_every_result_is_stored_once_with_its_raw_line(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 230, outcomes={"succeeded": 0.7, "overloaded_error": 0.2, "expired": 0.1})

    report = ingest_results(batch)

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


def test_ingesting_twice_leaves_the_same_rows(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 120)
    ingest_results(batch)
    rows = sorted(Result.objects.values_list("custom_id", "result_type", "input_tokens", "line_index"))
    Batch.objects.filter(pk=batch.pk).update(results_ingested_at=None)  # force a second full run
    batch.refresh_from_db()

    report = ingest_results(batch)

    assert report.new_items == 0 and report.skipped_items == 120 and report.complete
    assert sorted(Result.objects.values_list("custom_id", "result_type", "input_tokens", "line_index")) == rows
    assert ResultChunk.objects.filter(batch=batch).count() == 3


def test_a_cut_mid_stream_is_completed_by_the_next_run(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 300)
    emulator.faults.add(op="results", cut_after_lines=170, times=1)

    with pytest.raises(RetryableAPIError) as excinfo:
        ingest_results(batch)
    assert excinfo.value.error_type == "connection_error"
    # Only whole chunks of 50 survive, never the lines of a half-read chunk. (How many lines got
    # through before the cut depends on what the reset connection had already delivered.)
    stored = Result.objects.filter(batch=batch).count()
    assert stored % 50 == 0 and stored <= 150
    batch.refresh_from_db()
    assert batch.results_ingested_at is None and "connection" in batch.ingest_error

    report = ingest_results(batch)

    assert report.complete and report.new_items == 300 - stored and report.skipped_items == stored
    assert Result.objects.filter(batch=batch).count() == 300 == batch.total_requests
    assert Result.objects.filter(batch=batch).values("custom_id").distinct().count() == 300


def test_a_cut_during_a_sync_pass_is_recorded_and_resumed_by_the_next_pass(emulator, workspace):
    batch_id = emulator.seed_batch(workspace.test_api_key, 200, status="ended")
    emulator.faults.add(op="results", cut_after_lines=60, times=1)

    with pytest.raises(RetryableAPIError):
        sync.sync_workspace(workspace.pk)
    workspace.refresh_from_db()
    assert workspace.last_error_type == "connection_error"
    sync.sync_workspace(workspace.pk)

    assert Result.objects.filter(batch_id=batch_id).count() == 200
    assert Batch.objects.get(pk=batch_id).results_ingested_at is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_of_one_batch_store_each_item_once(emulator, make_workspace):
    workspace = make_workspace("concurrent")
    batch = _ended_batch(emulator, workspace, 400)
    errors: list[BaseException] = []

    def run():
        try:
            ingest_results(Batch.objects.select_related("workspace").get(pk=batch.pk))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    assert Result.objects.filter(batch=batch).count() == 400
    assert Result.objects.filter(batch=batch).values("custom_id").distinct().count() == 400


@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_of_one_workspace_run_once(emulator, make_workspace):
    workspace = make_workspace("concurrent-sync")
    emulator.seed_batches(workspace.test_api_key, 5, status="ended", n_requests=60)
    emulator.faults.add(op="list", delay=1)  # the first pass holds the lease while the others try
    reports, errors = [], []
    start = threading.Barrier(4)

    def run():
        try:
            start.wait()
            reports.append(sync.sync_workspace(workspace.pk))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors and len(reports) == 4
    assert Result.objects.count() == 300
    assert Batch.objects.count() == 5
    ran = [r for r in reports if not r.skipped]
    assert len(ran) == 1 and all("another sync" in r.skipped for r in reports if r.skipped)
    assert emulator.calls["results"] == 5  # each batch downloaded once


def test_a_malformed_line_is_kept_counted_and_the_rest_goes_on(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 80)
    emulator.faults.add(op="results", malformed_lines=2, times=1)

    report = ingest_results(batch)

    assert report.malformed == 2
    malformed = Result.objects.filter(batch=batch, result_type="malformed")
    assert malformed.count() == 2
    assert Result.objects.filter(batch=batch).exclude(result_type="malformed").count() == 78
    batch.refresh_from_db()
    assert batch.malformed_count == 2
    assert all(m.raw_line() for m in malformed)


def test_results_of_an_archived_batch_are_marked_unavailable(emulator, workspace):
    batch = _ended_batch(emulator, workspace, 3)
    Batch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(days=29, seconds=5))
    batch.refresh_from_db()

    report = ingest_results(batch)

    assert report.unavailable and not Result.objects.filter(batch=batch).exists()
    batch.refresh_from_db()
    assert batch.results_unavailable_at is not None and not batch.needs_ingest
