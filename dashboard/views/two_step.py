"""Two-step sign-in for one's own local account: enroll an authenticator app (allauth's MFA TOTP), so that a
password sign-in also asks for its code (dashboard/views/totp.py). SSO accounts sign in at their IdP, which
owns their second factor."""

from __future__ import annotations

from allauth.mfa.adapter import get_adapter as mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, validate_totp_code
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from batches.services import audit
from dashboard.access import HtmxHttpRequest

SECRET = "two_step_secret"


@never_cache  # the page shows a secret key
@login_required
@require_http_methods(["GET", "POST"])
def two_step(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    enrolled = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    context = {"enrolled": enrolled, "local": user.has_usable_password(), "error": ""}
    if enrolled or not context["local"]:
        return render(request, "registration/two_step.html", context)
    secret = request.session.setdefault(SECRET, generate_totp_secret())
    if request.method == "POST":
        code = request.POST.get("code", "").replace(" ", "")
        if validate_totp_code(secret, code):
            TOTP.activate(user, secret).validate_code(code)  # marks this code used
            del request.session[SECRET]
            audit.record(user, "user_change", user.get_username(), params={"totp": "enrolled"})
            messages.success(request, "Two-step sign-in is on: a password sign-in now also asks for a code.")
            return redirect("two_step")
        context["error"] = "That code is not right. Type the one your app shows now."
    context |= {"secret": secret, "totp_url": mfa_adapter().build_totp_url(user, secret)}
    return render(request, "registration/two_step.html", context)
