"""Odd input is answered, never with a 500: each case here was a 500 found by sending every page odd values
(stop 41). Each answer says what it could not take, in the page's own way (a form's message, a 400)."""

from __future__ import annotations

import pytest

EDGE_DATES = ["9999-12-31", "0001-01-01"]


@pytest.fixture
def admin(make_user, workspace, client):
    client.force_login(make_user("ada", "Admin"))
    return client


@pytest.mark.parametrize("day", EDGE_DATES)
@pytest.mark.parametrize(
    "url",
    [
        "/?created_to={day}", "/?created_from={day}", "/batches/export.csv?created_to={day}",
        "/errors/?created_to={day}", "/retry/?workspace=main&created_to={day}", "/spend/?from={day}&to={day}",
        "/spend/?period=month&from={day}&to={day}", "/spend/export.csv?from={day}&to={day}",
        "/spend/reconcile/?end={day}", "/spend/reconcile/?start={day}", "/audit/?since={day}",
        "/api/v1/batches?created_to={day}", "/api/v1/errors?created_to={day}", "/api/v1/spend?from={day}&to={day}",
    ],
)  # fmt: skip
def test_a_date_at_the_calendars_edge_is_refused_as_out_of_range(admin, url, day):
    """9999-12-31 + 1 day, or 0001-01-01 − 31 days, overflowed Python's dates: every date filter now takes the days
    from 1970 to 2999, and says so of any other."""
    response = admin.get(url.format(day=day))

    assert response.status_code in (200, 400), response.status_code
    assert "from 1970-01-01 to 2999-12-31" in response.content.decode()


def test_a_bulk_action_over_an_edge_date_takes_nothing(admin):
    """ "All matching" a filter it cannot read takes no batch, never every batch."""
    from batches.models import AuditEvent

    response = admin.post("/batches/bulk/?created_to=9999-12-31",
                          {"action": "cancel", "all_matching": "1", "confirmed": "yes"}, follow=True)  # fmt: skip

    assert response.status_code == 200
    assert "None of the selected batches can take this action: nothing was done." in response.content.decode()
    assert not AuditEvent.objects.filter(action="cancel").exists()


@pytest.mark.parametrize("delivery", ["²", "99999999999999999999"])
def test_a_resend_of_no_delivery_resends_nothing(admin, delivery):
    """ "²".isdigit() is true, and SQLite cannot compare 20 digits with an id: both were 500s."""
    response = admin.post("/notifications/deliveries/resend/", {"delivery": delivery}, follow=True)

    assert response.status_code == 200 and "0 deliveries queued again" in response.content.decode()


@pytest.mark.parametrize("back", ["abc", "delivery_log_typo", "//elsewhere.example/x", "https://elsewhere.example/"])
def test_a_resend_goes_back_only_to_a_path_of_this_site(admin, back):
    """redirect() read a bare word as a view's name: "abc" was a NoReverseMatch, a 500."""
    response = admin.post("/notifications/deliveries/resend/", {"next": back})

    assert response.status_code == 302 and response["Location"] == "/notifications/deliveries/"


def test_a_workspace_id_past_64_bits_is_refused_in_my_notifications(admin):
    response = admin.post("/notifications/", {"enabled": "on", "email": "ada@example.com",
                                              "workspaces": ["99999999999999999999"]})  # fmt: skip

    assert response.status_code == 200 and "is not a valid value" in response.content.decode()


