"""SSO role rules: parsed strictly, matched against the claim, only SSO's own grants ever taken away."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User

from batches.models import AuditEvent, SsoGrant, SsoRoleRule, Workspace, WorkspaceAccess
from batches.roles import sync_role_groups
from batches.services import sso_roles
from batches.services.sso_roles import Grant, RuleError, parse_rules
from tests.processes import ROOT


def test_rules_parse_as_the_docs_write_them():
    assert parse_rules(" ops=Viewer; leads=Auditor;team-a=Operator@workspace-a; ") == [
        ("ops", Grant("Viewer")), ("leads", Grant("Auditor")), ("team-a", Grant("Operator", "workspace-a")),
    ]  # fmt: skip
    assert parse_rules("cn=ops,ou=groups=Viewer") == [("cn=ops,ou=groups", Grant("Viewer"))]  # a DN holds "="
    assert parse_rules("") == []


@pytest.mark.parametrize("text", ["ops", "ops=", "=Viewer", "ops=Viewr", "ops=viewer@ws"])
def test_a_malformed_rule_is_refused_by_name(text):
    with pytest.raises(RuleError, match=repr(text.strip())):
        parse_rules(text)


def test_a_malformed_rule_stops_the_process_at_start():
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env={**__import__("os").environ, "SSO_ROLE_RULES": "ops=Viewr"}, timeout=120)  # fmt: skip
    assert result.returncode != 0 and "SSO_ROLE_RULES: 'ops=Viewr'" in result.stderr


@pytest.mark.django_db
def test_claims_match_rules_from_the_environment_and_the_admin(settings):
    settings.SSO_ROLE_RULES = "ops=Viewer"
    workspace = Workspace(name="ws-b")
    workspace.set_api_key("sk-ant-test-0003-xxxxxxxxxxxxxxxxxxxx")
    workspace.save()
    SsoRoleRule.objects.create(value="team-b", role="Operator", workspace=workspace)
    assert sso_roles.grants_for({"groups": ["ops", "team-b", "other"]}) == {Grant("Viewer"), Grant("Operator", "ws-b")}
    assert sso_roles.grants_for({"groups": "ops"}) == {Grant("Viewer")}  # one group sent as a string
    assert sso_roles.grants_for({"roles": ["ops"]}) == set()  # another claim than SSO_ROLE_CLAIM
    settings.SSO_ROLE_CLAIM = "roles"
    assert sso_roles.grants_for({"roles": ["ops"]}) == {Grant("Viewer")}


@pytest.mark.django_db
def test_a_workspace_role_given_by_hand_is_kept_beside_the_one_sso_gives_and_takes():
    workspace = Workspace(name="ws-c")
    workspace.set_api_key("sk-ant-test-0004-xxxxxxxxxxxxxxxxxxxx")
    workspace.save()
    user = User.objects.create_user("frank")
    WorkspaceAccess.objects.create(user=user, workspace=workspace, roles=["Auditor"])  # by hand
    assert sso_roles.apply(user, {Grant("Operator", "ws-c")}) == {"given": ["Operator@ws-c"]}
    assert WorkspaceAccess.objects.get(user=user).roles == ["Operator", "Auditor"]
    assert sso_roles.apply(user, set()) == {"taken": ["Operator@ws-c"]}
    assert WorkspaceAccess.objects.get(user=user).roles == ["Auditor"]
    assert not SsoGrant.objects.filter(user=user).exists()
    assert [e.params["taken"] for e in AuditEvent.objects.filter(action="sso_roles", params__has_key="taken")] == [
        ["Operator@ws-c"]
    ]
    assert sso_roles.apply(user, {Grant("Auditor", "ws-c")}) == {}  # held by hand: not SSO's to give or take
    assert sso_roles.apply(user, set()) == {} and WorkspaceAccess.objects.get(user=user).roles == ["Auditor"]
    assert sso_roles.has_hand_roles(user)


@pytest.mark.django_db
def test_a_rule_naming_a_missing_workspace_gives_nothing_there():
    sync_role_groups(apps)  # a flush after an earlier transactional test may have emptied the role groups
    user = User.objects.create_user("gina")
    assert sso_roles.apply(user, {Grant("Viewer"), Grant("Operator", "no-such-ws")}) == {"given": ["Viewer"]}
    assert list(user.groups.all()) == [Group.objects.get(name="Viewer")]


@pytest.mark.django_db
def test_the_admin_role_keeps_the_rules_and_reads_the_sign_ins_but_not_the_idps_secrets(client, make_user):
    admin = make_user("lead-admin", "Admin")
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    assert client.get("/admin/batches/signin/").status_code == 200
    assert client.get("/admin/batches/ssorolerule/add/").status_code == 200
    response = client.post("/admin/batches/ssorolerule/add/", {"value": "leads", "role": "Auditor"})
    assert response.status_code == 302 and SsoRoleRule.objects.get().value == "leads"
    assert AuditEvent.objects.get(action="access_change").params["sso_rule"] == "leads = Auditor"
    assert client.get("/admin/socialaccount/socialapp/").status_code == 403  # client secrets: superusers only
