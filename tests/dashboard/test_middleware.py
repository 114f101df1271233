"""Middleware: NUL characters answered 400 everywhere (a fuzz walk of every route), idle sessions end."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django import forms
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

import dashboard
from dashboard.middleware import REFRESHED_KEY

DASHBOARD_DIR = Path(dashboard.__file__).parent
NUL = "a%00b"


def _routes(resolver: URLResolver | None = None, prefix: str = ""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry.name or "", prefix + str(entry.pattern)


def _url(route: str, value: str) -> str:
    """A URL for the route with every converter (and every group of the admin's regex routes) set to value."""
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "jsonl" if m.group(1) == "fmt" else value, route)
    url = re.sub(r"\(\?P<\w+>[^)]*\)", value, url)
    return "/" + re.sub(r"[\^\$]", "", url).replace("\\", "")


def _get_parameter_names() -> set[str]:
    """Every GET parameter a page reads: the fields of every form the views build, and every name the
    code reads from request.GET (or the `params` it is passed) directly."""
    names: set[str] = set()
    for module in pkgutil.walk_packages([str(DASHBOARD_DIR)], "dashboard."):
        if module.name.endswith(("gunicorn_conf", "settings")):
            continue
        for _, obj in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(obj, forms.Form) and obj.__module__.startswith("dashboard"):
                names |= set(obj.base_fields)
    for path in DASHBOARD_DIR.rglob("*.py"):
        names |= set(re.findall(r"(?:GET|params)(?:\.get|\.getlist)?[(\[]\s*\"(\w+)\"", path.read_text()))
    return names


@pytest.fixture
def superuser_client(db):
    client = Client(raise_request_exception=False)  # a 500 is what the walk looks for
    client.force_login(User.objects.create_superuser("root", "", "pw-irrelevant-123"))
    return client


def test_the_walk_knows_the_pages_and_their_parameters():
    names = {name for name, _ in _routes()}
    assert {"batch_list", "batch_detail", "result_detail", "errors", "audit_export", "spend_report"} <= names
    assert {"workspace", "status", "result_type", "error_type", "page", "after", "target", "kind", "batch"} <= (
        _get_parameter_names()
    )


def test_a_nul_in_any_path_is_answered_400_never_500(superuser_client, mirrored):
    for _, route in _routes():
        if "<" not in route and "(?P" not in route:
            continue
        url = _url(route, NUL)
        for response in (superuser_client.get(url), superuser_client.post(url)):
            assert response.status_code in (400, 404), (url, response.status_code)


def test_a_nul_in_any_parameter_of_any_page_is_answered_400_never_500(superuser_client, mirrored):
    batch_id, names = mirrored["ended"].id, sorted(_get_parameter_names() | {"q", "o", "p"})
    for _, route in _routes():
        url = _url(route, batch_id)
        for name in names:
            response = superuser_client.get(url, {name: "x\x00y"})
            assert response.status_code in (400, 404, 405), (url, name, response.status_code)


def test_the_reported_urls_are_400(superuser_client, mirrored):
    for url in ("/batches/a%00b/", "/errors/?workspace=%00", "/audit/export.csv?target=%00", "/?status=%00",
                f"/batches/{mirrored['ended'].id}/results/a%00b/", "/admin/batches/batch/?q=%00"):  # fmt: skip
        assert superuser_client.get(url).status_code == 400, url


def test_a_nul_in_a_form_field_or_cookie_is_answered_400(superuser_client, mirrored):
    response = Client().post("/login/", {"username": "a\x00b", "password": "x"})
    assert response.status_code == 400
    assert superuser_client.post(f"/batches/{mirrored['ended'].id}/cancel/", {"confirmed": "\x00"}).status_code == 400
    superuser_client.cookies["tz"] = "Europe/Paris\x00"
    assert superuser_client.get("/").status_code == 400


def test_ordinary_input_is_not_refused(superuser_client, mirrored):
    assert superuser_client.get("/errors/", {"workspace": "main"}).status_code == 200
    assert superuser_client.get("/audit/export.csv", {"target": "a b%"}).status_code == 200


# --- idle sessions ----------------------------------------------------------------------------------
def _session(client) -> Session:
    return Session.objects.get(session_key=client.cookies["sessionid"].value)


def test_a_session_idle_longer_than_session_idle_seconds_ends(viewer_client):
    assert viewer_client.get("/").status_code == 200
    Session.objects.filter(pk=_session(viewer_client).pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = viewer_client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_request_pushes_the_end_of_the_session_forward_at_most_once_a_minute(viewer_client, settings):
    session = _session(viewer_client)
    data = session.get_decoded()
    assert data[REFRESHED_KEY] >= time.time() - 5  # stamped at login: the next pages write nothing
    with CaptureQueriesContext(connection) as queries:
        viewer_client.get("/")
    assert not any(q["sql"].startswith("UPDATE") and "django_session" in q["sql"] for q in queries)

    # A minute later (its stamp moved back), the next request saves it with a new expiry.
    soon = timezone.now() + timedelta(seconds=60)
    data[REFRESHED_KEY] -= 61
    Session.objects.filter(pk=session.pk).update(session_data=Session.objects.encode(data), expire_date=soon)
    viewer_client.get("/")
    expiry = _session(viewer_client).expire_date
    assert expiry > timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