def test_an_identity_provider_saved_with_an_id_no_url_takes_leaves_the_login_page_up(client, db):
    """The admin saves a provider id of "" (or "a/b"): the login page was a 500 for everyone until the row went."""
    from allauth.socialaccount.models import SocialApp

    for provider_id, name in (("", "Blank"), ("a/b", "Slashed"), ("okta", "Okta")):
        SocialApp.objects.create(provider="openid_connect", provider_id=provider_id, name=name, client_id="c",
                                 secret="s", settings={"server_url": "https://example.okta.com"})  # fmt: skip

    page = client.get("/login/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "Sign in with Okta" in body and "Blank" not in body and "Slashed" not in body


def test_two_identity_providers_under_one_id_are_refused_by_name_not_a_500(client, db):
    from allauth.socialaccount.models import SocialApp

    for name in ("One", "Two"):
        SocialApp.objects.create(provider="openid_connect", provider_id="dup", name=name, client_id="c",
                                 secret="s", settings={"server_url": "https://example.okta.com"})  # fmt: skip

    started = client.post("/sso/dup/login/")
    answered = client.get("/sso/dup/callback/?state=x&code=y")

    for response in (started, answered):
        assert response.status_code == 403, response.status_code
        assert "Two sign-in services are configured under the same id" in response.content.decode()


def test_a_user_deleted_between_password_and_code_is_sent_to_sign_in_again(client, make_user, settings):
    """The pending second step named a user that was gone: User.DoesNotExist, a 500."""
    from dashboard.views.totp import PENDING

    gone = make_user("gone", "Viewer")
    session = client.session
    session[PENDING] = {"user": gone.pk, "at": __import__("time").time(), "backend": "x"}
    session.save()
    gone.delete()

    response = client.get("/login/code/", follow=True)

    assert response.redirect_chain[-1][0] == "/login/"
    assert "Sign in again: this account can no longer sign in." in response.content.decode()


def test_a_form_of_more_than_a_thousand_fields_is_told_why_in_the_callers_shape(admin):
    """Django refuses such a request before any view (DATA_UPLOAD_MAX_NUMBER_FIELDS) with a bare "Bad Request (400)"
    page, HTML even to code calling the REST API."""
    from urllib.parse import urlencode

    fields = urlencode([("f", str(i)) for i in range(1_001)])
    form = "application/x-www-form-urlencoded"

    page = admin.post("/submit/", fields, content_type=form)
    api = admin.post("/api/v1/retry?batch=x", fields, content_type=form)

    assert page.status_code == 400 and "more form fields or files than this server takes" in page.content.decode()
    assert api.status_code == 400 and api["Content-Type"] == "application/json"
    assert api.json()["error"]["type"] == "invalid_request_error"
    assert "more form fields or files" in api.json()["error"]["message"]


@pytest.mark.parametrize("provider_id", ["", "a/b", "okta"], ids=["blank", "slashed", "taken"])
def test_the_admin_refuses_a_provider_id_no_url_takes_or_one_taken(admin_client, provider_id):
    """The rule at the source: such a row made the login page, or every sign-in with it, a 500."""
    from allauth.socialaccount.models import SocialApp

    SocialApp.objects.create(provider="openid_connect", provider_id="okta", name="Okta", client_id="c", secret="s",
                             settings={"server_url": "https://example.okta.com"})  # fmt: skip
    form = {"provider": "openid_connect", "provider_id": provider_id, "name": "New", "client_id": "c2",
            "secret": "s2", "key": "", "settings": '{"server_url": "https://idp.example.com"}'}  # fmt: skip

    page = admin_client.post("/admin/socialaccount/socialapp/add/", form)

    assert page.status_code == 200 and SocialApp.objects.count() == 1
    said = page.content.decode()
    assert ("already" in said) if provider_id == "okta" else ("it is in the sign-in URLs" in said)


def test_a_logout_for_a_provider_id_two_share_is_refused_not_a_500(client, db):
    from allauth.socialaccount.models import SocialApp

    for name in ("One", "Two"):
        SocialApp.objects.create(provider="openid_connect", provider_id="dup", name=name, client_id="c",
                                 secret="s", settings={"server_url": "https://example.okta.com"})  # fmt: skip

    response = client.post("/sso/dup/backchannel-logout/", {"logout_token": "x.y.z"})

    assert response.status_code == 409 and response.json()["error_description"] == "two identity providers have this id"
