"""Running batches update in place as the sync mirrors them, and stop polling once nothing runs."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group
from playwright.sync_api import Page, Request, expect

from batches import client
from batches.services import sync
from tests.browser.conftest import LIVE_TIMEOUT_MS

# Two polling periods and some slack: long enough that a live trigger would have fired twice.
QUIET_PERIOD_MS = 12_000


def mark_page(page: Page) -> None:
    """A value that survives htmx swaps but not a reload or a navigation."""
    page.evaluate("window.__marker = 1")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded or navigated"


def test_the_batch_list_shows_the_end_without_a_reload(logged_in_page, live_server, emulator, workspace, running_batch):
    page = logged_in_page
    polls: list[Request] = []

    def count_poll(request: Request) -> None:
        if request.url == f"{live_server.url}/" and request.headers.get("hx-request"):
            polls.append(request)

    page.on("request", count_poll)
    page.goto("/")
    row = page.locator(f"#row-{running_batch.id}")
    expect(row.locator(".status")).to_have_text("In Progress")
    # As in production, the API says nothing of how requests end until the whole batch has: the row says
    # how long it has run instead.
    expect(row.locator(".count.processing")).to_have_text("100 processing")
    expect(row.locator("[data-label=Duration]")).to_contain_text("so far")
    mark_page(page)

    emulator.advance(300)
    sync.catch_up(workspace.pk)
    page.wait_for_timeout(6_000)  # a poll has come and gone
    expect(row.locator(".count.processing")).to_have_text("100 processing")
    assert polls, "the list should have polled while the batch was running"

    emulator.advance(400)
    sync.catch_up(workspace.pk)
    expect(row.locator(".status")).to_have_text("Ended", timeout=LIVE_TIMEOUT_MS)
    expect(row.locator(".count.succeeded")).to_have_text("98 succeeded")
    expect(row.locator(".count.errored")).to_have_text("2 errored")
    expect(page.locator("#list-announce")).to_contain_text("0 in progress")
    assert_not_reloaded(page)

    rows = page.locator("tbody#batch-rows")
    expect(rows).to_have_attribute("data-live", "false")
    assert rows.get_attribute("hx-trigger") is None
    polls.clear()
    page.wait_for_timeout(QUIET_PERIOD_MS)
    assert polls == [], "the list kept polling after the last batch ended"


def test_the_batch_page_redraws_what_depends_on_its_state_when_it_ends(
    make_page, user, emulator, workspace, running_batch
):
    user.groups.set(Group.objects.filter(name="Operator"))
    page = make_page()
    page.goto(f"/batches/{running_batch.id}/")
    summary = page.locator("#batch-summary")
    expect(summary.locator(".status")).to_have_text("In Progress")
    expect(summary.locator("#batch-eta")).to_contain_text("Running for")
    expect(summary.locator("#batch-eta")).to_contain_text("no history yet")
    expect(page.get_by_role("button", name="Cancel batch…")).to_be_visible()
    expect(page.locator("table.items")).to_have_count(0)
    expect(page.get_by_role("heading", name="Errors by type")).to_have_count(0)
    mark_page(page)

    emulator.advance(700)  # it ends, with the errors its requests' markers ask for
    sync.catch_up(workspace.pk)

    expect(summary.locator(".status")).to_have_text("Ended", timeout=LIVE_TIMEOUT_MS)
    expect(summary).to_contain_text("100 results kept")
    expect(page.get_by_role("button", name="Cancel batch…")).to_have_count(0)  # nothing left to cancel
    expect(page.get_by_role("heading", name="Errors by type")).to_be_visible()
    results = page.locator("#batch-results table.items tbody tr")
    expect(results).to_have_count(50)  # the first page of the keyset table
    expect(page.locator("#batch-announce")).to_have_text("Ended: results kept")
    assert summary.get_attribute("hx-trigger") is None
    assert_not_reloaded(page)


def test_a_batch_being_canceled_offers_no_cancel(make_page, user, emulator, workspace, running_batch):
    user.groups.set(Group.objects.filter(name="Operator"))
    page = make_page()
    page.goto(f"/batches/{running_batch.id}/")
    mark_page(page)
    emulator.cancel_delay = 600
    client.cancel_batch(workspace.credentials, running_batch.id)  # canceled elsewhere: the sync sees it
    sync.sync_workspace(workspace.pk)

    expect(page.locator("#batch-summary .status")).to_have_text("Canceling", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Cancel batch…")).to_have_count(0)
    assert_not_reloaded(page)


def test_an_eta_band_comes_from_similar_batches_that_ended(logged_in_page, emulator, workspace, running_batch):
    key = workspace.test_api_key
    for minutes in (10, 12, 14, 16, 40):
        emulator.seed_batch(
            key, 100, status="ended", duration=minutes * 60, created_at=emulator.now() - timedelta(days=1)
        )
    sync.catch_up(workspace.pk, full=True)
    page = logged_in_page
    page.goto(f"/batches/{running_batch.id}/")
    eta = page.locator("#batch-eta")
    expect(eta).to_contain_text("similar batches of this workspace took 14 min to 30 min")
    expect(eta).to_contain_text("p50–p90 of 5 batches")
