"""Small ended batches ingested together: one claim, one transaction, one COPY, and every guarantee kept."""

from __future__ import annotations

import time

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from batches.models import Batch, ErrorCount, IncompleteCount, Result, ResultChunk, UsageRollup
from batches.services import ingest, ingest_group, result_store, sync

OUTCOMES = {"succeeded": 0.7, "overloaded_error": 0.2, "expired": 0.1}


def _ended(emulator, workspace, count: int, n: int = 40, **kwargs) -> list[str]:
    ids = emulator.seed_batches(workspace.test_api_key, count, status="ended", n_requests=n, **kwargs)
    sync.sync_workspace(workspace.pk)
    return ids


def _statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_small_batches_are_stored_whole_once_with_the_rollups_of_their_own_ingest(emulator, workspace):
    grouped = _ended(emulator, workspace, 4, outcomes=OUTCOMES)
    alone = _ended(emulator, workspace, 1, outcomes=OUTCOMES)[0]
    emulator.reset_calls()

    reports = ingest_group.ingest_batches(grouped)
    assert ingest.ingest_batch(alone).complete  # the same kind of batch by the path of one

    assert [r.outcome for r in reports] == ["ingested"] * 4 and all(r.new_items == 40 for r in reports)
    assert emulator.calls["results"] == 5  # one stream a batch
    for batch in Batch.objects.filter(pk__in=[*grouped, alone]):
        rows = Result.objects.filter(batch=batch)
        assert rows.count() == rows.values("custom_id").distinct().count() == 40 == batch.items_ingested
        assert batch.results_ingested_at and batch.ingest_lease_token == "" and batch.ingest_queued_at is None
        assert ResultChunk.objects.filter(batch=batch).count() == 1
        item = rows.filter(result_type="errored").first()
        assert item.custom_id in item.raw_line()
        # The rollups agree with the rows, as the ingest of one batch writes them.
        errors = dict(ErrorCount.objects.filter(batch=batch).values_list("error_type", "count"))
        assert errors == {"overloaded_error": rows.filter(error_type="overloaded_error").count()}
        assert errors["overloaded_error"] == batch.errored_count
        billed = sum(UsageRollup.objects.filter(batch=batch).values_list("requests", flat=True))
        assert billed == rows.filter(result_type="succeeded").count() == batch.succeeded_count
        assert sum(IncompleteCount.objects.filter(batch=batch).values_list("count", flat=True)) == (
            batch.incomplete_count
        )
        assert batch.model  # the model its results name


def test_a_group_costs_a_fixed_number_of_queries_whatever_its_size_on_postgresql(emulator, workspace):
    """Claim and read all; one chunk INSERT (and one COPY, not captured, on PostgreSQL); the rollups in
    set-based queries; the batches marked kept (one UPDATE joined to their values on PostgreSQL, where an UPDATE
    each was a tenth of a group's time; one each on SQLite); the adoption check and the release, once."""
    ids = _ended(emulator, workspace, 9, outcomes=OUTCOMES)
    ingest_group.ingest_batches(ids[:1])  # the first of a process reads what later ones have in memory

    with CaptureQueriesContext(connection) as three:
        assert all(r.complete for r in ingest_group.ingest_batches(ids[1:4]))
    with CaptureQueriesContext(connection) as five:
        assert all(r.complete for r in ingest_group.ingest_batches(ids[4:9]))

    together = connection.vendor == "postgresql"
    marks = [sql for sql in _statements(five) if "SET items_ingested" in sql or 'SET "items_ingested"' in sql]
    assert len(marks) == (1 if together else 5)
    assert len(_statements(five)) - len(_statements(three)) == (0 if together else 2)
    # Where one batch alone takes 21 statements (test_ingest.py). Both count the spend report's daily sums of the
    # day: a delete and an insert, on PostgreSQL after a lock (pricing/daily.py).
    fixed = 19
    assert len(_statements(three)) == fixed + (1 if together else 3), _statements(three)
    kept = Batch.objects.filter(pk__in=ids[4:9])
    assert all(b.results_ingested_at and b.items_ingested == b.request_total and b.model for b in kept)


def test_a_batch_whose_stream_is_cut_goes_its_own_way_and_the_others_together(emulator, workspace):
    ids = _ended(emulator, workspace, 4)
    emulator.faults.add(op="results", cut_after_lines=15, batch_id=ids[1], times=1)

    reports = ingest_group.ingest_batches(ids)

    assert {r.batch_id: r.outcome for r in reports} == dict.fromkeys(ids, "ingested")
    assert Result.objects.count() == Result.objects.values("batch_id", "custom_id").distinct().count() == 4 * 40
    assert emulator.calls["results"] == 5  # the cut one streamed again, on its own


