"""Back-channel logout: the IdP tells us a user's session there ended, and we end theirs here at once.

The IdP POSTs a signed logout token to <DASHBOARD_URL>/sso/<provider id>/backchannel-logout/ (register it as the
client's back-channel logout URI). No browser is involved, hence no CSRF token: the token's signature is the
proof. A token is taken once (its jti).
"""

from __future__ import annotations

import logging

from allauth.socialaccount.models import SocialAccount, SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.core.cache import cache
from django.core.exceptions import MultipleObjectsReturned
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from requests import RequestException

from batches.services import sign_ins
from dashboard.sso.oidc import CheckedAdapter

log = logging.getLogger(__name__)
JTI_SECONDS = 3600


def _refuse(error: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"error": "invalid_request", "error_description": error}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
def backchannel_logout(request: HttpRequest, provider_id: str) -> HttpResponse:
    adapter = CheckedAdapter(request, provider_id)
    try:
        app = adapter.get_provider().app
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in service") from None
    except MultipleObjectsReturned:  # two providers saved under one id before the admin's rule: trust neither
        return _refuse("two identity providers have this id", status=409)
    try:
        claims = adapter.decode_logout_token(app, request.POST.get("logout_token", ""))
    except RequestException:
        return _refuse("the identity provider's keys could not be read", status=503)
    except (OAuth2Error, ValueError, KeyError):
        return _refuse("the logout token is not valid")
    if not cache.add(f"sso-logout-jti:{claims['jti']}", 1, JTI_SECONDS):
        return _refuse("the logout token was used already")
    account = SocialAccount.objects.filter(provider=app.provider_id, uid=claims.get("sub", "")).first()
    ended = sign_ins.end_idp_session(
        provider=app.name, user=account.user if account else None, idp_session=claims.get("sid", "")
    )
    log.info("back-channel logout from %s ended %d session(s)", app.name, ended)
    response = HttpResponse(status=200)
    response["Cache-Control"] = "no-store"
    return response
