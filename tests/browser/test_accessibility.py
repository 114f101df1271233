"""Every page passes axe-core's WCAG 2 A and AA rules (contrast included) in both themes, and the list works
by keyboard: a skip link, shortcuts, rows to move through, and a phone screen that needs no sideways scroll."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def admin_page(make_page, user, several_batches):
    """Logged in with every role's pages in reach."""
    user.groups.set(Group.objects.filter(name="Admin"))
    user.is_staff = True
    user.save()
    return make_page


def violations(page: Page) -> list[dict]:
    """axe-core's WCAG 2 A and AA violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]}});
            return result.violations.map(v => ({id: v.id, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + n.failureSummary)}));
        }"""
    )
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_meets_wcag_aa_in_both_themes(admin_page, several_batches, scheme):
    # axe-core goes in as an inline script, which the Content-Security-Policy refuses (tests/browser/test_csp.py
    # checks the pages keep to it).
    page = admin_page(color_scheme=scheme, bypass_csp=True)
    ended = several_batches
    pages = [
        "/", "/?status=errors", f"/batches/{ended.id}/", f"/batches/{ended.id}/results/over-1/", "/errors/",
        "/spend/", "/audit/", "/submit/", "/retry/", f"/retry/?batch={ended.id}", f"/batches/{ended.id}/inputs/",
    ]  # fmt: skip
    failures = {}
    for url in pages:
        page.goto(url)
        if found := violations(page):
            failures[url] = found
    assert not failures, json.dumps(failures, indent=2)


def test_the_list_works_by_keyboard(admin_page, several_batches):
    page = admin_page()
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    skip.press("Enter")
    expect(page.locator("#main")).to_be_focused()

    page.keyboard.press("/")
    expect(page.locator("[data-search]")).to_be_focused()
    page.keyboard.press("Escape")
    page.locator("h1").click()  # out of the search box

    page.keyboard.press("?")
    expect(page.locator("dialog#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#shortcuts")).to_be_hidden()

    page.keyboard.press("j")
    first = page.locator("tr[data-row]").first
    expect(first).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator("tr[data-row]").nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(first).to_be_focused()
    batch_id = first.get_attribute("id").removeprefix("row-")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/batches/{batch_id}/$"))

    page.keyboard.press("g")
    page.keyboard.press("e")
    expect(page).to_have_url(re.compile(r"/errors/$"))


def test_the_batch_list_fits_a_phone_without_sideways_scrolling(admin_page, several_batches):
    page = admin_page(viewport=PHONE)
    page.goto("/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # A batch id takes one or two lines on a phone, not six.
    link = page.locator(f"#row-{several_batches.id} td.batch-id a")
    line = float(link.evaluate("a => parseFloat(getComputedStyle(a).lineHeight) || 20"))
    assert link.bounding_box()["height"] <= 2.5 * line


def test_the_spend_table_shows_every_column_on_a_1440_screen(admin_page, several_batches):
    page = admin_page(viewport={"width": 1440, "height": 900})
    page.goto("/spend/?group=model&period=day")
    table = page.locator("table.spend")
    wrap = page.locator("table.spend").locator("xpath=..")
    assert table.evaluate("t => t.scrollWidth") <= wrap.evaluate("w => w.clientWidth") + 1


def test_copy_puts_the_batch_id_on_the_clipboard(admin_page, several_batches, browser):
    page = admin_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"/batches/{several_batches.id}/")
    page.get_by_role("button", name="Copy the batch id").click()
    expect(page.get_by_role("button", name="Copy the batch id")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == several_batches.id
