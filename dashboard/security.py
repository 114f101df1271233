"""Login protection and what an error page may show."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.views.debug import SafeExceptionReporterFilter

from batches.services import audit


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, which masks keys, tokens and passwords, also masking URLs and DSNs: a database or
    broker URL carries its password (settings DATABASES, CELERY_BROKER_URL; DATABASE_URL, REDIS_URL in
    the environment, which the debug page lists among the request's META)."""

    hidden_settings = re.compile("API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN|BROKER|DATABASE", flags=re.I)


def client_ip(request) -> str | None:
    """The address failed logins are counted against: the connection's, or behind TRUSTED_PROXY_COUNT
    proxies the one the outermost of them saw (each appends to X-Forwarded-For; earlier entries are the
    client's own word, and could be anything)."""
    count = settings.TRUSTED_PROXY_COUNT
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    if count and len(hops) >= count:
        return hops[-count]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, saying why it refuses and for how long (429)."""
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    messages.error(
        request,
        f"Too many failed logins: this account is locked from your address for {minutes} minutes, even with the "
        "right password. Try again later, or ask an Admin to unlock it.",
    )
    return render(request, "registration/login.html", {"form": AuthenticationForm(request)}, status=429)


def record_lockout(sender, request, username, ip_address, **kwargs) -> None:
    """Write a lockout to the audit log once, when it starts (axes signals every refused try after it)."""
    if getattr(request, "axes_failures_since_start", settings.AXES_FAILURE_LIMIT) != settings.AXES_FAILURE_LIMIT:
        return
    audit.record(
        None, "lockout", username or "", params={"username": username, "ip_address": ip_address}, outcome="error",
        detail=f"locked after {settings.AXES_FAILURE_LIMIT} failed logins",
    )  # fmt: skip