def test_a_batch_that_keeps_failing_is_left_visibly_failed_and_the_others_kept(emulator, workspace, settings):
    ids = _ended(emulator, workspace, 3)
    emulator.faults.add(op="results", status=500, batch_id=ids[0], times=-1)

    reports = {r.batch_id: r for r in ingest_group.ingest_batches(ids)}

    assert reports[ids[0]].outcome == "failed" and reports[ids[1]].complete and reports[ids[2]].complete
    failed = Batch.objects.get(pk=ids[0])
    assert failed.results_ingested_at is None and failed.ingest_failures == 1 and failed.ingest_error
    assert failed.ingest_not_before is not None and failed.ingest_lease_token == ""
    assert not Result.objects.filter(batch_id=ids[0]).exists()
    assert Result.objects.count() == 2 * 40


def test_a_run_whose_transaction_fails_leaves_nothing_and_each_batch_is_stored_alone(emulator, workspace, monkeypatch):
    """A concurrent run stored some rows a moment earlier (the unique constraint): nothing of the run is
    left half-written, and each batch is then ingested by the path of one, counted once."""
    ids = _ended(emulator, workspace, 3, outcomes=OUTCOMES)
    real = result_store.store_many

    def store_then_conflict(runs):
        real(runs)
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(result_store, "store_many", store_then_conflict)

    reports = ingest_group.ingest_batches(ids)

    assert [r.outcome for r in reports] == ["ingested"] * 3 and all(r.new_items == 40 for r in reports)
    assert Result.objects.count() == Result.objects.values("batch_id", "custom_id").distinct().count() == 3 * 40
    assert ResultChunk.objects.count() == 3  # the run's chunks were rolled back with it
    for batch in Batch.objects.filter(pk__in=ids):
        assert batch.items_ingested == 40
        assert sum(ErrorCount.objects.filter(batch=batch).values_list("count", flat=True)) == batch.errored_count


def test_a_batch_held_by_another_task_is_left_to_it(emulator, workspace):
    ids = _ended(emulator, workspace, 3)
    holder = ingest._claim(ids[1])

    reports = {r.batch_id: r for r in ingest_group.ingest_batches(ids)}

    assert reports[ids[1]].outcome == "busy" and reports[ids[0]].complete and reports[ids[2]].complete
    assert Batch.objects.get(pk=ids[1]).ingest_lease_token == holder
    assert not Result.objects.filter(batch_id=ids[1]).exists()


def test_a_resumed_or_large_batch_takes_the_path_of_one(emulator, workspace, settings):
    small = _ended(emulator, workspace, 2)
    large = _ended(emulator, workspace, 1, n=settings.INGEST_CHUNK_LINES + 1)[0]
    Batch.objects.filter(pk=small[0]).update(ingest_attempts=1)  # an earlier attempt: it may have stored some

    alone, groups = ingest_group.plan([*small, large])
    assert alone == [large] and groups == [[small[0]], [small[1]]]  # a group each: as few as 8 groups
    reports = {r.batch_id: r for r in ingest_group.ingest_batches([*small, large])}

    assert all(r.complete for r in reports.values())
    assert ResultChunk.objects.filter(batch_id=large).count() == 2  # chunked as on its own
    assert Result.objects.count() == 2 * 40 + settings.INGEST_CHUNK_LINES + 1


@pytest.mark.parametrize(("count", "sizes"), [(3, [1, 1, 1]), (20, [3, 3, 3, 3, 3, 3, 2])])
def test_small_batches_are_planned_in_groups_several_workers_can_share(emulator, workspace, count, sizes):
    ids = _ended(emulator, workspace, count, n=5)

    alone, groups = ingest_group.plan(ids)

    assert alone == [] and [len(g) for g in groups] == sizes and [i for g in groups for i in g] == ids


@pytest.mark.parametrize(
    ("status", "retry_after", "paused"),
    [(429, 0.05, False), (529, 0.05, False), (503, 0.05, False), (429, 600, True)],
)
def test_an_api_storm_stops_the_group_and_leaves_the_rest_for_the_next_pass(
    emulator, workspace, settings, status, retry_after, paused
):
    """Rate limited or overloaded: the first refused download takes its own path (it waits as the API asks, then
    backs off, or pauses the workspace's ingests), and the group asks for nothing more. The others are left as
    they were, to be queued again by the next pass, and once the storm is over they are ingested together."""
    settings.INGEST_STREAM_ATTEMPTS = 2
    settings.INGEST_DOWNLOADS_IN_FLIGHT = 3
    ids = _ended(emulator, workspace, 6)
    emulator.reset_calls()
    emulator.faults.add(op="results", status=status, retry_after=retry_after, times=-1)

    reports = ingest_group.ingest_batches(ids)

    # The downloads in flight when the first is refused (at most INGEST_DOWNLOADS_IN_FLIGHT), then the refused
    # batch's own attempts: one when the API asks for longer than a worker waits (the workspace pauses), else
    # INGEST_STREAM_ATTEMPTS. Not six batches' worth, each with its own retries.
    own = 1 if paused else 2
    assert 1 + own <= emulator.calls["results"] <= 3 + own
    assert [r.outcome for r in reports] == ["failed"] + ["deferred"] * 5
    first = Batch.objects.get(pk=ids[0])
    assert first.ingest_failures == 1 and first.ingest_not_before and first.ingest_error
    workspace.refresh_from_db()
    assert (workspace.ingest_not_before is not None) == paused
    for batch in Batch.objects.filter(pk__in=ids[1:]):
        # As if never claimed: no attempt counted, no failure, no lease, no queue mark, nothing stored.
        assert (batch.ingest_attempts, batch.ingest_failures, batch.ingest_error) == (0, 0, "")
        assert batch.ingest_lease_token == "" and batch.ingest_queued_at is None and batch.ingest_not_before is None
    assert not Result.objects.exists()

    emulator.faults.clear()
    if paused:
        assert ingest.claim_due(workspace.pk) == []  # nothing is queued while the workspace is paused
        ingest.retry_now(workspace_id=workspace.pk)  # "Refresh now": the storm is over
    assert sorted(ingest.claim_due(workspace.pk)) == sorted(ids if paused else ids[1:])
    before = emulator.calls["results"]
    again = ingest_group.ingest_batches(ids[1:])
    assert all(r.complete for r in again) and emulator.calls["results"] == before + 5
    assert Result.objects.count() == 5 * 40


