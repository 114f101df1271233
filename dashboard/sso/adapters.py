"""allauth's hooks: who may sign in with SSO, refusals said clearly and audited, never a local sign-up."""

from __future__ import annotations

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base.constants import AuthError
from django.core.cache import cache
from django.shortcuts import render
from requests import RequestException

from batches.services import audit, sign_ins, sso_roles
from dashboard.security import client_ip
from dashboard.sso import refusals
from dashboard.sso.refusals import Refused

log = logging.getLogger(__name__)
NONCE_SECONDS = 3600
GRANTS_ATTR = "_sso_grants"


def refusal_response(request, code: str, *, provider: str = "", username: str = "", user=None):
    """Audit and record a refused sign-in, and the page that says why (503 when the IdP is unreachable)."""
    reason = refusals.text(code)
    audit.record(user, "sso_refused", username, params={"provider": provider, "reason": code}, outcome="error",
                 detail=reason)  # fmt: skip
    sign_ins.record(user, method="sso", username=username, provider=provider, ok=False, reason=code,
                    ip_address=client_ip(request))  # fmt: skip
    status = 503 if code == "unreachable" else 403
    return render(request, "sso/refused.html", {"reason": reason, "heading": refusals.heading(code)}, status=status)


def claims_of(sociallogin) -> tuple[dict, dict]:
    data = sociallogin.account.extra_data or {}
    return data.get("id_token") or {}, data.get("userinfo") or {}


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return True  # a user is made at their first SSO sign-in, if their claims give them a role

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return True  # never the sign-up form: the IdP's word is the whole profile

    def pre_social_login(self, request, sociallogin) -> None:
        id_token, userinfo = claims_of(sociallogin)
        provider = sociallogin.provider.name if sociallogin.provider else ""
        username = userinfo.get("preferred_username") or id_token.get("email") or userinfo.get("email") or ""
        existing = sociallogin.user if sociallogin.is_existing else None

        def refuse(code: str):
            raise ImmediateHttpResponse(
                refusal_response(request, code, provider=provider, username=username, user=existing)
            )

        if not id_token:
            refuse("no_id_token")
        nonce = (sociallogin.state or {}).get("nonce")
        if not nonce or id_token.get("nonce") != nonce or not cache.add(f"sso-nonce:{nonce}", 1, NONCE_SECONDS):
            refuse("nonce")
        if userinfo and userinfo.get("sub") != id_token.get("sub"):
            refuse("subject")
        if existing is not None and not existing.is_active:
            refuse("inactive")
        try:
            grants = sso_roles.grants_for({**id_token, **userinfo})
        except sso_roles.RuleError:
            log.exception("SSO role rules are misconfigured")
            refuse("rules")
        if not grants and not (existing and sso_roles.has_hand_roles(existing)):
            if existing:  # their groups were taken away at the IdP: so are the roles SSO gave them
                sso_roles.apply(existing, set(), provider=provider)
            refuse("no_access")
        setattr(request, GRANTS_ATTR, (grants, provider, id_token.get("sid", "")))

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None) -> None:
        if isinstance(exception, Refused):
            code = exception.code
        elif isinstance(exception, RequestException):
            code = "unreachable"
        elif error == AuthError.CANCELLED:
            code = "cancelled"
        elif exception is None and request.GET.get("error"):
            code = "idp_error"
        elif exception is None:
            code = "state"
        else:
            code = "bad_token"
        if exception is not None and not isinstance(exception, Refused):
            log.warning("SSO sign-in refused (%s): %r", code, exception)
        raise ImmediateHttpResponse(refusal_response(request, code, provider=getattr(provider, "name", "")))


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False  # no local sign-up page: local accounts are made by an Admin
