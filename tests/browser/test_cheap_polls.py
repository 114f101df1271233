"""In Chromium, htmx's polls of an unchanged page are revalidated by the browser's cache and answered 304."""

from __future__ import annotations

import logging

from playwright.sync_api import expect

from batches.services import sync


def _statuses(caplog, path: str) -> list[str]:
    """What the live server answered to GETs of `path`, from its request log (config/logs.py)."""
    prefix = f"GET {path} "
    return [r.getMessage().split()[2] for r in caplog.records if r.getMessage().startswith(prefix)]


def test_unchanged_polls_are_answered_304_and_the_rows_stay(logged_in_page, running_batch, caplog, workspace, settings):
    caplog.set_level(logging.INFO, logger="dashboard.request")
    # The ETag changes each POLL_ETAG_SECONDS on its own (relative times), and each SYNC_INTERVAL_SECONDS (the
    # health bar the rows carry says when the last sync was): a boundary between the two polls made the second
    # one a 200. Here no such boundary falls within the test.
    settings.POLL_ETAG_SECONDS = settings.SYNC_INTERVAL_SECONDS = 10**9
    page = logged_in_page
    page.goto("/")
    row = page.locator(f"#row-{running_batch.id}")
    expect(row.locator(".status")).to_have_text("In Progress")
    page.evaluate("window.__marker = 1")
    sync.catch_up(workspace.pk)  # a pass that changes nothing a page shows

    page.wait_for_timeout(11_500)  # two polls

    answered = _statuses(caplog, "/")
    # The page itself, the first poll (its ETag differs from the page's: none), then the cache's revalidations.
    assert answered.count("304") >= 1, answered
    expect(row.locator(".status")).to_have_text("In Progress")  # a 304 reaches htmx as the cached rows
    expect(row.locator(".count.processing")).to_have_text("100 processing")
    assert page.locator("tbody#batch-rows").get_attribute("hx-trigger")  # still polling
    assert page.evaluate("window.__marker") == 1, "the page was reloaded or navigated"
