"""The OpenAPI schema is valid without a warning, needs a login or token, and its docs page works offline."""

from __future__ import annotations

import re

from django.core.management import call_command

from tests.api.conftest import auth


def test_the_schema_validates_without_warnings(tmp_path):
    # Raises on any warning or error (drf-spectacular's own OpenAPI 3 validation).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/batches/{batch_id}/cancel" in (tmp_path / "schema.yaml").read_text()


def test_the_schema_needs_a_token_or_a_login(client, make_user, workspace, make_token):
    assert client.get("/api/schema/").status_code == 401
    raw = make_token(make_user("vic", "Viewer"), [workspace])
    assert client.get("/api/schema/", **auth(raw)).status_code == 200


def test_the_docs_page_is_served_from_static_files(client, make_user):
    assert client.get("/api/docs/").status_code == 302  # to the login page
    client.force_login(make_user("vic", "Viewer"))
    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in a for a in assets)
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]  # no CDN
    assert "<script>" not in page  # no inline script: the Content-Security-Policy allows none
    assert "<style" not in page and "style=" not in page  # nor inline style (style-src 'self'): a browser logged one
    assert 'href="/"' in page  # and a way back to the dashboard
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
