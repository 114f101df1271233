"""Every page works under the Content-Security-Policy: Chromium reports no violation on any of them, nor while
htmx polls, swaps and opens things.

A violation is what a user would notice: a script that does not run, a chart drawn black, an admin widget that
stays dead. Chromium reports each one as a `securitypolicyviolation` event and on the console; both are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import ConsoleMessage, Page, expect

from batches.models import Batch, Budget, Price, PricedModel, Workspace
from batches.services import pricing
from tests.browser.conftest import LIVE_TIMEOUT_MS, log_in, wait_until
from tests.builders import MODEL, batch_request

# Runs before any script of every document the page opens: each violation goes to Python at once (a page that
# navigates away would take a list kept in `window` with it) and is also kept in window.__csp.
WATCH = """
window.__csp = [];
window.__swaps = 0;
document.addEventListener("securitypolicyviolation", (e) => {
    const seen = {page: location.pathname + location.search, directive: e.effectiveDirective,
                  blocked: e.blockedURI, sample: e.sample, source: e.sourceFile + ":" + e.lineNumber};
    window.__csp.push(seen);
    window.__reportViolation(seen);
});
document.addEventListener("htmx:afterSettle", () => { window.__swaps += 1; });
"""


class Watched:
    """Everything the browser refused on a page, and any script error (an eval refused throws one)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.violations: list[dict] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        page.expose_function("__reportViolation", lambda seen: self.violations.append(seen))
        page.add_init_script(WATCH)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.console.append(f"{self.page.url}: {message.text}")

    def visit(self, url: str, status: int = 200) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == status, (url, response and response.status)
        # The deferred scripts have run and htmx has processed the page (its config read, or its <style> added).
        self.page.wait_for_load_state("load")

    def assert_clean(self) -> None:
        self.page.wait_for_timeout(200)  # a report is dispatched as a task after the refusal
        found = {"violations": self.violations, "console": self.console, "errors": self.errors}
        assert not any(found.values()), json.dumps(found, indent=2)


@pytest.fixture
def superuser(user) -> User:
    """The browser's user, allowed everything, the admin included."""
    user.is_superuser = user.is_staff = True
    user.save()
    return user


@pytest.fixture
def priced(several_batches, workspace) -> Batch:
    """The ended batch's usage priced, so the spend page draws its chart, and a budget near its end."""
    Price.objects.get_or_create(
        family="claude-haiku-4-5", effective_from="2025-01-01",
        defaults={"input": Decimal("1"), "output": Decimal("5"), "cache_write_5m": Decimal("1.25"),
                  "cache_write_1h": Decimal("2"), "cache_read": Decimal("0.1"), "source": "test"},
    )  # fmt: skip
    assert MODEL.startswith("claude-haiku-4-5")
    # The price book's id map is migration data, which a browser test's flush between tests removes.
    PricedModel.objects.get_or_create(model=MODEL, defaults={"family": "claude-haiku-4-5"})
    pricing.roll_up(several_batches)
    Budget.objects.create(workspace=workspace, monthly_amount=Decimal("0.01"))
    return several_batches


@pytest.fixture
def watched(make_page, superuser, held) -> Callable[..., Watched]:
    def make(**context_options) -> Watched:
        page = make_page(logged_in=False, **context_options)
        watched = Watched(page)
        log_in(page)
        return watched

    return make


def _upload_a_draft(page: Page, workspace: Workspace) -> None:
    page.goto("/submit/")
    page.get_by_label("Workspace").select_option(workspace.name)
    page.get_by_label("JSONL file").set_input_files(
        {"name": "requests.jsonl", "mimeType": "application/jsonl",
         "buffer": "".join(json.dumps(batch_request(f"item-{i}")) + "\n" for i in range(3)).encode()}
    )  # fmt: skip
    page.get_by_role("button", name="Validate and estimate").click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+/$"))


