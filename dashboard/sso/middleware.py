"""An SSO session lasts SSO_SESSION_HOURS; then the user signs in again, and the claims are read afresh."""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse

from dashboard.sso.signals import SSO_UNTIL


class SsoSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        until = request.session.get(SSO_UNTIL) if request.user.is_authenticated else None
        if until is not None and time.time() > until:
            logout(request)
            messages.info(request, "Your single sign-on session has ended: sign in again.")
            response = redirect_to_login(request.get_full_path())
            if request.headers.get("HX-Request"):  # a poll: the whole page goes to the login, not the fragment
                response = HttpResponse(status=204, headers={"HX-Redirect": response["Location"]})
            return response
        return self.get_response(request)
