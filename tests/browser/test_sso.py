"""The whole SSO sign-in in Chromium against the real OpenID provider: the button, the IdP's login and consent
pages, the return, a page the mapped role may see and one it may not."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.oidc.idp import Idp


@pytest.fixture
def idp(processes, tmp_path, settings, live_server) -> Idp:
    idp = Idp(processes, tmp_path, [f"{live_server.url}/sso/idp/callback/"]).start()
    settings.SOCIALACCOUNT_PROVIDERS = idp.app()
    settings.SSO_ROLE_RULES = "ops=Viewer;leads=Auditor"
    return idp


def test_signing_in_with_the_idp_in_a_browser(make_page, idp):
    idp.user("alice", groups=["leads"])
    page = make_page(logged_in=False)
    page.goto("/spend/")
    page.get_by_role("button", name="Sign in with Test IdP").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(idp.issuer)}/interaction/"))  # the IdP's login page
    page.locator("input[name=login]").fill("alice")
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # its consent page

    expect(page).to_have_url(re.compile(r"/spend/$"))  # back where the user was going, as an Auditor
    expect(page.get_by_role("heading", name="Spend", exact=False).first).to_be_visible()
    expect(page.get_by_role("button", name="Log out alice")).to_be_visible()
    page.goto("/submit/")  # an Operator's page
    expect(page.get_by_role("heading", name="You may not do this")).to_be_visible()


def test_a_browser_user_in_no_mapped_group_is_told_and_not_signed_in(make_page, idp):
    idp.user("carol", groups=["marketing"])
    page = make_page(logged_in=False)
    page.goto("/login/")
    page.get_by_role("button", name="Sign in with Test IdP").click()
    page.locator("input[name=login]").fill("carol")
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="No access")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("none of your groups gives access")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
