"""The batch list: filters in the URL, live rows while something runs, a constant number of queries."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batches.models import Batch
from batches.services import sync
from tests.html import attribute, element, elements, text


def test_it_lists_every_batch_with_its_counts(viewer_client, mirrored):
    body = viewer_client.get("/").content.decode()
    for batch in ("ended", "running", "old"):
        assert mirrored[batch].id in body
    ended = mirrored["ended"]
    # Of the 120 succeeded, those cut off at their max_tokens of 64 are drawn (and counted) apart as incomplete.
    whole, incomplete = ended.succeeded_count - ended.incomplete_count, ended.incomplete_count
    assert ended.succeeded_count == 120 and incomplete > 0
    assert f"{whole} succeeded" in body and f"{incomplete} incomplete" in body
    assert "3 canceled" not in body and "10 processing" in body


def test_running_rows_poll_and_stop_once_nothing_runs(viewer_client, mirrored, emulator):
    response = viewer_client.get("/")
    assert 'hx-trigger="every 5s' in response.content.decode()

    emulator.advance(3600)
    sync.catch_up(mirrored["workspace"].pk)
    # The poll itself: the server re-renders the rows without their trigger.
    poll = viewer_client.get("/", headers={"HX-Request": "true", "HX-Target": "batch-rows"})

    assert poll.status_code == 200
    html = poll.content.decode()
    assert html.lstrip().startswith("<tbody") and "<html" not in html
    rows, bar = html.split('<aside id="sync-health"')  # the health bar comes along, out of band
    assert "hx-trigger" not in rows and 'data-live="false"' in rows and 'hx-swap-oob="true"' in bar


def test_a_new_batch_appears_in_the_polled_rows(viewer_client, mirrored, emulator):
    new_id = emulator.seed_batch(mirrored["workspace"].test_api_key, 5, status="in_progress")
    sync.catch_up(mirrored["workspace"].pk)
    poll = viewer_client.get("/", headers={"HX-Request": "true"})
    assert new_id in poll.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=in_progress", {"running"}),
        ("status=ended", {"ended", "old"}),
        ("has_errors=on", {"ended"}),
        ("q={running_id_part}", {"running"}),
    ],
)
def test_filters_live_in_the_url(viewer_client, mirrored, query, expected):
    query = query.format(running_id_part=mirrored["running"].id[-10:])
    body = viewer_client.get(f"/?{query}").content.decode()
    shown = {name for name in ("ended", "running", "old") if mirrored[name].id in body}
    assert shown == expected


def test_the_expiring_filter_finds_batches_within_three_days_of_the_limit(viewer_client, mirrored):
    Batch.objects.filter(pk=mirrored["ended"].pk).update(created_at=timezone.now() - timedelta(days=27))
    body = viewer_client.get("/?expiring=on").content.decode()
    assert mirrored["ended"].id in body and mirrored["running"].id not in body and mirrored["old"].id not in body
    assert 'class="retention soon"' in body


def test_a_created_range_filter(viewer_client, mirrored):
    today = timezone.localdate()
    body = viewer_client.get(f"/?created_from={today - timedelta(days=1)}&created_to={today}").content.decode()
    assert mirrored["running"].id in body and mirrored["old"].id not in body


def test_results_past_the_limit_say_expired(viewer_client, mirrored):
    body = viewer_client.get(f"/?q={mirrored['old'].id}").content.decode()
    assert 'class="retention expired"' in body


def test_a_bad_filter_value_says_so_instead_of_failing(viewer_client, mirrored):
    response = viewer_client.get("/?created_from=yesterday&status=bogus")
    assert response.status_code == 200
    body = response.content.decode()
    assert "could not be read" in body and "created_from=yesterday" in body and "status=bogus" in body


@pytest.mark.parametrize("bad", ["sort=bogus", "created_from=2026-13-45"])
def test_a_bad_parameter_is_named_and_ignored_not_an_empty_list(viewer_client, mirrored, bad):
    """Issue 21, point 18: `?sort=bogus` showed an empty list without a word."""
    body = viewer_client.get(f"/?{bad}&status=in_progress").content.decode()
    assert _row_ids(body) == [mirrored["running"].id]  # the filters that could be read still apply
    warning = text(element(body, "p", class_="message warning"))
    assert bad in warning and "not filtered by it" in warning


def test_the_list_paginates(viewer_client, mirrored, emulator):
    emulator.seed_batches(mirrored["workspace"].test_api_key, 60, status="ended", n_requests=1,
                          created_at=emulator.now() - timedelta(days=40))  # fmt: skip
    sync.catch_up(mirrored["workspace"].pk, full=True)
    first = viewer_client.get("/").content.decode()
    second = viewer_client.get("/?page=2").content.decode()
    assert "Page 1 of 2" in first and "63 batches" in first and "Page 2 of 2" in second
    # The pager counts what the tab holds (it takes the tab's own count), and its last page holds the rest.
    ended = viewer_client.get("/?status=ended&page=2").content.decode()
    assert "Page 2 of 2" in ended and "62 batches" in ended and len(_row_ids(ended)) == 12
    running = viewer_client.get("/?status=in_progress").content.decode()
    assert "Page 1 of 1" in running and _row_ids(running) == [mirrored["running"].id]


def test_the_number_of_queries_does_not_grow_with_the_data(viewer_client, mirrored, emulator, viewer):
    Batch.objects.update(submitted_by=viewer, label="nightly run")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert viewer_client.get("/").status_code == 200
        return len(queries)

    before = count()
    emulator.seed_batches(mirrored["workspace"].test_api_key, 40, status="ended", n_requests=1,
                          created_at=emulator.now() - timedelta(days=40))  # fmt: skip
    sync.catch_up(mirrored["workspace"].pk, full=True)
    # session, user, its permissions (2), its workspace roles, the workspaces' versions, the status tabs' counts
    # from the tally (which the pager takes its count from), the page's ids, their rows (with workspace and
    # submitter), their costs, sync health, workspace filter.
    assert count() == before == 12


def _tab_counts(body: str) -> dict[str, int]:
    tabs = {}
    for link in elements(element(body, "nav", class_="tabs"), "a"):
        count = text(element(link, "span")).strip()
        tabs[text(link).strip().removesuffix(count).strip()] = int(count)
    return tabs


def test_the_tab_counts_come_from_the_tally_and_a_change_shows_at_once(viewer_client, mirrored, emulator):
    def page(query: str = "") -> tuple[dict[str, int], list[str]]:
        with CaptureQueriesContext(connection) as queries:
            body = viewer_client.get(f"/{query}").content.decode()
        return _tab_counts(body), [q["sql"] for q in queries]

    def scans(sql: list[str]) -> int:  # a count of every batch the tabs show, "retryable" among them
        return sum('AS "retryable"' in q and '"batches_batchtally"' not in q for q in sql)

    def tallied(sql: list[str]) -> int:
        return sum('AS "retryable"' in q and '"batches_batchtally"' in q for q in sql)

    first, first_sql = page()
    assert first == {"All": 3, "In progress": 1, "Canceling": 0, "Ended": 2, "Ended with errors": 1}
    assert scans(first_sql) == 0 and tallied(first_sql) == 1

    emulator.advance(3600)  # the running batch ends; the sync's UPDATE moves it between the tally's keys
    sync.catch_up(mirrored["workspace"].pk)
    moved, moved_sql = page()
    assert moved == {"All": 3, "In progress": 0, "Canceling": 0, "Ended": 3, "Ended with errors": 1}
    assert scans(moved_sql) == 0 and tallied(moved_sql) == 1

    # Another filter counts the batches it selects, once, then keeps that count until the versions move.
    filtered, filtered_sql = page("?created_from=2000-01-01")
    again, again_sql = page("?created_from=2000-01-01")
    assert filtered == again == moved
    assert (scans(filtered_sql), scans(again_sql), tallied(filtered_sql)) == (1, 0, 0)
    assert len(again_sql) == len(filtered_sql) - 1


def test_the_kept_tab_counts_follow_each_filter_and_each_users_workspaces(viewer_client, mirrored, client, make_user):
    assert _tab_counts(viewer_client.get("/").content.decode())["All"] == 3
    # Another filter is another count, not the one kept for the whole list.
    assert _tab_counts(viewer_client.get("/?has_errors=on").content.decode())["All"] == 1
    # Someone given another workspace only sees none of these, though the counts above are kept.
    from batches.models import Workspace, WorkspaceAccess

    other = Workspace.objects.create(name="elsewhere")
    outsider = make_user("outsider", "Viewer")
    WorkspaceAccess.objects.create(user=outsider, workspace=other, role="Viewer")
    client.force_login(outsider)
    assert _tab_counts(client.get("/").content.decode())["All"] == 0


def _row_ids(body: str) -> list[str]:
    return [
        attribute(row, "id").removeprefix("row-")
        for row in elements(body, "tr", **{"data-row": None})
        if attribute(row, "id")
    ]


def test_the_status_tabs_count_what_the_other_filters_leave(viewer_client, mirrored):
    body = viewer_client.get(f"/?workspace={mirrored['workspace'].name}").content.decode()
    assert _tab_counts(body) == {"All": 3, "In progress": 1, "Canceling": 0, "Ended": 2, "Ended with errors": 1}
    errors = viewer_client.get("/?status=errors").content.decode()
    assert _row_ids(errors) == [mirrored["ended"].id]
    assert attribute(element(element(errors, "nav", class_="tabs"), "a", **{"aria-current": "page"}), "href").endswith(
        "status=errors"
    )


@pytest.mark.parametrize("column", ["created", "ended", "status", "errors", "requests", "duration"])
def test_every_sortable_column_sorts_both_ways_and_says_so(viewer_client, mirrored, column):
    for sort, aria in ((f"-{column}", "descending"), (column, "ascending")):
        body = viewer_client.get(f"/?sort={sort}").content.decode()
        header = next(th for th in elements(body, "th") if attribute(th, "aria-sort"))
        assert attribute(header, "aria-sort") == aria and sorted(_row_ids(body)) == sorted(
            b.id for b in mirrored.values() if isinstance(b, Batch)
        )
    # The link in force turns the order round.
    link = element(next(th for th in elements(body, "th") if attribute(th, "aria-sort")), "a")
    assert f"sort=-{column}" in attribute(link, "href")


def test_sorting_by_duration_puts_the_longest_first_and_running_batches_last(viewer_client, mirrored):
    Batch.objects.filter(pk=mirrored["old"].pk).update(ended_at=mirrored["old"].created_at + timedelta(hours=9))
    ids = _row_ids(viewer_client.get("/?sort=-duration").content.decode())
    assert ids == [mirrored["old"].id, mirrored["ended"].id, mirrored["running"].id]


def test_search_finds_a_batch_by_label_submitter_or_one_of_its_custom_ids(viewer_client, mirrored, viewer):
    Batch.objects.filter(pk=mirrored["running"].pk).update(label="Nightly eval", submitted_by=viewer)
    assert _row_ids(viewer_client.get("/?q=nightly").content.decode()) == [mirrored["running"].id]
    assert _row_ids(viewer_client.get("/?q=viewer").content.decode()) == [mirrored["running"].id]
    assert _row_ids(viewer_client.get("/?q=over-2").content.decode()) == [mirrored["ended"].id]  # a custom_id
    assert _row_ids(viewer_client.get(f"/?q={mirrored['old'].id[-8:]}").content.decode()) == [mirrored["old"].id]


def test_search_by_custom_id_finds_a_running_batch_by_its_kept_requests(viewer_client, mirrored):
    """A running batch has no results yet: searching one of its items' custom_id found nothing, though the requests
    sent through the dashboard are kept."""
    from batches.models import RequestInput

    RequestInput.objects.create(batch=mirrored["running"], custom_id="invoice-42", params=RequestInput.pack({}))
    assert _row_ids(viewer_client.get("/?q=invoice-42").content.decode()) == [mirrored["running"].id]
    assert _row_ids(viewer_client.get("/?q=invoice-4").content.decode()) == []  # exact, as for results


def test_an_ended_batch_shows_how_long_it_ran(viewer_client, mirrored):
    row = element(viewer_client.get("/").content.decode(), "tr", id=f"row-{mirrored['ended'].id}")
    duration = text(element(row, "td", **{"data-label": "Duration"})).strip()
    assert duration.endswith(("s", "min")) and duration != "—"
    running = element(viewer_client.get("/").content.decode(), "tr", id=f"row-{mirrored['running'].id}")
    assert text(element(running, "td", **{"data-label": "Duration"})).strip().endswith(" so far")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's query plan: CI's second run")
@pytest.mark.parametrize("sort", ["", "created", "-duration"])
@pytest.mark.parametrize("from_the_end", [False, True], ids=["first pages", "last pages"])
def test_the_pages_by_creation_are_read_off_an_index_without_sorting_every_batch(viewer, sort, from_the_end):
    """Also "longest first" (migration 0039), and each order reversed: the pages past the middle read it so."""
    from dashboard.forms import BatchFilterForm

    ordered = BatchFilterForm({"sort": sort}).filter(Batch.objects.all())
    page_ids = (ordered.reverse() if from_the_end else ordered).values_list("id", flat=True)[50:100]
    with connection.cursor() as cursor:
        # Seen on an empty table, the planner would sort anyway; forbidding sorts shows whether it must.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = page_ids.explain()
    assert "Index" in plan and "Sort" not in plan, plan


def test_each_row_is_one_line_of_cells_with_the_id_cut_in_the_middle_and_whole_on_hover(viewer_client, mirrored):
    page = viewer_client.get("/").content.decode()
    batch_id = mirrored["running"].id
    cell = element(element(page, "tr", id=f"row-{batch_id}"), "td", **{"data-label": "Batch"})
    link = element(cell, "a")
    shown = text(link).strip()
    assert shown == f"{batch_id[:13]}…{batch_id[-6:]}" and len(shown) < len(batch_id)
    assert attribute(link, "title") == batch_id and attribute(link, "aria-label") == batch_id
    assert attribute(element(cell, "button"), "data-copy") == batch_id
    # the counts, once a line under the bar, are said on hover
    progress = element(element(page, "tr", id=f"row-{mirrored['ended'].id}"), "td", **{"data-label": "Progress"})
    assert "120 succeeded" in attribute(progress, "title") and text(progress).strip().endswith("done")


def test_a_batch_deleted_in_the_api_says_so_beside_its_status_with_the_reason_on_hover(viewer_client, mirrored):
    Batch.objects.filter(pk=mirrored["ended"].pk).update(gone_from_api_at=timezone.now())
    row = element(viewer_client.get("/").content.decode(), "tr", id=f"row-{mirrored['ended'].id}")
    badge = element(element(row, "td", **{"data-label": "Status"}), "span", class_="badge gone")
    assert text(badge).strip() == "deleted in API" and "results are gone" in attribute(badge, "title")


def test_a_batch_deleted_in_the_api_while_running_shows_it_as_its_status_not_in_progress(viewer_client, mirrored):
    Batch.objects.filter(pk=mirrored["running"].pk).update(gone_from_api_at=timezone.now())
    row = element(viewer_client.get("/").content.decode(), "tr", id=f"row-{mirrored['running'].id}")
    cell = element(row, "td", **{"data-label": "Status"})
    assert text(element(cell, "span", class_="status deleted")).strip() == "Deleted in the API"
    assert "In Progress" not in text(cell) and not list(elements(cell, "span", class_="badge gone"))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's query plan: CI's second run")
@pytest.mark.parametrize("q", ["nightly", "msgbatch_01ab", "ticket-000042", "viewer"])
def test_a_search_reads_indexes_rather_than_every_batch(viewer, q):
    from dashboard.forms import BatchFilterForm

    Batch.objects.create(id="msgbatch_01abcdef", workspace=_workspace(), label="Nightly eval", submitted_by=viewer,
                         created_at=timezone.now(), expires_at=timezone.now())  # fmt: skip
    found = BatchFilterForm({"q": q}).filter(Batch.objects.all()).order_by()
    assert found.count() == (0 if q.startswith("ticket") else 1)
    with connection.cursor() as cursor:
        # On a near-empty table the planner would scan anyway; forbidding scans shows whether it must.
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = found.explain()
    assert "Seq Scan on batches_batch" not in plan and "Index" in plan, plan


def _workspace():
    from batches.models import Workspace

    return Workspace.objects.create(name="searched")


# --- the list as CSV --------------------------------------------------------------------------------
def _csv(response) -> list[dict[str, str]]:
    import csv
    import io

    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="batches.csv"'
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))


def test_the_list_links_to_its_csv_with_its_filters(viewer_client, mirrored):
    page = viewer_client.get("/?status=ended&sort=requests&page=1").content.decode()
    link = next(attribute(a, "href") for a in elements(page, "a") if text(a) == "Export CSV")
    assert link == "/batches/export.csv?status=ended&sort=requests"


def test_the_csv_has_every_batch_the_filters_select_in_the_lists_order(viewer_client, mirrored):
    rows = _csv(viewer_client.get("/batches/export.csv?status=ended&sort=-requests"))
    assert [r["id"] for r in rows] == [mirrored["ended"].id, mirrored["old"].id]  # 125 requests, then 4
    ended = rows[0]
    assert (ended["workspace"], ended["status"], ended["request_total"]) == ("main", "ended", "125")
    assert (ended["succeeded"], ended["errored"], ended["expired"], ended["processing"]) == ("120", "4", "1", "0")
    assert ended["created_at"] == mirrored["ended"].created_at.astimezone(UTC).isoformat(timespec="seconds")
    assert ended["created_at"].endswith("+00:00")
    every = _csv(viewer_client.get("/batches/export.csv"))
    assert {r["id"] for r in every} == {mirrored[name].id for name in ("ended", "running", "old")}


def test_the_csv_costs_are_the_batch_pages(viewer_client, mirrored):
    from batches.models import UsageRollup

    ended = mirrored["ended"]
    row = next(r for r in _csv(viewer_client.get("/batches/export.csv")) if r["id"] == ended.id)
    # The exact sum of the batch's usage rows (the page shows it to the cent), never a rounded figure.
    assert Decimal(row["cost_usd"]) == sum(r.cost for r in UsageRollup.objects.filter(batch=ended)) > 0
    running = next(r for r in _csv(viewer_client.get("/batches/export.csv")) if r["id"] == mirrored["running"].id)
    assert running["cost_usd"] == "" and running["status"] == "in_progress"


def test_the_csv_refuses_a_filter_it_cannot_read(viewer_client, mirrored):
    response = viewer_client.get("/batches/export.csv?sort=bogus")
    assert response.status_code == 400 and not response.has_header("Content-Disposition")
    assert "sort=bogus" in response.content.decode()


def test_the_csv_is_on_the_record(viewer_client, mirrored):
    from batches.models import AuditEvent

    _csv(viewer_client.get("/batches/export.csv?status=ended"))
    event = AuditEvent.objects.get(action="export", target="batch_list")
    assert event.params == {"status": "ended"}


@pytest.mark.parametrize("sort", ["-created", "created", "-duration", "duration", "-errors", "errors", "-status"])
def test_every_page_holds_its_own_batches_in_order_read_from_either_end(db, monkeypatch, sort):
    """Pages past the middle are read backwards from the end (dashboard/queries.py): the pages, read in turn,
    must be the whole sorted list, once each, with ties (same creation time) and running batches (no duration)."""
    from dashboard.forms import BatchFilterForm
    from dashboard.queries import batch_page
    from tests.builders import ENDED, ended_batch

    for n in range(11):
        batch = ended_batch(f"b{n:02d}", ended=ENDED + timedelta(minutes=n % 4))
        # Three share one creation time; some are still running; durations and error counts repeat.
        created = ENDED - timedelta(hours=1 + (n % 3 if n > 2 else 0))
        running = n in (3, 7)
        Batch.objects.filter(pk=batch.pk).update(created_at=created, errored_count=n % 2,
                                                 ended_at=None if running else batch.ended_at,
                                                 processing_status="in_progress" if running else "ended")  # fmt: skip
    monkeypatch.setattr("dashboard.queries.PAGE_SIZE", 3)
    form = BatchFilterForm({"sort": sort})
    everything = list(form.filter(Batch.objects.all()).values_list("id", flat=True))

    pages = [batch_page(form.filter(Batch.objects.all()), str(number))[1] for number in range(1, 5)]

    assert [[b.id for b in page] for page in pages] == [everything[i : i + 3] for i in range(0, 11, 3)]
    assert [len(page) for page in pages] == [3, 3, 3, 2]
