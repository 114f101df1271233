"""An open page says when it has lost the server, and stops saying so when it is back (issue 21): measured in
Chromium against a real server process that the test stops and starts again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import CHROMIUM_ARGS, PASSWORD, USERNAME  # noqa: F401

POLL_SECONDS = 2  # the health bar's poll, short so two intervals pass quickly


@pytest.mark.processes
def test_a_page_whose_server_stops_says_connection_lost_and_clears_when_it_is_back(
    browser: Browser, processes, tmp_path, user, workspace
):
    env = {"HEALTH_POLL_SECONDS": str(POLL_SECONDS), "HEALTH_IDLE_POLL_SECONDS": str(POLL_SECONDS)}
    server, port = processes.web_server(tmp_path, **env)
    context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
    try:
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Username").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/$"))
        banner = page.locator("#connection")
        expect(banner).to_be_hidden()
        page.evaluate("window.__marker = 1")  # survives polls, not a reload

        server.stop()
        # Within two poll intervals (and the time the failed request takes to fail).
        expect(banner).to_be_visible(timeout=2 * POLL_SECONDS * 1000 + 3000)
        expect(banner).to_contain_text(re.compile(r"Connection lost — showing data from \d\d:\d\d"))
        expect(page).to_have_title(re.compile(r"^\(connection lost\) "))

        processes.web_server(tmp_path, port=port, **env)  # the same address, as after a restart
        expect(banner).to_be_hidden(timeout=15_000)
        assert not page.title().startswith("(connection lost)")
        assert page.evaluate("window.__marker") == 1  # cleared by a poll, not by reloading the page
    finally:
        context.close()


@pytest.mark.processes
def test_relative_times_age_in_the_page_without_a_poll(make_page, running_batch):
    page = make_page()
    page.goto("/")
    created = page.locator(f"#row-{running_batch.id} [data-label=Created] time")
    iso = created.get_attribute("datetime")
    # The page clock moves on ten minutes: the phrase follows, from the time the server gave.
    page.evaluate("(iso) => { const t = Date.parse(iso) + 10 * 60 * 1000; Date.now = () => t; }", iso)
    expect(created).to_have_text("10 min ago", timeout=15_000)
    assert created.get_attribute("title").endswith(("UTC", "GMT"))  # the absolute time, with its zone


@pytest.mark.processes
def test_polls_answered_with_5xx_say_connection_lost_too(make_page, settings, workspace):
    settings.HEALTH_POLL_SECONDS = settings.HEALTH_IDLE_POLL_SECONDS = POLL_SECONDS
    page = make_page()
    page.goto("/")
    banner = page.locator("#connection")
    expect(banner).to_be_hidden()
    # A proxy in front of a dead app answers 502; the page's own requests are the ones refused here.
    page.route("**/health/*", lambda route: route.fulfill(status=502, body="Bad Gateway"))
    expect(banner).to_be_visible(timeout=2 * POLL_SECONDS * 1000 + 3000)
    page.unroute("**/health/*")
    expect(banner).to_be_hidden(timeout=2 * POLL_SECONDS * 1000 + 3000)
