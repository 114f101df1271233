"""Login protection and what an error page may show."""

from __future__ import annotations

import ipaddress
import re

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone
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
    remote = request.META.get("REMOTE_ADDR")
    # Only a proxy's word counts: X-Forwarded-For sent straight to the server by a client is ignored.
    if not count or not _trusted_proxy(remote):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    return hops[-count] if len(hops) >= count else remote


def _trusted_proxy(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.TRUSTED_PROXIES)


class AddressLimitBackend:
    """Against password spraying: beside axes' lockout of one username from one address, refuse every login from
    an address with LOGIN_ADDRESS_FAILURE_LIMIT failures (over any usernames) within LOGIN_LOCKOUT_MINUTES.
    Before ModelBackend in AUTHENTICATION_BACKENDS: its PermissionDenied stops the password check."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        address = client_ip(request)
        since = timezone.now() - settings.AXES_COOLOFF_TIME
        failures = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=since).aggregate(
            n=Sum("failures_since_start")
        )["n"]
        if (failures or 0) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            raise PermissionDenied("too many failed logins from this address")
        return None  # no get_user: never the backend a session is stored under (nor force_login's choice)


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
