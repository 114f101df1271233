"""SSO from the environment (config/sso.py): one IdP from OIDC_*, and loud failures on a half-made setup."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.sso import sso_settings


def test_no_issuer_no_idp(monkeypatch):
    monkeypatch.delenv("OIDC_ISSUER", raising=False)
    assert sso_settings()["SOCIALACCOUNT_PROVIDERS"]["openid_connect"]["APPS"] == []


def test_one_idp_from_the_environment_with_its_secret_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "oidc-secret"
    secret.write_text("s3cret-from-a-file\n")
    monkeypatch.setenv("OIDC_ISSUER", "https://example.okta.com/oauth2/default/")
    monkeypatch.setenv("OIDC_CLIENT_ID", "dash")
    monkeypatch.setenv("OIDC_CLIENT_SECRET_FILE", str(secret))
    monkeypatch.setenv("OIDC_NAME", "Okta")
    monkeypatch.setenv("SSO_SESSION_HOURS", "2.5")
    found = sso_settings()
    (app,) = found["SOCIALACCOUNT_PROVIDERS"]["openid_connect"]["APPS"]
    assert app["name"] == "Okta" and app["client_id"] == "dash" and app["secret"] == "s3cret-from-a-file"
    assert app["settings"] == {
        "server_url": "https://example.okta.com/oauth2/default",
        "scope": ["openid", "email", "profile", "groups"],
        "oauth_pkce_enabled": True,
    }
    assert found["SSO_SESSION_HOURS"] == 2.5 and found["SOCIALACCOUNT_STORE_TOKENS"] is False


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"OIDC_ISSUER": "https://idp.example.com"}, "OIDC_CLIENT_ID"),
        ({"OIDC_ISSUER": "https://idp.example.com", "OIDC_CLIENT_ID": "c", "OIDC_CLIENT_SECRET": "s",
          "OIDC_SCOPES": "email profile"}, "openid"),
        ({"SSO_SESSION_HOURS": "0"}, "SSO_SESSION_HOURS"),
        ({"SSO_ONLY": "maybe"}, "SSO_ONLY"),
    ],
)  # fmt: skip
def test_a_half_made_setup_fails_loudly(monkeypatch, env, words):
    for name in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_CLIENT_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=words):
        sso_settings()
