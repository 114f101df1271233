"""Logging in through the real form, and what an anonymous visitor gets."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import log_in


def test_an_anonymous_visit_redirects_to_the_login_page(page):
    page.goto("/")

    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("link", name="Errors")).to_have_count(0)


def test_logging_in_through_the_form_shows_the_batch_list(page, running_batch):
    log_in(page)

    expect(page.get_by_role("heading", name="Batches")).to_be_visible()
    # The list shows an id shortened; its link is named by the whole id (as a screen reader reads it).
    expect(page.locator(f"#row-{running_batch.id}").get_by_role("link", name=running_batch.id)).to_be_visible()
    expect(page.get_by_role("button", name="Log out operator")).to_be_visible()


def test_a_wrong_password_keeps_the_login_page_with_an_error(page):
    page.goto("/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    expect(page).to_have_url(re.compile(r"/login/$"))
