"""A steady-state sync pass over a workspace with 10,000 known ended batches and 5 running.

    .venv/bin/python bench/sync_pass.py [--ended 10000] [--running 5] [--passes 5]

Prints the API calls one pass makes (target: 1 list + 5 retrieves at most) and its wall time
(target: under 1 s), median of --passes passes, on PostgreSQL.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from common import BENCH_KEY, control, emulator_process, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ended", type=int, default=10_000)
    parser.add_argument("--running", type=int, default=5)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from batches.models import Batch, Workspace
    from batches.services.sync import sync_workspace

    with connection.cursor() as cursor:  # a dedicated database: start from empty tables
        cursor.execute("TRUNCATE batches_result, batches_resultchunk, batches_batch, batches_workspace CASCADE")
    with emulator_process() as url:
        now = datetime.now(UTC)
        # Running batches older than the newest 100 ended ones: the first list page does not show
        # them, so each costs its own retrieve (the worst case for a steady-state pass).
        for _ in range(args.running):
            control(url, "POST", "seed_batch", {"api_key": BENCH_KEY, "n_requests": 100, "status": "in_progress",
                                                "created_at": (now - timedelta(hours=20)).isoformat(),
                                                "duration": 86000})  # fmt: skip
        control(url, "POST", "seed_batch", {"api_key": BENCH_KEY, "count": args.ended, "n_requests": 10,
                                            "status": "ended", "spacing": 5})  # fmt: skip
        ws = Workspace(name="bench", base_url=url)
        ws.set_api_key(BENCH_KEY)
        ws.save()
        # Set-up, not measured: the first (full) pass mirrors the history; mark the ended batches
        # ingested so the measured passes are the steady state of a workspace with a long history.
        from batches.services import sync

        sync._list(ws, ws.credentials, sync.SyncReport("bench", full=True))
        Batch.objects.filter(processing_status="ended").update(results_ingested_at=timezone.now())
        Workspace.objects.filter(pk=ws.pk).update(last_full_sync_at=timezone.now())
        assert Batch.objects.count() == args.ended + args.running

        times, calls = [], []
        for _ in range(args.passes):
            control(url, "POST", "reset_calls", {})
            start = time.perf_counter()
            sync_workspace(ws.pk)
            times.append(time.perf_counter() - start)
            calls.append({k: v for k, v in control(url, "GET", "calls").items() if v})
    print(f"known ended batches: {args.ended}, running: {args.running}")
    print(f"API calls per pass: {calls[-1]}  (every pass: {calls})")
    print(f"wall time per pass: median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {args.passes} passes")  # fmt: skip


if __name__ == "__main__":
    main()
