"""Liveness and readiness for load balancers and monitors: no login, and nothing secret in the answer."""

from __future__ import annotations

from celery import current_app as celery_app
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from batches.models import Heartbeat

BROKER_TIMEOUT_SECONDS = 2.0


@require_safe
@never_cache
def healthz(request):
    """The process serves requests. Touches nothing else, the database included."""
    return HttpResponse("ok", content_type="text/plain")


@require_safe
@never_cache
def readyz(request):
    """Each part the dashboard needs, by name: 200 if all pass, else 503 naming those that fail."""
    checks = {"database": _database(), "broker": _broker()}
    if checks["database"]["ok"]:
        checks.update(_heartbeats())
    else:
        checks.update(dict.fromkeys((Heartbeat.BEAT, Heartbeat.WORKER), _failed("database unavailable")))
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "failing" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


def _failed(error: str) -> dict:
    return {"ok": False, "error": error}


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        # The class only: a driver's message names the host, port and user.
        return _failed(type(exc).__name__)
    return {"ok": True}


def _broker() -> dict:
    """A real connection to the configured broker, given BROKER_TIMEOUT_SECONDS in all."""
    try:
        with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return _failed(type(exc).__name__)  # the URL may carry a password; never echo it
    return {"ok": True}


def _heartbeats() -> dict:
    """Beat sends the heartbeat task every SYNC_INTERVAL_SECONDS and a worker runs it: each must have
    happened within two intervals."""
    limit = 2 * settings.SYNC_INTERVAL_SECONDS
    seen = dict(Heartbeat.objects.values_list("name", "at"))
    checks = {}
    for name in (Heartbeat.BEAT, Heartbeat.WORKER):
        if name not in seen:
            checks[name] = _failed("never seen")
            continue
        age = round((timezone.now() - seen[name]).total_seconds(), 1)
        checks[name] = {"ok": age < limit, "age_seconds": age, "limit_seconds": limit}
    return checks
