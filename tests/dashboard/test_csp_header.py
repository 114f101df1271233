"""Every page is sent with a Content-Security-Policy that allows no inline code, no eval and no framing.

Whether the pages keep to it is for a browser to say: tests/browser/test_csp.py.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.html import elements

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = (d.strip().split(None, 1) for d in header.split(";") if d.strip())
    return {name: value for name, value in ((d[0], d[1] if len(d) > 1 else "") for d in directives)}


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    return client


@pytest.mark.parametrize(
    "url",
    ["/", "/errors/", "/spend/", "/audit/", "/submit/", "/retry/", "/notifications/",
     "/notifications/channels/", "/notifications/deliveries/", "/admin/", "/admin/batches/batch/",
     "/batches/msgbatch_nope/"],
)  # fmt: skip
def test_every_page_has_the_strict_policy(superuser_client, url):
    response = superuser_client.get(url)
    assert response.status_code in (200, 404), (url, response.status_code)
    found = policy(response)
    assert {name: found.get(name) for name in STRICT} == STRICT, url
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]


def test_the_login_page_and_a_403_have_it_too(db, viewer_client):
    assert policy(Client().get("/login/"))["script-src"] == "'self'"
    forbidden = viewer_client.get("/spend/")
    assert forbidden.status_code == 403 and policy(forbidden)["script-src"] == "'self'"


def test_htmx_is_told_not_to_eval_nor_add_a_style(superuser_client):
    """htmx would otherwise add an inline <style> on every page and run `js:` values: both violations."""
    [meta] = elements(superuser_client.get("/").content.decode(), "meta", name="htmx-config")
    config = json.loads(dict(meta.attributes)["content"])
    assert config == {"includeIndicatorStyles": False, "allowEval": False, "allowScriptTags": False}


def test_a_poll_has_it_and_its_304_leaves_it_as_it_was(superuser_client):
    """A 304 has no body to govern: the browser keeps the policy of the answer it revalidated."""
    rows = {"HX-Request": "true", "HX-Target": "batch-rows"}
    first = superuser_client.get("/", headers=rows)
    assert first.status_code == 200 and policy(first) | STRICT == policy(first)
    again = superuser_client.get("/", headers=rows | {"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and "Content-Security-Policy" not in again.headers