def test_a_groups_downloads_overlap_while_each_waits_on_the_api(emulator, workspace, settings):
    """From a remote API a download is mostly waiting: the group has INGEST_DOWNLOADS_IN_FLIGHT of them out at
    once, so six answers that each take 0.4 s arrive in about two rounds, not six; and every one is stored."""
    settings.INGEST_DOWNLOADS_IN_FLIGHT = 3
    ids = _ended(emulator, workspace, 6)
    emulator.reset_calls()
    emulator.faults.add(op="results", delay=0.4, times=-1)

    started = time.monotonic()
    reports = ingest_group.ingest_batches(ids)
    took = time.monotonic() - started

    assert all(r.complete for r in reports) and emulator.calls["results"] == 6
    assert Result.objects.count() == Result.objects.values("batch_id", "custom_id").distinct().count() == 6 * 40
    assert took < 6 * 0.4 * 0.75, took  # one after another it takes 2.4 s at the least


def test_a_batch_named_twice_is_ingested_once(emulator, workspace):
    ids = _ended(emulator, workspace, 2)
    emulator.reset_calls()

    reports = ingest_group.ingest_batches([ids[0], ids[1], ids[0]])

    assert [r.batch_id for r in reports] == ids and all(r.complete for r in reports)
    assert emulator.calls["results"] == 2 and Result.objects.count() == 2 * 40


def test_in_a_storm_a_batch_held_by_another_task_is_still_handed_on(emulator, workspace):
    """The rest of a stopped group: those it claimed are deferred; one another task holds is "busy" as in the
    loop (the task enqueues it on its own, to take over if its holder died), one already kept is not needed."""
    ids = _ended(emulator, workspace, 4)
    holder = ingest._claim(ids[2])
    assert ingest.ingest_batch(ids[3]).complete
    emulator.reset_calls()
    emulator.faults.add(op="results", status=529, retry_after=0.05, times=-1)  # short: the workspace not paused

    reports = {r.batch_id: r.outcome for r in ingest_group.ingest_batches(ids)}

    assert reports == {ids[0]: "failed", ids[1]: "deferred", ids[2]: "busy", ids[3]: "not_needed"}
    assert Batch.objects.get(pk=ids[2]).ingest_lease_token == holder


def _plan(sql: str, params, *settings: str) -> str:
    with connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(f"SET LOCAL {setting}")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes: CI's second run")
def test_a_hundred_batch_ids_are_found_by_the_primary_key_and_part_of_an_id_by_the_search_index(workspace):
    """pg_trgm's index answers equality too. On `id` itself PostgreSQL chose it for `id IN (...)` of a group's 100
    ids and read every batch's entries for each (every id starts "msgbatch_"): 600 ms a query at 1,000 batches, its
    claim and its release. The search's index is on UPPER(id) (migration 0043), which only the search asks for."""
    import random
    import string
    from datetime import timedelta

    from django.utils import timezone

    from dashboard.forms.filters import _search

    rng, now = random.Random(7), timezone.now()
    ids = ["msgbatch_" + "".join(rng.choices(string.ascii_letters + string.digits, k=24)) for _ in range(2000)]
    Batch.objects.bulk_create(
        [Batch(id=pk, workspace=workspace, processing_status="ended", created_at=now, ended_at=now,
               expires_at=now + timedelta(days=1)) for pk in ids]
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE batches_batch")

    claim = Batch.objects.select_related("workspace").filter(pk__in=ids[:100], ingest_lease_token="t")
    plan = _plan(*claim.query.sql_with_params())
    assert "trgm" not in plan, plan
    search = Batch.objects.filter(_search(ids[5][12:18]))
    plan = _plan(*search.query.sql_with_params(), "enable_seqscan = off", "enable_indexscan = off")
    assert "batch_id_upper_trgm" in plan, plan
    assert list(search.values_list("pk", flat=True)) == [ids[5]]
