"""Start an SSO sign-in (a POST from the login page) and take the IdP's answer."""

from __future__ import annotations

import logging
import secrets

from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from django.core.exceptions import MultipleObjectsReturned
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from requests import RequestException

from dashboard.sso.adapters import refusal_response
from dashboard.sso.oidc import CheckedAdapter

log = logging.getLogger(__name__)


@require_POST
def sso_login(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Redirect to the IdP with PKCE, state and a nonce (both kept in the sign-in's one-time state)."""
    adapter = CheckedAdapter(request, provider_id)
    try:
        provider = adapter.get_provider()
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in service") from None
    except MultipleObjectsReturned:  # allauth raises the bare one
        return _ambiguous(request, provider_id)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    nonce = secrets.token_urlsafe(32)
    try:
        auth_params = {**provider.get_auth_params(), "nonce": nonce}
        return provider.redirect(request, "login", next_url=next_url or None, auth_params=auth_params, nonce=nonce)
    except (RequestException, ValueError, KeyError):  # discovery failed, or answered no JSON
        return refusal_response(request, "unreachable", provider=provider.name)


def sso_callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    adapter = CheckedAdapter(request, provider_id)
    try:
        return OAuth2CallbackView.adapter_view(adapter)(request)
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in service") from None
    except MultipleObjectsReturned:  # allauth raises the bare one
        return _ambiguous(request, provider_id)
    except (RequestException, ValueError, KeyError):  # discovery failed before the token exchange began
        return refusal_response(request, "unreachable", provider=adapter.get_provider().name)


def _ambiguous(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Two identity providers saved under one provider id (the admin allows it): which one to trust is not ours to
    guess. allauth raised MultipleObjectsReturned (a 500)."""
    log.error("SSO: more than one identity provider has the provider id %r; an Admin must keep one", provider_id)
    return refusal_response(request, "ambiguous", provider=provider_id)
