"""The first sync of a workspace with a long history: 10,000 ended batches of 100 results (1,000,000 items).

    .venv/bin/python bench/first_sync.py [--batches 10000] [--items 100] [--workers 1 2] [--copy-items 100000]

One metadata pass (the full list, 1,000 a page) queues one ingest task per batch; real Celery worker
processes on the `ingest` queue (Redis, PostgreSQL) take them. Printed for each number of worker
processes: wall time until every batch is ingested, the pass's own time, the API calls by kind, items/s,
and the ratio of each run's time to the one-worker run (the goal: it falls with workers).

Then the write limit: one batch of --copy-items results ingested, beside the same rows loaded back into
the same table by one bare COPY (no parsing, no compression, no API), in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from common import BENCH_DATABASE_URL, BENCH_KEY, ROOT, control, emulator_process, setup_django

BENCH_BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")


def _fresh_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:  # a dedicated database: start each run from empty tables
        cursor.execute(
            "TRUNCATE batches_result, batches_resultchunk, batches_errorcount, batches_usagerollup, batches_batch, "
            "batches_workspace CASCADE"
        )


def _workspace(url: str):
    from batches.models import Workspace

    ws = Workspace(name="bench", base_url=url)
    ws.set_api_key(BENCH_KEY)
    ws.save()
    return ws


def _start_workers(processes: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": BENCH_DATABASE_URL, "CELERY_BROKER_URL": BENCH_BROKER_URL,
           "LOG_LEVEL": "WARNING", "ANTHROPIC_API_KEY": ""}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues=ingest", "--pool=prefork",
         f"--concurrency={processes}", "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def _warm(url: str) -> None:
    """One metadata pass before any is timed, as write_limit ingests its batch once first: a process's first pass
    pays for its first listing (the emulator's, the SDK's types, the queries' first compiling), 0.82 s against
    0.30 s for 1,000 batches, and only the first run (one worker) paid it."""
    from batches.services import sync

    _fresh_tables()
    sync.sync_workspace(_workspace(url).pk, full=True)


def first_sync(url: str, processes: int, batches: int) -> dict:
    from batches import tasks
    from batches.models import Batch, Result
    from batches.services import sync

    _fresh_tables()
    ws = _workspace(url)
    control(url, "POST", "reset_calls", {})
    workers = _start_workers(processes)
    time.sleep(4)  # the worker processes are up before the clock starts
    try:
        start = time.perf_counter()
        sync.sync_workspace(ws.pk, full=True)
        tasks.queue_ingests(ws.pk)
        pass_seconds = time.perf_counter() - start
        while Batch.objects.filter(workspace=ws, results_ingested_at=None).exists():
            time.sleep(0.25)
        seconds = time.perf_counter() - start
    finally:
        workers.terminate()
        workers.wait(timeout=30)
    items = Result.objects.count()
    assert Batch.objects.filter(workspace=ws).count() == batches
    calls = control(url, "GET", "calls")
    return {"processes": processes, "seconds": seconds, "pass_seconds": pass_seconds, "items": items, "calls": calls}


def write_limit(url: str, items: int) -> tuple[float, float]:
    """(ingest seconds, bare COPY seconds) for the same `items` rows."""
    from django.db import connection

    from batches.models import Batch, Result, ResultChunk
    from batches.services import ingest, result_writer, sync

    _fresh_tables()
    ws = _workspace(url)
    batch_id = control(url, "POST", "seed_batch", {"api_key": BENCH_KEY, "n_requests": items, "status": "ended",
                                                    "line_bytes": 1200})["id"]  # fmt: skip
    sync.sync_workspace(ws.pk, full=True)
    ingest.ingest_batch(batch_id)  # warm the emulator's results cache and the table's pages
    Result.objects.filter(batch_id=batch_id).delete()
    ResultChunk.objects.filter(batch_id=batch_id).delete()
    Batch.objects.filter(pk=batch_id).update(results_ingested_at=None, items_ingested=0)
    start = time.perf_counter()
    report = ingest.ingest_batch(batch_id)
    ingest_seconds = time.perf_counter() - start
    assert report.complete and report.new_items == items, report
    # The same rows by the same COPY the ingest makes (result_writer.write_rows), with nothing else.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(result_writer.COLUMNS)} FROM batches_result WHERE batch_id = %s", [batch_id])
        rows = cursor.fetchall()
        cursor.execute("DELETE FROM batches_result WHERE batch_id = %s", [batch_id])
    start = time.perf_counter()
    result_writer.write_rows(rows, copy=True, skip_stored=False)
    copy_seconds = time.perf_counter() - start
    return ingest_seconds, copy_seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--copy-items", type=int, default=100_000)
    parser.add_argument(
        "--results-delay-ms",
        type=float,
        default=0.0,
        help="each results download answered this much later, as from a remote API (0: loopback)",
    )
    args = parser.parse_args()
    os.environ["CELERY_BROKER_URL"] = BENCH_BROKER_URL
    setup_django()
    import redis

    redis.Redis.from_url(BENCH_BROKER_URL).flushdb()  # the bench's own Redis database: no stale tasks
    with emulator_process() as url:
        control(url, "POST", "seed_batch", {"api_key": BENCH_KEY, "n_requests": args.items, "status": "ended",
                                            "count": args.batches})  # fmt: skip
        if args.results_delay_ms:
            control(url, "POST", "faults", {"op": "results", "delay": args.results_delay_ms / 1000, "times": -1})
        _warm(url)
        runs = [first_sync(url, n, args.batches) for n in args.workers]
        control(url, "DELETE", "faults")  # the write limit is measured on loopback, as it always was
        ingest_s, copy_s = write_limit(url, args.copy_items)
    base = runs[0]["seconds"]
    total = args.batches * args.items
    delay = f", each results download {args.results_delay_ms:g} ms later" if args.results_delay_ms else ""
    print(f"First sync of {args.batches:,} ended batches of {args.items} results ({total:,} items), PostgreSQL + Redis"
          f"{delay}")  # fmt: skip
    print(f"{'workers':>8} {'wall s':>8} {'pass s':>7} {'items/s':>9} {'list':>5} {'retrieve':>9} {'results':>8} "
          f"{'vs 1 worker':>12}")  # fmt: skip
    for run in runs:
        calls = run["calls"]
        print(f"{run['processes']:>8} {run['seconds']:>8.1f} {run['pass_seconds']:>7.1f} "
              f"{run['items'] / run['seconds']:>9,.0f} {calls['list']:>5} {calls['retrieve']:>9} "
              f"{calls['results']:>8} {run['seconds'] / base:>12.2f}")  # fmt: skip
    print(
        f"\nWrite limit: {args.copy_items:,} results ingested in {ingest_s:.2f} s; the same rows by one bare COPY "
        f"in {copy_s:.2f} s; ingest / COPY = {ingest_s / copy_s:.2f}"
    )
    # The goal (issue 24): batches of --items within 3x of one large batch's items/s, one worker.
    large = args.copy_items / ingest_s
    print(
        f"One large batch: {large:,.0f} items/s; batches of {args.items} on one worker: "
        f"{runs[0]['items'] / base:,.0f} items/s, {large / (runs[0]['items'] / base):.1f}x slower (goal: at most 3x)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
