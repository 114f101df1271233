"""Server time of the dashboard's pages at 10,000 batches and 1,000,000 results in PostgreSQL.

    .venv/bin/python bench/pages.py [--items 1000000 --batches 10000] [--runs 30]

Loads the data with COPY (no emulator), then renders each page --runs times after 3 warm-ups with
Django's test client, logged in as a superuser. Prints median and p95 server time, SQL queries per
page and their time on one more request, PASS/FAIL against a 50 ms median, and for each page that
fails the plan of its slowest query, and each page's ratio to the Django admin's changelist of the same
batches, whose requests alternate with the page's. --reuse measures the data a previous run loaded.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date, timedelta

import zstandard
from common import setup_django

TARGET_MS = 50
CHANGELIST = ("admin batch changelist", "/admin/batches/batch/")  # the reference each page is measured beside
WARMUPS = 3
BIG_ITEMS = 100_000
CHUNK_LINES = 2_000  # as the ingest writes them
MODEL = "claude-sonnet-4-5-20250929"
ERROR_TYPES = (
    "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
    "rate_limit_error", "timeout_error", "api_error", "overloaded_error",
)  # fmt: skip
ERROR_MESSAGES = {t: t.replace("_", " ").capitalize() for t in ERROR_TYPES} | {"overloaded_error": "Overloaded"}
BATCH_COLUMNS = [
    "id", "workspace_id", "processing_status", "processing_count", "succeeded_count", "errored_count",
    "canceled_count", "expired_count", "created_at", "expires_at", "ended_at", "cancel_initiated_at", "archived_at",
    "results_url", "label", "first_seen_at", "refreshed_at", "gone_from_api_at", "results_ingested_at",
    "results_unavailable_at", "results_unavailable_reason", "items_ingested", "malformed_count", "ingest_attempts",
    "ingest_error", "submitted_by_id", "request_total", "model", "ingest_lease_token", "ingest_failures",
    "ingest_error_type", "ingest_error_permanent", "notify_end",
]  # fmt: skip
RESULT_COLUMNS = [
    "batch_id", "chunk_id", "line_index", "custom_id", "result_type", "error_type", "error_message", "request_id",
    "message_id", "model", "stop_reason", "input_tokens", "output_tokens", "cache_creation_input_tokens",
    "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens", "cache_read_input_tokens",
    "web_search_requests", "web_fetch_requests", "service_tier",
]  # fmt: skip
SUCCEEDED_LINE = (
    '{{"custom_id":"{cid}","result":{{"type":"succeeded","message":{{"id":"{mid}","type":"message",'
    '"role":"assistant","model":"' + MODEL + '","content":[{{"type":"text","text":"Summary of {cid}: the document '
    'describes a routine quarterly report."}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{'
    '"input_tokens":{inp},"output_tokens":{out},"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
    '"service_tier":"batch"}}}}}}}}'
)
ERRORED_LINE = (
    '{{"custom_id":"{cid}","result":{{"type":"errored","error":{{"type":"error","error":{{"type":"{et}",'
    '"message":"{em}"}},"request_id":"{rid}"}}}}}}'
)
OTHER_LINE = '{{"custom_id":"{cid}","result":{{"type":"{rt}"}}}}'


def rebuild_schema() -> None:
    """Recreate the batches_* tables from the current migrations: they are still edited in place, so a
    database migrated earlier keeps stale tables and indexes that would make the figures meaningless."""
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'batches\\_%'")
        for (table,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
        cursor.execute("DELETE FROM django_migrations WHERE app = 'batches'")
    call_command("migrate", verbosity=0)


def plan_batches(n_batches: int, n_items: int, rng: random.Random, now) -> tuple[list[dict], dict]:
    """Batches over 60 days, newest first; the ingested ones share the items, one big one takes 100,000."""
    from batches.models import RESULTS_RETENTION, Workspace

    workspaces = []
    for name in ("research", "support-triage", "evals"):
        ws = Workspace(name=name, last_synced_at=now)
        ws.set_api_key(f"sk-ant-bench-{name}")
        ws.save()
        workspaces.append(ws.pk)
    plan = []
    for i in range(n_batches):
        created = now - timedelta(days=60) * (i + rng.random()) / n_batches
        b = dict.fromkeys(BATCH_COLUMNS, "") | dict.fromkeys(BATCH_COLUMNS[3:8], 0)
        b |= {"id": f"msgbatch_01{i:06d}{rng.getrandbits(64):016x}", "workspace_id": rng.choice(workspaces),
              "processing_status": "ended", "created_at": created, "expires_at": created + timedelta(days=1),
              "first_seen_at": created, "refreshed_at": now, "items_ingested": 0, "malformed_count": 0,
              "ingest_attempts": 1, "label": f"nightly-eval-{i % 40}" if i % 3 else ""}  # fmt: skip
        b |= dict.fromkeys(["ended_at", "cancel_initiated_at", "archived_at", "gone_from_api_at",
                            "results_ingested_at", "results_unavailable_at", "submitted_by_id"])  # fmt: skip
        b |= {"model": MODEL, "ingest_failures": 0, "ingest_error_permanent": False, "notify_end": False}
        b["size"] = int(rng.lognormvariate(4, 1)) + 1
        if now - created < timedelta(hours=4):
            b["processing_status"] = "canceling" if rng.random() < 0.15 else "in_progress"
            b["cancel_initiated_at"] = now if b["processing_status"] == "canceling" else None
            done = int(b["size"] * (now - created) / timedelta(hours=4))
            b["succeeded_count"], b["processing_count"] = done, b["size"] - done
        else:
            b["ended_at"] = min(now, created + timedelta(minutes=rng.uniform(10, 20 * 60)))
            if now - created > RESULTS_RETENTION and rng.random() < 0.15:
                b["results_unavailable_at"] = created + RESULTS_RETENTION
                b["results_unavailable_reason"] = "results expired 29 days after the batch was created"
                b["succeeded_count"] = b["size"]
            else:
                b["results_ingested_at"] = b["ended_at"] + timedelta(seconds=30)
                b["canceled_at_item"] = int(b["size"] * rng.random()) if rng.random() < 0.02 else None
                if b["canceled_at_item"] is not None:
                    b["cancel_initiated_at"] = b["ended_at"] - timedelta(minutes=5)
        plan.append(b)
    ingested = [b for b in plan if b["results_ingested_at"]]
    big = ingested[len(ingested) // 20]  # about three days old
    others = [b for b in ingested if b is not big]
    scale = (n_items - BIG_ITEMS) / sum(b["size"] for b in others)
    for b in others:
        b["size"] = max(1, int(b["size"] * scale))
    others[0]["size"] += n_items - BIG_ITEMS - sum(b["size"] for b in others)
    big |= {"size": BIG_ITEMS, "label": "support-tickets-backfill", "canceled_at_item": None}
    return plan, big


def result_rows(b: dict, rng: random.Random, big: bool, chunks: list[tuple], chunk_id: int, counts: dict):
    """Yield the Result rows of one batch; append its ResultChunks (valid JSONL) and count its errors."""
    lines = []
    for n in range(b["size"]):
        cid, r = f"ticket-{n:06d}", rng.random()
        if n % CHUNK_LINES == 0:
            chunk_id += 1
        row = [b["id"], chunk_id, n % CHUNK_LINES, cid]
        if b["canceled_at_item"] is not None and n >= b["canceled_at_item"]:
            row += ["canceled", "", "", "", "", "", "", 0, 0]
            lines.append(OTHER_LINE.format(cid=cid, rt="canceled"))
        elif r < (0.13 if big else 0.03):
            et = "overloaded_error" if big and r < 0.10 else rng.choice(ERROR_TYPES)
            rid = f"req_011C{rng.getrandbits(64):016x}"
            row += ["errored", et, ERROR_MESSAGES[et], rid, "", "", "", 0, 0]
            lines.append(ERRORED_LINE.format(cid=cid, et=et, em=ERROR_MESSAGES[et], rid=rid))
            counts[b["id"], et] = counts.get((b["id"], et), 0) + 1
        else:
            mid, inp, out = f"msg_01{rng.getrandbits(64):016x}", 300 + int(r * 2000), 50 + n % 700
            row += ["succeeded", "", "", "", mid, MODEL, "end_turn", inp, out]
            lines.append(SUCCEEDED_LINE.format(cid=cid, mid=mid, inp=inp, out=out))
        b[f"{row[4]}_count"] += 1
        yield (*row, 0, 0, 0, 0, 0, 0, "batch" if row[4] == "succeeded" else "")
        if len(lines) == CHUNK_LINES or n == b["size"] - 1:
            raw = "\n".join(lines).encode()
            packed = zstandard.ZstdCompressor(level=1).compress(raw)  # as the ingest packs them
            chunks.append((chunk_id, b["id"], packed, len(lines), len(raw)))
            lines = []


def load(n_batches: int, n_items: int) -> str:
    from django.db import connection, transaction
    from django.utils import timezone

    from batches.models import Batch, Result

    rng, now = random.Random(20251122), timezone.now()
    rebuild_schema()
    with transaction.atomic(), connection.cursor() as cursor:
        plan, big = plan_batches(n_batches, n_items, rng, now)
        chunks: list[tuple] = []
        counts: dict[tuple[str, str], int] = {}
        result_extra, result_defaults = model_defaults(Result, RESULT_COLUMNS)
        with cursor.cursor.copy(f"COPY batches_result ({', '.join(RESULT_COLUMNS + result_extra)}) FROM STDIN") as copy:
            for b in plan:
                if b["results_ingested_at"]:
                    for row in result_rows(b, rng, b is big, chunks, chunks[-1][0] if chunks else 0, counts):
                        copy.write_row((*row, *result_defaults))
                    b["items_ingested"] = b["size"]
        copy_rows(cursor, "batches_resultchunk", ["id", "batch_id", "data", "line_count", "raw_bytes"], chunks)
        for b in plan:
            b["request_total"] = sum(b[f"{k}_count"] for k in ("processing", "succeeded", "errored", "canceled",
                                                               "expired"))  # fmt: skip
        batch_extra, batch_defaults = model_defaults(Batch, BATCH_COLUMNS)
        copy_rows(cursor, "batches_batch", BATCH_COLUMNS + batch_extra,
                  [[*(b[c] for c in BATCH_COLUMNS), *batch_defaults] for b in plan])  # fmt: skip
        workspace_of = {b["id"]: b["workspace_id"] for b in plan}
        error_counts = [
            (batch_id, workspace_of[batch_id], error_type, n) for (batch_id, error_type), n in counts.items()
        ]
        copy_rows(cursor, "batches_errorcount", ["batch_id", "workspace_id", "error_type", "count"], error_counts)
        cursor.execute("SELECT setval(pg_get_serial_sequence('batches_resultchunk', 'id'), %s)", [len(chunks)])
    with connection.cursor() as cursor:
        # VACUUM too, not ANALYZE alone: since PostgreSQL 13 autovacuum vacuums a table that only grows, which
        # sets its visibility map, and index-only scans then skip the heap. Measured right after a COPY, before
        # that, the retry plan read 10,323 heap pages it reads none of on a normal day (72 ms against 51 ms).
        cursor.execute("VACUUM ANALYZE")
    return big["id"]


def model_defaults(model, columns: list[str]) -> tuple[list[str], list]:
    """The model's other required columns and their defaults: columns added since this loader was written
    (prices, results and SDK fields of other changes) take the value a new row gets, so the load keeps working."""
    from psycopg.types.json import Jsonb

    fields = model._meta.concrete_fields
    extra = [f for f in fields if f.column not in columns and not f.null and f is not model._meta.pk]
    values = [Jsonb(f.get_default()) if f.get_internal_type() == "JSONField" else f.get_default() for f in extra]
    return [f.column for f in extra], values


def copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def measure(
    client, url: str, runs: int, beside: str | None = None, cold: bool = False
) -> tuple[list[float], list[dict], bytes, list[float]]:
    """Server times of `runs` requests after the warm-ups, then the queries and body of one more: counted
    on a run of their own, so recording them does not weigh on the times. A streamed body is read to its
    end inside the time, as a browser would. With `beside` (the reference's URL), each request of the page
    follows one of the reference, so both meet the same load on this shared machine: their times come last.
    `cold` empties the cache before each timed request (untimed): a first view, as after a change."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def get(path: str) -> bytes:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return b"".join(response.streaming_content) if response.streaming else response.content

    def timed(path: str) -> float:
        if cold:
            cache.clear()
        start = time.perf_counter()
        get(path)
        return (time.perf_counter() - start) * 1000

    for _ in range(WARMUPS):
        get(url)
        if beside:
            get(beside)
    times, reference = [], []
    for _ in range(runs):
        if beside:
            reference.append(timed(beside))
        times.append(timed(url))
    with CaptureQueriesContext(connection) as ctx:
        body = get(url)
    return times, ctx.captured_queries, body, reference


def report(
    client, pages: list[tuple[str, str]], runs: int, target_ms: float, rows=None, reference=None, cold: bool = False
) -> None:
    """Print each page's median, p95, queries and SQL time with PASS/FAIL against the target, then the
    slowest query's plan for each page that fails. `rows(url, body)`, if given, adds the rows shown;
    `reference` (a name and a URL), the reference's median measured beside each page (its requests
    alternate with the page's) and the ratio of the page's median to it. `cold`: see `measure`."""
    print(f"{runs} requests per page after {WARMUPS} warm-ups{', each with the cache emptied' if cold else ''}\n")
    if reference:
        print(f"reference: {reference[0]} ({reference[1]}), measured beside each page\n")
    ratio_head = " ref ms vs ref" if reference else ""
    print(f"{'page':<34} {'median ms':>9} {'p95 ms':>7} {'queries':>7} {'SQL ms':>6}{' rows' if rows else ''}"
          f"{ratio_head}  result")  # fmt: skip
    failed = []
    for name, url in pages:
        times, queries, body, beside = measure(client, url, runs, reference[1] if reference else None, cold)
        median, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
        verdict = "PASS" if median < target_ms else "FAIL"
        sql_ms = sum(float(q["time"]) for q in queries) * 1000
        n = rows(url, body) if rows else None
        shown = f" {'' if n is None else n:>4}" if rows else ""
        base = statistics.median(beside) if beside else None
        ratio = f" {base:>6.1f} {median / base:>6.2f}" if base else ""
        print(f"{name:<34} {median:>9.1f} {p95:>7.1f} {len(queries):>7} {sql_ms:>6.0f}{shown}{ratio}  {verdict}")
        if verdict == "FAIL":
            failed.append((name, url, queries))
    for name, url, queries in failed:
        print(f"\n{name} ({url}) misses {target_ms} ms:")
        explain_slowest(queries)


def explain_slowest(queries: list[dict]) -> None:
    from django.db import connection

    slowest = max(queries, key=lambda q: float(q["time"]))
    print(f"\n  slowest query ({float(slowest['time']) * 1000:.1f} ms of {len(queries)}):\n  {slowest['sql']}")
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {slowest['sql']}")
        print("\n".join("    " + line for (line,) in cursor.fetchall()))


def arguments() -> argparse.Namespace:
    """The options of the page benchmarks, which measure the same data."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure the data a previous run loaded")
    parser.add_argument("--cold", action="store_true", help="empty the cache before each request: first views")
    parser.add_argument("--only", default="", help="only the pages whose name starts with this")
    return parser.parse_args()


def superuser_client():
    """A test client logged in as a superuser: every page, and the spend and budget figures, are shown."""
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True, "is_superuser": True})
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def main() -> None:
    args = arguments()
    setup_django()
    from batches.models import Batch, ErrorCount
    from batches.services import tally
    from dashboard.queries import PAGE_SIZE

    if args.reuse:
        big = Batch.objects.order_by("-items_ingested").values_list("id", flat=True)[0]
    else:
        start = time.perf_counter()
        big = load(args.batches, args.items)
        print(f"loaded {args.batches:,} batches and {args.items:,} results in {time.perf_counter() - start:.1f} s")

    # The batch tally as beat leaves it every minute (tally.compact): a load by COPY adds a +1 row a batch, and the
    # list's tab counts then summed a million rows (70 ms).
    tally.compact()
    last_page = -(-Batch.objects.count() // PAGE_SIZE)
    month_ago = (date.today() - timedelta(days=30)).isoformat()
    client = superuser_client()
    label = Batch.objects.exclude(label="").values_list("label", flat=True).first()
    pages = [
        ("batch list", "/"),
        ("batch list, last page", f"/?page={last_page}"),
        ("batch list, ended with errors tab", "/?status=errors"),
        ("batch list, by duration", "/?sort=-duration"),
        ("batch list, search a label", f"/?q={label}"),
        ("batch list, search a custom_id", "/?q=ticket-054321"),
        ("batch list, search part of an id", f"/?q={big[-10:]}"),
        ("batch detail", f"/batches/{big}/"),
        ("items overloaded_error, first", f"/batches/{big}/?error_type=overloaded_error"),
        ("items overloaded_error, last", f"/batches/{big}/?error_type=overloaded_error&last=1"),
        ("items custom_id search", f"/batches/{big}/?q=ticket-0987"),
        ("one result", f"/batches/{big}/results/ticket-054321/"),
        ("errors", "/errors/"),
        ("errors, one workspace, 30 days", f"/errors/?workspace=research&created_from={month_ago}"),
        ("retry: choose", "/retry/"),
        ("retry plan, workspace, retryable", "/retry/?workspace=evals&kind=retryable"),
        ("audit log", "/audit/"),
    ]
    overloaded = ErrorCount.objects.get(batch_id=big, error_type="overloaded_error").count
    print(f"big batch {big}: {overloaded:,} overloaded_error items")
    # The Django admin's own changelist of the same batches, beside each page: the pages should not cost more.
    pages = [(name, url) for name, url in pages if name.startswith(args.only)]
    report(client, pages, args.runs, TARGET_MS, reference=CHANGELIST, cold=args.cold)


if __name__ == "__main__":
    main()
