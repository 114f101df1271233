"""My API tokens: a token made on the page is shown once and works; its role cannot exceed the user's; its owner
or an Admin revokes it (CSRF-protected forms, audited); nobody else sees it."""

from __future__ import annotations

from django.test import Client

from batches.models import ApiToken, AuditEvent
from tests.html import element, text


def test_a_token_is_shown_once_and_works(client, make_user, workspace):
    client.force_login(make_user("olga", "Operator"))
    page = client.post(
        "/tokens/", {"name": "nightly-run", "workspaces": ["main"], "role": "Operator", "expires_days": 30}
    )
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    raw = text(element(page.content.decode(), "code", **{"data-token": None}))
    assert raw.startswith("bdt_")
    assert client.get("/api/v1/batches", HTTP_X_API_KEY=raw).status_code == 200
    again = client.get("/tokens/").content.decode()
    assert raw not in again and raw[:12] in again and "nightly-run" in again  # the prefix only, from now on


def test_a_role_above_the_users_own_is_refused(client, make_user, workspace):
    client.force_login(make_user("vic", "Viewer"))
    page = client.post("/tokens/", {"name": "x", "workspaces": ["main"], "role": "Operator"})
    assert page.status_code == 400 and "does not hold the Operator role in main" in page.content.decode()
    assert not ApiToken.objects.exists()


def test_the_owner_or_an_admin_revokes_and_no_one_else(make_user, workspace):
    from batches.services import tokens

    olga, other, admin = make_user("olga", "Operator"), make_user("otto", "Operator"), make_user("ada", "Admin")
    token, raw = tokens.issue(olga, name="nightly-run", workspaces=[workspace], role="Viewer")
    stranger = Client()
    stranger.force_login(other)
    assert "nightly-run" not in stranger.get("/tokens/").content.decode()
    assert stranger.post(f"/tokens/{token.pk}/revoke/", {"confirmed": "yes"}).status_code == 404
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(admin)
    assert checked.post(f"/tokens/{token.pk}/revoke/").status_code == 403  # no CSRF token
    boss = Client()
    boss.force_login(admin)
    assert "nightly-run" in boss.get("/tokens/").content.decode()
    assert boss.post(f"/tokens/{token.pk}/revoke/", {"confirmed": "yes"}).status_code == 302
    assert Client().get("/api/v1/batches", HTTP_X_API_KEY=raw).status_code == 401
    assert AuditEvent.objects.get(action="token_revoke").actor_name == "ada"


def test_revoke_asks_first_and_one_click_changes_nothing(client, make_user, workspace):
    """Revoke was one click on the list: a stray click stopped every pipeline using the token. The button now asks,
    on a page of its own (no JavaScript needed), and only the confirmed form revokes."""
    from batches.services import tokens

    olga = make_user("olga", "Operator")
    token, raw = tokens.issue(olga, name="nightly-run", workspaces=[workspace], role="Viewer")
    client.force_login(olga)

    asked = client.post(f"/tokens/{token.pk}/revoke/")

    assert asked.status_code == 200
    page = asked.content.decode()
    assert "“nightly-run” is refused from its next call" in text(element(page, "section", class_="card narrow"))
    element(element(page, "form", action=f"/tokens/{token.pk}/revoke/"), "input", name="confirmed", value="yes")
    assert client.get("/api/v1/batches", HTTP_X_API_KEY=raw).status_code == 200  # still works
    assert not AuditEvent.objects.filter(action="token_revoke").exists()
    done = client.post(f"/tokens/{token.pk}/revoke/", {"confirmed": "yes"})
    assert done.status_code == 302 and client.get("/api/v1/batches", HTTP_X_API_KEY=raw).status_code == 401


def test_the_page_needs_a_login(client):
    assert client.get("/tokens/").status_code == 302


def test_sending_the_same_form_again_makes_no_second_token(client, make_user, workspace):
    """A reload of the page that showed the token sends its form again: that made a second live token, its secret
    shown in place of the first's. The form carries its own id; the second send makes nothing and says so."""
    import re

    client.force_login(make_user("olga", "Operator"))
    form = client.get("/tokens/").content.decode()
    once = re.search(r'name="once" value="([^"]+)"', form).group(1)
    fields = {"name": "nightly-run", "workspaces": ["main"], "role": "Operator", "once": once}
    assert client.post("/tokens/", fields).status_code == 200
    again = client.post("/tokens/", fields, follow=True)
    assert "sent already" in again.content.decode() and "data-token" not in again.content.decode()
    assert ApiToken.objects.count() == 1
    fields["once"] = re.search(r'name="once" value="([^"]+)"', again.content.decode()).group(1)
    assert client.post("/tokens/", fields).status_code == 200  # a new form: a new token, asked on purpose
    assert ApiToken.objects.count() == 2
