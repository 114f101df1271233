"""Single sign-on settings (docs/sso.md): django-allauth's OpenID Connect provider, configured from the environment.

One IdP comes from OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or OIDC_CLIENT_SECRET_FILE); more are added
in the admin (Social applications, provider "OpenID Connect"). Reading these creates nothing.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.env import env, envbool, envfloat

# The env-configured IdP's id in URLs: its redirect URI is <DASHBOARD_URL>/sso/idp/callback/.
ENV_PROVIDER_ID = "idp"


def _env_app() -> list[dict]:
    issuer = env("OIDC_ISSUER").rstrip("/")
    client_id, secret = env("OIDC_CLIENT_ID"), env("OIDC_CLIENT_SECRET")
    if not issuer:
        return []
    if not client_id or not secret:
        raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or _FILE) too")
    scopes = env("OIDC_SCOPES", "openid email profile groups").split()
    if "openid" not in scopes:
        raise ImproperlyConfigured(f"OIDC_SCOPES must include openid, not {scopes!r}")
    return [
        {
            "provider_id": ENV_PROVIDER_ID,
            "name": env("OIDC_NAME", "your identity provider"),
            "client_id": client_id,
            "secret": secret,
            "settings": {"server_url": issuer, "scope": scopes, "oauth_pkce_enabled": True},
        }
    ]


def sso_settings() -> dict:
    hours = envfloat("SSO_SESSION_HOURS", "8")
    if hours <= 0:
        raise ImproperlyConfigured(f"SSO_SESSION_HOURS must be more than 0, not {hours}")
    return {
        "SOCIALACCOUNT_PROVIDERS": {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": _env_app()}},
        # Only our adapters' rules: users are made on first sign-in, never linked to a local account by email.
        "SOCIALACCOUNT_ADAPTER": "dashboard.sso.adapters.SocialAccountAdapter",
        "ACCOUNT_ADAPTER": "dashboard.sso.adapters.AccountAdapter",
        "SOCIALACCOUNT_AUTO_SIGNUP": True,
        "SOCIALACCOUNT_EMAIL_AUTHENTICATION": False,
        "SOCIALACCOUNT_STORE_TOKENS": False,
        "SOCIALACCOUNT_LOGIN_ON_GET": False,
        "SOCIALACCOUNT_REQUESTS_TIMEOUT": envfloat("OIDC_TIMEOUT_SECONDS", "10"),
        "ACCOUNT_EMAIL_VERIFICATION": "none",
        "ACCOUNT_UNIQUE_EMAIL": False,
        "ACCOUNT_LOGIN_METHODS": {"username"},
        "ACCOUNT_SIGNUP_FIELDS": ["username*", "email"],
        # Which claim the role rules read, the rules from the environment (the admin holds more), how long an SSO
        # session lasts before the claims are read afresh.
        "SSO_ROLE_CLAIM": env("SSO_ROLE_CLAIM", "groups"),
        "SSO_ROLE_RULES": env("SSO_ROLE_RULES"),
        "SSO_SESSION_HOURS": hours,
        # The password form for superusers alone (break-glass).
        "SSO_ONLY": envbool("SSO_ONLY", "false"),
        # TOTP (allauth's MFA) as a second step of a password sign-in; required of superusers when set.
        "SUPERUSER_TOTP_REQUIRED": envbool("SUPERUSER_TOTP_REQUIRED", "false"),
        "MFA_TOTP_ISSUER": env("MFA_TOTP_ISSUER", "Batch dashboard"),
        "MFA_SUPPORTED_TYPES": ["totp"],
    }
