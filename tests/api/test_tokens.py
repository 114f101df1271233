"""API tokens: shown once and kept hashed, never above their user's rights (now, not when made), refused when
revoked or expired, audited; the command prints a token and nothing else."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from batches.models import ApiToken, AuditEvent, WorkspaceAccess
from batches.services import tokens
from tests.api.conftest import auth


def test_a_token_is_kept_hashed_with_a_visible_prefix_and_its_making_audited(make_user, workspace):
    user = make_user("ana", "Operator")
    token, raw = tokens.issue(user, name="nightly", workspaces=[workspace], role="Operator", expires_days=30)
    stored = ApiToken.objects.get()
    assert raw.startswith("bdt_") and len(raw) > 40
    assert raw not in {stored.digest, stored.prefix, stored.name} and raw.startswith(stored.prefix)
    assert tokens.authenticate(raw) == token
    assert timedelta(days=29) < stored.expires_at - timezone.now() <= timedelta(days=30)
    event = AuditEvent.objects.get(action="token_create")
    assert event.actor_name == "ana" and event.params["workspaces"] == ["main"] and raw not in str(event.params)


def test_a_token_cannot_be_made_above_its_users_role(make_user, make_workspace):
    main, other = make_workspace("main"), make_workspace("other")
    viewer = make_user("vic", "Viewer")
    with pytest.raises(tokens.TokenError, match="does not hold the Operator role"):
        tokens.issue(viewer, name="x", workspaces=[main], role="Operator")
    scoped = make_user("sam", "Operator")
    WorkspaceAccess.objects.create(user=scoped, workspace=main, role="Operator")
    with pytest.raises(tokens.TokenError, match="has not been given the workspace other"):
        tokens.issue(scoped, name="x", workspaces=[other], role="Viewer")
    assert not ApiToken.objects.exists()


def test_revoked_and_expired_tokens_answer_401(client, make_user, workspace, make_token):
    user = make_user("ana", "Operator")
    revoked, expired = make_token(user, [workspace]), make_token(user, [workspace], expires_days=1)
    assert client.get("/api/v1/batches", **auth(revoked)).status_code == 200
    tokens.revoke(ApiToken.objects.get(prefix=revoked[:12]), by=user)
    ApiToken.objects.filter(prefix=expired[:12]).update(expires_at=timezone.now() - timedelta(seconds=1))
    for raw in (revoked, expired, "bdt_not-a-token", "sk-ant-whatever"):
        response = client.get("/api/v1/batches", **auth(raw))
        assert response.status_code == 401
        assert response.json()["error"] == {"type": "authentication_error", "message": "This token is unknown, "
                                            "revoked or expired."}  # fmt: skip
    assert client.get("/api/v1/batches").status_code == 401  # no token, no session
    assert AuditEvent.objects.filter(action="token_revoke", actor_name="ana").count() == 1


def test_losing_a_role_takes_it_from_the_token_at_once(client, make_user, mirrored, make_token):
    user = make_user("olga", "Operator")
    raw = make_token(user, [mirrored["workspace"]], "Operator")
    running = mirrored["running"].pk
    user.groups.clear()  # an Admin takes her roles away
    response = client.post(f"/api/v1/batches/{running}/cancel", **auth(raw))
    assert response.status_code == 403
    assert client.get("/api/v1/batches", **auth(raw)).status_code == 403
    mirrored["running"].refresh_from_db()
    assert mirrored["running"].cancel_requested_at is None


def test_bearer_is_accepted_as_well_as_x_api_key(client, make_user, workspace, make_token):
    raw = make_token(make_user("ana", "Viewer"), [workspace])
    assert client.get("/api/v1/batches", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    ApiToken.objects.update(last_used_at=None)
    assert client.get("/api/v1/batches", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert ApiToken.objects.get().last_used_at is not None


def test_the_command_prints_a_token_and_nothing_else(make_user, workspace):
    make_user("bot", "Operator")
    out = StringIO()
    call_command("create_api_token", "bot", "--workspace", "main", "--role", "Operator", "--expires-days", "7",
                 stdout=out)  # fmt: skip
    raw = out.getvalue().strip()
    assert "\n" not in raw and tokens.authenticate(raw).role == "Operator"
    with pytest.raises(CommandError, match="does not hold the Admin role"):
        call_command("create_api_token", "bot", "--role", "Admin", stdout=StringIO())
    with pytest.raises(CommandError, match="no workspace nowhere"):
        call_command("create_api_token", "bot", "--workspace", "nowhere", stdout=StringIO())