def test_no_page_breaks_the_policy(watched, priced, running_batch, workspace):
    w = watched()
    ended = priced
    pages = [
        "/", "/?status=errors", f"/batches/{ended.id}/", f"/batches/{running_batch.id}/",
        f"/batches/{ended.id}/results/over-1/", "/errors/", "/spend/", "/spend/?group=model&period=week",
        "/spend/reconcile/", "/audit/", "/submit/", "/retry/", f"/retry/?batch={ended.id}",
        f"/batches/{ended.id}/inputs/", "/notifications/", "/notifications/channels/",
        "/notifications/channels/new/", "/notifications/deliveries/",
        "/admin/", "/admin/batches/batch/", "/admin/batches/price/", "/admin/batches/price/add/",
        f"/admin/batches/workspace/{workspace.pk}/change/", "/admin/auth/user/add/", "/admin/auth/group/",
    ]  # fmt: skip
    for url in pages:
        w.visit(url)
    w.visit("/batches/msgbatch_nope/", status=404)
    _upload_a_draft(w.page, workspace)
    w.assert_clean()


def test_the_error_pages_break_no_policy(make_page, several_batches, settings):
    settings.ROOT_URLCONF = "tests.dashboard.failing_urls"  # the site plus /boom/, whose view raises
    User.objects.create_user("viewer", password="pw-viewer-123").groups.set(Group.objects.filter(name="Viewer"))
    page = make_page(logged_in=False)
    w = Watched(page)
    w.visit("/login/")
    log_in(page, "viewer", "pw-viewer-123")
    w.visit("/spend/", status=403)
    w.visit("/audit/", status=403)
    w.visit("/batches/msgbatch_nope/", status=404)
    w.visit("/boom/", status=500)
    expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong on our side")
    w.assert_clean()


def test_htmx_polls_swaps_and_dialogs_break_no_policy(watched, several_batches, running_batch):
    w = watched()
    page = w.page
    # A poll: the running batch's summary swapped in place by htmx every 5 s.
    w.visit(f"/batches/{running_batch.id}/")
    wait_until(page, "window.__swaps > 0", LIVE_TIMEOUT_MS)
    # The result panel, loaded by htmx.
    w.visit(f"/batches/{several_batches.id}/")
    page.locator("table.items").get_by_role("link", name="over-1", exact=True).click()
    expect(page.locator("#result-panel dd.full")).to_have_text("Overloaded")
    # "Refresh now": an htmx POST whose status then polls every second.
    page.get_by_role("button", name="Refresh now").click()
    expect(page.locator("#refresh-status")).not_to_be_empty()
    # The keyboard-shortcuts dialog, by key and by button.
    page.locator("h1").click()
    page.keyboard.press("?")
    expect(page.locator("dialog#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Shortcuts").click()
    expect(page.locator("dialog#shortcuts")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    # A tab of the list, then the spend filters, which htmx swaps in with the chart.
    w.visit("/")
    page.locator("nav.tabs a").nth(1).click()
    page.wait_for_load_state("load")
    w.visit("/spend/")
    page.get_by_label("Grouped by").select_option("model")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"group=model"))
    w.assert_clean()


def test_the_spend_chart_is_coloured_by_the_stylesheet(watched, priced):
    """Under the policy a style attribute is ignored: a bar coloured that way would be drawn black."""
    w = watched(color_scheme="light")
    w.visit("/spend/")
    bar = w.page.locator("#spend-report svg.chart rect.series-0").first
    expect(bar).to_be_visible()
    assert bar.evaluate("r => getComputedStyle(r).fill") == "rgb(74, 127, 212)"  # --processing, light theme
    assert w.page.locator("svg.chart").evaluate("s => getComputedStyle(s).fontSize") == "11px"
    w.assert_clean()


def test_the_watch_sees_a_violation_when_there_is_one(watched):
    """The other tests pass by finding nothing: this one shows they would find something."""
    w = watched()
    w.visit("/errors/")
    w.page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">inline</p>')")
    w.page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.ran = 1";
                               document.body.append(s); }""")
    w.page.wait_for_timeout(200)
    assert {v["directive"] for v in w.violations} == {"style-src-attr", "script-src-elem"}
    assert w.page.evaluate("window.ran") is None
    assert len(w.page.evaluate("window.__csp")) == 2 and w.console
