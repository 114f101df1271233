"""Every page needs a login; API text is escaped everywhere; CSRF guards every POST."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from batches.models import Batch, Result, Workspace

# logout is POST-only and harmless; login must be reachable; probes and Prometheus log in to nothing
# (tests/dashboard/test_health.py, test_metrics.py); the SSO sign-in's start and return are the login itself
# (tests/dashboard/test_sso.py); the IdP posts its signed logout tokens to the back-channel logout
PUBLIC = {
    "login", "logout", "healthz", "readyz", "metrics", "favicon",
    "openid_connect_login", "openid_connect_callback", "sso_backchannel_logout",
}  # fmt: skip
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


def _patterns(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry, prefix + str(entry.pattern)


def _concrete(route: str) -> str:
    """A URL for a route, with every <converter:name> replaced by a plausible value."""
    import re

    url = re.sub(r"<int:\w+>", "1", route)
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "jsonl" if m.group(1) == "fmt" else "x1", url)
    url = re.sub(r"[\^\$]|\(\?P<\w+>[^)]*\)", "x1", url)  # the admin's regex routes
    return "/" + url.replace("\\", "")


def _app_routes():
    return [(p.name, _concrete(route)) for p, route in _patterns(get_resolver()) if not route.startswith("admin/")]


def test_the_walk_covers_every_dashboard_page():
    names = {name for name, _ in _app_routes()}
    assert {"batch_list", "batch_detail", "result_detail", "batch_refresh", "errors"} <= names


@pytest.mark.parametrize(("name", "url"), [(name, url) for name, url in _app_routes() if name not in PUBLIC])
def test_anonymous_users_are_sent_to_login(db, name, url):
    client = Client()
    # Code's endpoints (REST, schema, the Anthropic pass-through) answer 401, as an API does, never a login page.
    api = url.startswith(("/api/v1", "/api/schema/", "/anthropic"))
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code in ((401, 405) if api else (302, 403, 405)), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith("/login/"), url


def test_the_admin_needs_a_staff_login(db, viewer_client):
    assert Client().get("/admin/batches/workspace/").status_code == 302
    assert viewer_client.get("/admin/batches/workspace/").status_code == 302  # logged in, not staff


@pytest.fixture
def hostile(mirrored):
    """API and upload text carrying markup, in every field that reaches a page."""
    batch = mirrored["ended"]
    item = Result.objects.filter(batch=batch, result_type="errored").first()
    Result.objects.filter(pk=item.pk).update(custom_id=HOSTILE[0], error_message=HOSTILE[1], error_type=HOSTILE[1])
    Batch.objects.filter(pk=batch.pk).update(label=HOSTILE[0])
    Workspace.objects.filter(pk=mirrored["workspace"].pk).update(
        failing_since=batch.created_at,
        consecutive_failures=1,
        last_error_type=HOSTILE[0],
        last_error_message=HOSTILE[1],
    )
    return batch


def test_hostile_markup_is_escaped_on_every_page(viewer_client, hostile):
    from urllib.parse import quote

    pages = ["/", f"/batches/{hostile.id}/", f"/batches/{hostile.id}/?result_type=errored",
             f"/batches/{hostile.id}/results/{quote(HOSTILE[0], safe='')}/", "/errors/"]  # fmt: skip
    for url in pages:
        response = viewer_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for markup in HOSTILE:
            assert markup not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body or "&quot;&gt;&lt;img" in body, url


def test_a_post_without_a_csrf_token_is_refused(viewer, mirrored):
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    url = f"/batches/{mirrored['running'].id}/refresh/"
    assert client.post(url).status_code == 403
    assert client.post(url, headers={"HX-Request": "true"}).status_code == 403


def test_an_htmx_post_with_the_token_from_the_page_is_accepted(viewer, mirrored):
    import re

    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    page = client.get(f"/batches/{mirrored['running'].id}/").content.decode()
    token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    response = client.post(
        f"/batches/{mirrored['running'].id}/refresh/", headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("page", ["/", "/errors/", "batch", "download"])
def test_a_user_without_a_role_is_refused(client, nobody, mirrored, page):
    client.force_login(nobody)
    url = {"batch": f"/batches/{mirrored['ended'].id}/", "download": f"/batches/{mirrored['ended'].id}/download.jsonl"}
    assert client.get(url.get(page, page)).status_code == 403


def test_the_role_groups_exist_with_their_permissions(db):
    from django.contrib.auth.models import Group

    perms = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert perms["Viewer"] == {"view_batch"}
    assert {"cancel_batch", "retry_results", "submit_batch", "attach_inputs"} <= perms["Operator"]
    assert "cancel_batch" not in perms["Auditor"] and "view_audit_log" in perms["Auditor"]
    assert {"change_workspace", "view_audit_log", "cancel_batch"} <= perms["Admin"]
