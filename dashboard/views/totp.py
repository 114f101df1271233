"""The second step of a password sign-in: a TOTP code (allauth's MFA), for accounts that enrolled one, and for
superusers when SUPERUSER_TOTP_REQUIRED (who enroll here at their first sign-in if they have none yet)."""

from __future__ import annotations

import time

from allauth.mfa.adapter import get_adapter as mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, validate_totp_code
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from batches.services import audit, sign_ins
from dashboard.security import client_ip

PENDING = "totp_pending"
PENDING_SECONDS = 300
MAX_TRIES = 5


def needs_totp(user) -> bool:
    enrolled = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    return enrolled or (user.is_superuser and settings.SUPERUSER_TOTP_REQUIRED)


def second_step(request, user, next_url: str):
    """The password was right: hold the sign-in until the code is, in this session alone."""
    request.session[PENDING] = {"user": user.pk, "at": time.time(), "tries": 0, "next": next_url}
    return redirect("login_totp")


@require_http_methods(["GET", "POST"])
def login_totp(request):
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        messages.error(request, "Sign in again: the code was not given in time.")
        return redirect("login")
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:  # deleted or disabled by an Admin between the two steps
        request.session.pop(PENDING, None)
        messages.error(request, "Sign in again: this account can no longer sign in.")
        return redirect("login")
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        pending.setdefault("secret", generate_totp_secret())
    error = ""
    if request.method == "POST":
        code = request.POST.get("code", "").replace(" ", "")
        if authenticator is not None:
            valid = TOTP(authenticator).validate_code(code)
        else:
            valid = validate_totp_code(pending["secret"], code)
        if valid:
            if authenticator is None:
                TOTP.activate(user, pending["secret"]).validate_code(code)  # marks this code used
                audit.record(user, "user_change", user.get_username(), params={"totp": "enrolled"})
            del request.session[PENDING]
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            sign_ins.record(user, method="password", provider="password + TOTP", ip_address=client_ip(request),
                            session_key=request.session.session_key or "")  # fmt: skip
            return redirect(pending["next"] or settings.LOGIN_REDIRECT_URL)
        # A wrong code is a failed sign-in for the lockout (axes, per name and address), as a wrong password is: the
        # password again opens a new pending sign-in, so MAX_TRIES alone let whoever holds the password guess on for
        # ever, five codes at a time. After LOGIN_FAILURE_LIMIT the password step itself is locked out.
        user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
        pending["tries"] += 1
        if pending["tries"] >= MAX_TRIES:
            del request.session[PENDING]
            audit.record(None, "lockout", user.get_username(), outcome="error", detail="too many wrong TOTP codes")
            messages.error(request, "Too many wrong codes: sign in again.")
            return redirect("login")
        error = "That code is not right (or was used already). Try the current one."
    request.session[PENDING] = pending
    context = {"error": error, "enrolling": authenticator is None}
    if authenticator is None:
        context["secret"] = pending["secret"]
        context["totp_url"] = mfa_adapter().build_totp_url(user, pending["secret"])
    return render(request, "registration/login_totp.html", context)
