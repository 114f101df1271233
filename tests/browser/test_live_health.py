"""The sync-health bar on an open page flips to failing, and back, without a reload; the tab title counts the
failing workspaces; a watched batch that ends raises a browser notification."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from batches.services import sync
from tests.browser.conftest import LIVE_TIMEOUT_MS, wait_until
from tests.browser.test_live_progress import assert_not_reloaded, mark_page


def test_the_health_bar_flips_to_failing_and_back_without_a_reload(logged_in_page, emulator, workspace, settings):
    settings.HEALTH_IDLE_POLL_SECONDS, settings.HEALTH_POLL_SECONDS = 2, 1
    sync.catch_up(workspace.pk)  # healthy, and nothing running: no rows poll on this page
    page = logged_in_page
    page.goto("/")
    bar = page.locator("#sync-health")
    expect(bar).to_contain_text("main: synced")
    expect(page).to_have_title("Batches · Batch dashboard")
    mark_page(page)

    emulator.faults.add(op="list", status=401, times=-1)  # the key stops working
    sync.catch_up(workspace.pk)

    expect(bar.locator(".ws.failing")).to_contain_text("sync failing since", timeout=LIVE_TIMEOUT_MS)
    expect(bar).to_contain_text("authentication_error")
    expect(page).to_have_title("(1 failing) Batches · Batch dashboard")
    assert_not_reloaded(page)

    emulator.faults.clear()
    sync.catch_up(workspace.pk)

    expect(bar.locator(".ws.ok")).to_contain_text("synced", timeout=LIVE_TIMEOUT_MS)
    expect(page).to_have_title("Batches · Batch dashboard")
    assert_not_reloaded(page)


def test_running_rows_bring_the_failure_within_their_own_poll(
    logged_in_page, emulator, workspace, running_batch, settings
):
    settings.HEALTH_IDLE_POLL_SECONDS = 600  # the bar's own timer would be far too late: the rows' poll must do
    page = logged_in_page
    bar_polls = []
    page.on("request", lambda request: bar_polls.append(request.url) if "/health/" in request.url else None)
    page.goto("/")
    row = page.locator(f"#row-{running_batch.id}")
    expect(row.locator(".status")).to_have_text("In Progress")
    mark_page(page)

    emulator.faults.add(op="list", status=401, times=-1)
    sync.catch_up(workspace.pk)

    expect(row.locator(".badge.stale")).to_have_text("sync failing", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#sync-health .ws.failing")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(page).to_have_title(re.compile(r"^\(1 failing\) "))
    assert_not_reloaded(page)
    # The rows' poll brought the bar with it (out of band): the tab asked the bar nothing of its own.
    assert bar_polls == []


def test_a_watched_batch_that_ends_raises_a_browser_notification(
    make_page, emulator, workspace, running_batch, settings
):
    settings.HEALTH_IDLE_POLL_SECONDS = 1
    page = make_page(permissions=["notifications"])
    # Record what the page shows through the real Notification API.
    page.add_init_script("""
        window.__notes = [];
        const Real = window.Notification;
        window.Notification = class extends Real {
            constructor(title, options) { super(title, options); window.__notes.push([title, options.body]); }
        };
    """)
    page.goto(f"/batches/{running_batch.id}/")
    page.get_by_role("button", name="Watch").click()
    expect(page.get_by_role("button", name="Watching · stop")).to_be_visible()
    page.goto("/")  # any page will do: the health bar tells
    assert page.evaluate("Notification.permission") == "granted"

    emulator.advance(3600)
    sync.catch_up(workspace.pk)

    wait_until(page, "window.__notes.length > 0", LIVE_TIMEOUT_MS)
    [[title, body]] = page.evaluate("window.__notes")
    assert title == f"Batch ended: {running_batch.id}" and body.startswith("98 succeeded, 2 errored")
    # Told once: the watch is over, and later polls do not tell again.
    page.wait_for_timeout(3000)
    assert len(page.evaluate("window.__notes")) == 1
