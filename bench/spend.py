"""Server time of the spend page and its CSV export over 1,000,000 results in PostgreSQL.

    .venv/bin/python bench/spend.py [--items 1000000 --batches 10000] [--runs 30] [--reuse]

Loads the data of bench/pages.py (COPY, 10,000 batches over 60 days), then varies it the way spend
varies: five models (one with no price), prompt caching on a third of the items (reads, 5-minute and
1-hour writes), eight submitters, a budget per workspace. It rolls the usage up with
`manage.py roll_up_spend`, as ingest does batch by batch, and renders each report --runs times after
3 warm-ups with Django's test client as a superuser. Prints median and p95 server time, SQL queries
and their time, rows in the table, and PASS/FAIL against a 100 ms median. --reuse measures the data a
previous run loaded and rolled up.
"""

from __future__ import annotations

import io
import time
from datetime import timedelta
from decimal import Decimal

from common import setup_django
from pages import CHANGELIST, MODEL, arguments, load, report, superuser_client

TARGET_MS = 100
SUBMITTERS = 8
# One batch in five per model; the last has no price, so the report's unpriced path is measured too.
MODELS = [MODEL, "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001", "claude-3-5-haiku-20241022",
          "claude-experimental-bench"]  # fmt: skip


def vary(cursor) -> None:
    """Spread the loaded results over models, caching and submitters with three UPDATEs."""
    from django.contrib.auth.models import User

    users = [User.objects.get_or_create(username=f"lead-{n}")[0].pk for n in range(SUBMITTERS)]
    cursor.execute(
        "UPDATE batches_batch SET submitted_by_id = (%s::int[])[1 + abs(hashtext(id)) %% %s]"
        " WHERE abs(hashtext(id)) %% 10 <> 0",  # a tenth were submitted outside the dashboard
        [users, len(users)],
    )
    # Each batch runs one model, and one batch in six mixes in a second: rollups are per batch and model.
    cursor.execute(
        "UPDATE batches_result SET model = (%s::text[])[1 + (abs(hashtext(batch_id)) + "
        "  CASE WHEN abs(hashtext(batch_id)) %% 6 = 0 THEN line_index %% 2 ELSE 0 END) %% %s],"
        " cache_read_input_tokens = CASE WHEN line_index %% 3 = 0 THEN input_tokens * 4 ELSE 0 END,"
        " cache_creation_input_tokens = CASE WHEN line_index %% 3 = 1 THEN input_tokens * 2 ELSE 0 END,"
        " cache_creation_5m_input_tokens = CASE WHEN line_index %% 6 = 1 THEN input_tokens * 2 ELSE 0 END,"
        " cache_creation_1h_input_tokens = CASE WHEN line_index %% 6 = 4 THEN input_tokens * 2 ELSE 0 END"
        " WHERE result_type = 'succeeded'",
        [MODELS, len(MODELS)],
    )
    cursor.execute("VACUUM ANALYZE batches_result")


def add_budgets() -> None:
    """A budget per workspace, so every page also sums this month for the header (and warns)."""
    from batches.models import Budget, Workspace

    for n, ws in enumerate(Workspace.objects.order_by("pk")):
        Budget.objects.update_or_create(workspace=ws, defaults={"monthly_amount": Decimal(200 * (n + 1))})


def rows_shown(url: str, body: bytes) -> int | None:
    if url.startswith("/spend/export"):
        return body.count(b"\n") - 2  # less the header and the totals
    if url.startswith("/spend/"):
        table = body.partition(b'<table class="spend')[2].partition(b"</tbody>")[0]  # "spend cards" now
        return table.count(b"<tr>") - 1 - table.count(b'class="empty"')  # less the heading, or "No usage"
    return None


def main() -> None:
    args = arguments()
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from batches.models import Result, UsageRollup

    if not args.reuse:
        start = time.perf_counter()
        load(args.batches, args.items)
        with connection.cursor() as cursor:
            vary(cursor)
        print(f"loaded {args.batches:,} batches and {args.items:,} results in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        call_command("roll_up_spend", stdout=io.StringIO())
        print(f"rolled up in {time.perf_counter() - start:.1f} s")
        add_budgets()
        with connection.cursor() as cursor:
            # What autovacuum does as ingests add rows (stale counts plan a sort that spills to disk). Not the
            # budget table: autovacuum never analyzes a table of a few rows, so production plans without it.
            cursor.execute("ANALYZE batches_usagerollup")
    print(f"{Result.objects.count():,} results -> {UsageRollup.objects.count():,} usage rows")

    client = superuser_client()
    today = timezone.now().date()
    span = f"from={(today - timedelta(days=61)).isoformat()}&to={today.isoformat()}"
    pages = [
        ("default: 30 days by workspace", "/spend/"),
        ("62 days, day x workspace", f"/spend/?period=day&group=workspace&{span}"),
        ("62 days, day x model", f"/spend/?period=day&group=model&{span}"),
        ("62 days, day x submitter", f"/spend/?period=day&group=submitter&{span}"),
        ("62 days, week x model", f"/spend/?period=week&group=model&{span}"),
        ("62 days, month x submitter", f"/spend/?period=month&group=submitter&{span}"),
        ("62 days, one workspace, day", f"/spend/?period=day&group=none&workspace=research&{span}"),
        ("CSV, 62 days, day x model", f"/spend/export.csv?period=day&group=model&{span}"),
        ("batch list (costs, budgets)", "/"),
    ]
    report(client, pages, args.runs, TARGET_MS, rows=rows_shown, reference=CHANGELIST)


if __name__ == "__main__":
    main()
