"""Ingest of one ended batch (100,000 results of ~1.2 KB) from the emulator into PostgreSQL, beside two
references measured in the same run: the time the official SDK takes merely to iterate `results()` over the
same batch, and one bare COPY of the same rows into the same table (no HTTP, parsing, compression).

    .venv/bin/python bench/ingest.py [--items 100000] [--small 10000] [--line-bytes 1200] [--text lorem|prose]

Prints wall time, items/s and peak RSS of each, the ratios ingest/SDK (target <= 0.5) and ingest/COPY
(target <= 1.5), the peak RSS at --small items for comparison, the bytes kept per item, and the disk per
result against the gzip of the raw JSONL (the results as the API sent them, gzip level 6). `--text prose` pads the
emulator's lines with English-like text that gzip compresses about 3× (the default, lorem, repeats one sentence
and compresses some 20×), for a disk ÷ gzip that stands for real answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib

from common import BENCH_KEY, control, emulator_process, peak_rss_mb, run_child, setup_django


def child(mode: str, url: str, batch_id: str) -> dict:
    if mode == "sdk":
        import anthropic

        client = anthropic.Anthropic(api_key=BENCH_KEY, base_url=url, max_retries=0)
        start = time.perf_counter()
        n = sum(1 for _ in client.messages.batches.results(batch_id))
        return {"items": n, "seconds": time.perf_counter() - start, "rss_mb": peak_rss_mb()}
    setup_django()
    from django.db import connection

    from batches import result_lines
    from batches.models import Batch, Result, Workspace
    from batches.services import ingest, sync

    with connection.cursor() as cursor:  # a dedicated database: start each run from empty tables
        cursor.execute("TRUNCATE batches_result, batches_resultchunk, batches_batch, batches_workspace CASCADE")
    ws = Workspace(name="bench", base_url=url)
    ws.set_api_key(BENCH_KEY)
    ws.save()
    sync.sync_workspace(ws.pk, full=True)  # mirrors the batch; the sync never ingests (that is measured)
    batch = Batch.objects.get(pk=batch_id)
    from config.celery import settle_heap

    settle_heap()  # as a worker does once it has started, before its first task
    start = time.perf_counter()
    report = ingest.ingest_batch(batch_id)
    seconds = time.perf_counter() - start
    rss_mb = peak_rss_mb()  # before the measuring queries below
    assert report.complete, report
    with connection.cursor() as cursor:
        cursor.execute("SELECT SUM(octet_length(data)) FROM batches_resultchunk WHERE batch_id = %s", [batch_id])
        kept = cursor.fetchone()[0]
        # Whole tables (with their indexes and TOAST), over every result in them: the database may hold an
        # earlier run's batch too.
        cursor.execute("SELECT pg_total_relation_size('batches_result'), pg_total_relation_size('batches_resultchunk')")
        table_bytes, chunk_bytes = cursor.fetchone()
        # The raw JSONL as the API sent it, gzipped: what a download of the results would weigh.
        cursor.execute("SELECT data FROM batches_resultchunk WHERE batch_id = %s ORDER BY id", [batch_id])
        packer, gzipped = zlib.compressobj(6, zlib.DEFLATED, 31), 0  # 31: the gzip format
        for (data,) in cursor.fetchall():
            gzipped += len(packer.compress(b"\n".join(result_lines.unpack(data)) + b"\n"))
        gzipped += len(packer.flush())
    stored = Result.objects.count()
    items = Result.objects.filter(batch=batch).count()
    return {
        "items": items, "seconds": seconds, "rss_mb": rss_mb, "copy_seconds": _bare_copy(batch_id),
        "raw_bytes_per_item": kept / report.new_items, "row_bytes_per_item": table_bytes / stored,
        "disk_mb_per_million": (table_bytes + chunk_bytes) / stored,  # bytes per item = MB per million items
        "gzip_bytes_per_item": gzipped / items,
    }  # fmt: skip


def _bare_copy(batch_id: str) -> float:
    """Seconds to load the batch's stored rows back into the same table by the same COPY the ingest makes
    (result_writer.write_rows), with nothing else."""
    from django.db import connection

    from batches.services import result_writer

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(result_writer.COLUMNS)} FROM batches_result WHERE batch_id = %s", [batch_id])
        rows = cursor.fetchall()
        cursor.execute("DELETE FROM batches_result WHERE batch_id = %s", [batch_id])
        cursor.execute("VACUUM batches_result")  # the deleted rows' space is free again, as for the ingest
    start = time.perf_counter()
    result_writer.write_rows(rows, copy=True, skip_stored=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--line-bytes", type=int, default=1200)
    parser.add_argument("--text", choices=("lorem", "prose"), default="lorem")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    with emulator_process() as url:
        rows = {}
        for n in (args.small, args.items):
            batch_id = control(url, "POST", "seed_batch",
                               {"api_key": BENCH_KEY, "n_requests": n, "status": "ended",
                                "line_bytes": args.line_bytes, "text": args.text})["id"]  # fmt: skip
            run_child(__file__, "sdk", url, batch_id)  # warm the emulator's results cache
            sdk = run_child(__file__, "sdk", url, batch_id)
            ingest = run_child(__file__, "ingest", url, batch_id)
            assert sdk["items"] == ingest["items"] == n, (sdk, ingest)
            rows[n] = (sdk, ingest)
    print(f"{'items':>8} {'SDK iterate s':>14} {'COPY s':>7} {'ingest s':>9} {'/SDK':>5} {'/COPY':>6} "
          f"{'ingest items/s':>15} {'SDK RSS MB':>11} {'ingest RSS MB':>14} {'raw B/item':>11} {'row B/item':>11} "
          f"{'disk MB/million':>16} {'gzip B/item':>12} {'disk/gzip':>10}")  # fmt: skip
    for n, (sdk, ing) in rows.items():
        print(f"{n:>8} {sdk['seconds']:>14.2f} {ing['copy_seconds']:>7.2f} {ing['seconds']:>9.2f} "
              f"{ing['seconds'] / sdk['seconds']:>5.2f} {ing['seconds'] / ing['copy_seconds']:>6.2f} "
              f"{n / ing['seconds']:>15,.0f} {sdk['rss_mb']:>11.0f} {ing['rss_mb']:>14.0f} "
              f"{ing['raw_bytes_per_item']:>11.0f} {ing['row_bytes_per_item']:>11.0f} "
              f"{ing['disk_mb_per_million']:>16,.0f} {ing['gzip_bytes_per_item']:>12.0f} "
              f"{ing['disk_mb_per_million'] / ing['gzip_bytes_per_item']:>10.1f}")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
