"""Running batches update in place as the sync mirrors them, and stop polling once nothing runs."""

from __future__ import annotations

from playwright.sync_api import Page, Request, expect

from batches import sync
from tests.browser.conftest import LIVE_TIMEOUT_MS

# Two polling periods and some slack: long enough that a live trigger would have fired twice.
QUIET_PERIOD_MS = 12_000


def mark_page(page: Page) -> None:
    """A value that survives htmx swaps but not a reload or a navigation."""
    page.evaluate("window.__marker = 1")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded or navigated"


def test_the_batch_list_shows_progress_and_the_end_without_a_reload(
    logged_in_page, live_server, emulator, workspace, running_batch
):
    page = logged_in_page
    polls: list[Request] = []

    def count_poll(request: Request) -> None:
        if request.url == f"{live_server.url}/" and request.headers.get("hx-request"):
            polls.append(request)

    page.on("request", count_poll)
    page.goto("/")
    row = page.locator(f"#row-{running_batch.id}")
    expect(row.locator(".status")).to_have_text("In Progress")
    expect(row.locator(".count.processing")).to_have_text("100 processing")
    mark_page(page)

    emulator.advance(300)
    sync.catch_up(workspace.pk)
    running_batch.refresh_from_db()
    assert 0 < running_batch.processing_count < 100, "the emulator should have finished some requests by now"
    expect(row.locator(".count.processing")).to_have_text(
        f"{running_batch.processing_count} processing", timeout=LIVE_TIMEOUT_MS
    )
    expect(row.locator(".count.succeeded")).to_have_text(f"{running_batch.succeeded_count} succeeded")
    assert_not_reloaded(page)

    emulator.advance(400)
    sync.catch_up(workspace.pk)
    expect(row.locator(".status")).to_have_text("Ended", timeout=LIVE_TIMEOUT_MS)
    expect(row.locator(".count.succeeded")).to_have_text("100 succeeded")
    assert_not_reloaded(page)
    assert polls, "the list should have polled while the batch was running"

    rows = page.locator("tbody#batch-rows")
    expect(rows).to_have_attribute("data-live", "false")
    assert rows.get_attribute("hx-trigger") is None
    polls.clear()
    page.wait_for_timeout(QUIET_PERIOD_MS)
    assert polls == [], "the list kept polling after the last batch ended"


def test_the_batch_page_shows_progress_then_the_results_without_a_reload(
    logged_in_page, emulator, workspace, running_batch
):
    page = logged_in_page
    page.goto(f"/batches/{running_batch.id}/")
    summary = page.locator("#batch-summary")
    expect(summary.locator(".status")).to_have_text("In Progress")
    expect(summary.locator(".count.processing")).to_have_text("100 processing")
    expect(page.locator("table.items")).to_have_count(0)
    mark_page(page)

    emulator.advance(300)
    sync.catch_up(workspace.pk)
    running_batch.refresh_from_db()
    assert 0 < running_batch.processing_count < 100, "the emulator should have finished some requests by now"
    expect(summary.locator(".count.processing")).to_have_text(
        f"{running_batch.processing_count} processing", timeout=LIVE_TIMEOUT_MS
    )
    expect(summary).to_contain_text(f"{int(running_batch.progress * 100)}% done")

    emulator.advance(400)
    sync.catch_up(workspace.pk)
    expect(summary.locator(".status")).to_have_text("Ended", timeout=LIVE_TIMEOUT_MS)
    expect(summary).to_contain_text("100 results kept")
    results = page.locator("#batch-results table.items tbody tr")
    expect(results).to_have_count(50)  # the first page of the keyset table
    expect(results.first.locator("a")).to_have_text("live-000")
    assert summary.get_attribute("hx-trigger") is None
    assert_not_reloaded(page)
