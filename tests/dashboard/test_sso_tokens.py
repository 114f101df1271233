"""Every check of the ID token, each failing on its own: a thread-based provider signs what each test asks for.
The real provider (tests/dashboard/test_sso.py) shows the whole flow; this one forges what a real one never sends."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User

from batches.models import AuditEvent, SignIn
from tests.oidc.mock_idp import MockIdp


@pytest.fixture
def mock_idp(settings, db):
    idp = MockIdp().start()
    settings.SOCIALACCOUNT_PROVIDERS = idp.app()
    settings.SSO_ROLE_RULES = "ops=Viewer"
    yield idp
    idp.stop()


def callback(client, idp: MockIdp, code: str = "code-1"):
    start = client.post("/sso/idp/login/")
    assert start.status_code == 302 and start["Location"].startswith(idp.issuer + "/auth?")
    assert "code_challenge=" in start["Location"] and "nonce=" in start["Location"]
    return client.get(idp.authorize(start["Location"], code).removeprefix("http://testserver"))


def refused(response, words: str) -> None:
    assert response.status_code == 403, response.status_code
    assert words in response.content.decode()


def no_session(client) -> bool:
    return "_auth_user_id" not in client.session and not User.objects.filter(username="mallory").exists()


def test_a_well_formed_token_signs_in(client, mock_idp):
    assert callback(client, mock_idp).status_code == 302
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"iss": "http://127.0.0.1:1/elsewhere"}, "another issuer"),
        ({"aud": "another-client"}, "meant for another application"),
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, "already expired"),
        ({"nonce": "not-the-one-we-sent"}, "does not belong to the sign-in you started"),
    ],
    ids=["wrong-issuer", "wrong-audience", "expired", "wrong-nonce"],
)
def test_a_token_that_fails_a_check_is_refused_with_no_session(client, mock_idp, claims, words):
    mock_idp.claims = claims
    refused(callback(client, mock_idp), words)
    assert no_session(client)
    event = AuditEvent.objects.get(action="sso_refused")
    assert event.outcome == "error" and words in event.detail
    assert SignIn.objects.get(ok=False).reason


def test_a_token_signed_by_another_key_is_refused(client, mock_idp):
    from cryptography.hazmat.primitives.asymmetric import rsa

    mock_idp.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(callback(client, mock_idp), "could not be verified")
    assert no_session(client)


def test_a_nonce_replayed_from_an_earlier_sign_in_is_refused(client, mock_idp):
    assert callback(client, mock_idp, "code-1").status_code == 302
    client.post("/logout/")
    User.objects.filter(username="mallory").delete()
    mock_idp.claims = {"nonce": mock_idp.nonces["code-1"]}  # the first sign-in's token, replayed
    refused(callback(client, mock_idp, "code-2"), "does not belong to the sign-in you started")
    assert no_session(client)


def test_a_discovery_document_naming_another_issuer_is_refused(client, mock_idp):
    mock_idp.discovery_issuer = "http://127.0.0.1:1/impostor"  # the token claims it too, consistently
    mock_idp.claims = {"iss": mock_idp.discovery_issuer}
    refused(callback(client, mock_idp), "another issuer")
    assert no_session(client)


def test_a_missing_discovery_document_is_said_as_unreachable(client, mock_idp, settings):
    settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][0]["settings"]["server_url"] = mock_idp.issuer + "/other"
    response = client.post("/sso/idp/login/")  # discovery of .../other answers 404
    assert response.status_code == 503 and "reach the sign-in service" in response.content.decode()


@pytest.mark.parametrize(
    ("error", "words"),
    [("access_denied", "cancelled at the identity provider"), ("server_error", "identity provider refused")],
)
def test_an_idp_that_answers_with_an_error_is_said_so(client, mock_idp, error, words):
    from urllib.parse import parse_qs, urlsplit

    start = client.post("/sso/idp/login/")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    refused(client.get(f"/sso/idp/callback/?error={error}&state={state}"), words)
    assert no_session(client)


def test_a_user_an_admin_disabled_is_refused_whatever_the_idp_says(client, mock_idp):
    assert callback(client, mock_idp, "code-1").status_code == 302
    client.post("/logout/")
    User.objects.filter(username="mallory").update(is_active=False)
    refused(callback(client, mock_idp, "code-2"), "disabled in the dashboard by an administrator")
    assert "_auth_user_id" not in client.session


def test_an_idp_user_named_like_a_local_superuser_never_becomes_them(client, mock_idp):
    local = User.objects.create_superuser("mallory", "mallory@example.com", "pw-local-12345")
    assert callback(client, mock_idp).status_code == 302
    signed_in_as = User.objects.get(pk=client.session["_auth_user_id"])
    assert signed_in_as != local and not signed_in_as.is_superuser
    assert signed_in_as.username != "mallory"  # a name of its own: never linked to the local account


@pytest.mark.parametrize("events", [5, "http://schemas.openid.net/event/backchannel-logout", ["x"], None])
def test_a_signed_logout_token_whose_events_are_no_object_is_refused(client, mock_idp, events):
    """Section 2.4 makes `events` a JSON object; an integer there was a TypeError (a 500) once the signature held."""
    import jwt

    now = int(time.time())
    claims = {"iss": mock_idp.issuer, "aud": "mock-client", "iat": now, "jti": f"j-{now}", "sub": "mallory",
              "events": events}  # fmt: skip
    token = jwt.encode(claims, mock_idp.key, algorithm="RS256", headers={"kid": "k1"})

    response = client.post("/sso/idp/backchannel-logout/", {"logout_token": token})

    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
