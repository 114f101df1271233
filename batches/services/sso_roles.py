"""An IdP's claims as roles: rules map a claim value (a group) to a role, site-wide or in one workspace.

The rules come from SSO_ROLE_RULES (`ops=Viewer;leads=Auditor;team-a=Operator@workspace-a`) and from the admin
(SsoRoleRule). At every SSO sign-in the grants are recomputed: roles the claims no longer give are taken away,
new ones given. Only grants SSO made (SsoGrant rows) are ever taken away: a role given by hand stays.
A site-wide role is the Django group of that name; a workspace role is a WorkspaceAccess row (which makes the
user see only their workspaces: batches/services/workspace_roles.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from batches.models import SsoGrant, SsoRoleRule, Workspace, WorkspaceAccess
from batches.roles import ROLES, WORKSPACE_ROLES
from batches.services import audit


class RuleError(ValueError):
    """A rule that names no known role or workspace: said in full, never skipped in silence."""


@dataclass(frozen=True, order=True)
class Grant:
    role: str
    workspace: str = ""  # a workspace's name; empty: site-wide

    def __str__(self) -> str:
        return f"{self.role}@{self.workspace}" if self.workspace else self.role


def parse_rules(text: str) -> list[tuple[str, Grant]]:
    """`value=Role` or `value=Role@workspace`, separated by `;`. Raises RuleError on a malformed rule."""
    rules = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        value, sep, target = part.rpartition("=")
        role, _, workspace = target.strip().partition("@")
        value, role, workspace = value.strip(), role.strip(), workspace.strip()
        if not sep or not value or role not in ROLES:
            raise RuleError(f"SSO_ROLE_RULES: {part!r} is not value=Role or value=Role@workspace "
                            f"(roles: {', '.join(ROLES)})")  # fmt: skip
        if workspace and role not in WORKSPACE_ROLES:
            raise RuleError(f"SSO_ROLE_RULES: {part!r}: {role} is not a workspace role")
        rules.append((value, Grant(role, workspace)))
    return rules


def rules() -> list[tuple[str, Grant]]:
    kept = SsoRoleRule.objects.select_related("workspace")
    return parse_rules(settings.SSO_ROLE_RULES) + [
        (r.value, Grant(r.role, r.workspace.name if r.workspace_id else "")) for r in kept
    ]


def claim_values(claims: dict) -> set[str]:
    """The role claim's values: a list of strings, or one string (some IdPs send a lone group so)."""
    value = claims.get(settings.SSO_ROLE_CLAIM)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple):
        return {str(v) for v in value}
    return set()


def grants_for(claims: dict) -> set[Grant]:
    values = claim_values(claims)
    return {grant for value, grant in rules() if value in values}


def has_hand_roles(user) -> bool:
    """Whether the user holds any role SSO did not give (an Admin's doing), or is a superuser."""
    if user.is_superuser:
        return True
    from_sso = set(SsoGrant.objects.filter(user=user).values_list("role", "workspace_id"))
    groups = {(name, None) for name in user.groups.values_list("name", flat=True)}
    rows = WorkspaceAccess.objects.filter(user=user).values_list("workspace_id", "roles")
    access = {(role, ws) for ws, roles in rows for role in roles}
    return bool((groups | access) - from_sso)


def apply(user, grants: set[Grant], *, provider: str = "") -> dict[str, list[str]]:
    """Make the user's SSO-made roles exactly `grants`; returns what changed ({"given": [...], "taken": [...]}),
    audited as `sso_roles` when anything did. A grant naming a workspace that does not exist is left out."""
    workspaces = dict(Workspace.objects.filter(name__in={g.workspace for g in grants}).values_list("name", "pk"))
    names = {pk: name for name, pk in workspaces.items()}
    with transaction.atomic():
        held = {(g.role, g.workspace_id): g for g in SsoGrant.objects.select_for_update().filter(user=user)}
        names.update(Workspace.objects.filter(pk__in=[ws for _, ws in held if ws]).values_list("pk", "name"))
        wanted = {(g.role, workspaces.get(g.workspace)) for g in grants if not g.workspace or g.workspace in workspaces}
        given, taken = [], []
        for role, ws in held.keys() - wanted:
            if ws is None:
                user.groups.remove(*Group.objects.filter(name=role))
            elif access := WorkspaceAccess.objects.filter(user=user, workspace_id=ws).first():
                access.roles = [r for r in access.roles if r != role]
                access.save() if access.roles else access.delete()
            held[(role, ws)].delete()
            taken.append(str(Grant(role, names.get(ws, ""))))
        for role, ws in wanted - held.keys():
            if ws is None:
                group = Group.objects.filter(name=role).first()
                if group is None or user.groups.filter(pk=group.pk).exists():
                    continue  # held by hand already: stays the Admin's
                user.groups.add(group)
            else:
                access = WorkspaceAccess.objects.filter(user=user, workspace_id=ws).first()
                if access is None:
                    WorkspaceAccess.objects.create(user=user, workspace_id=ws, roles=[role])
                elif role in access.roles:
                    continue  # held by hand already: stays the Admin's
                else:
                    access.roles = [*access.roles, role]
                    access.save()
            SsoGrant.objects.create(user=user, role=role, workspace_id=ws)
            given.append(str(Grant(role, names.get(ws, ""))))
        changes = {k: sorted(v) for k, v in (("given", given), ("taken", taken)) if v}
        if changes:
            audit.record(user, "sso_roles", user.get_username(), params={**changes, "provider": provider})
    if hasattr(user, "_workspace_roles"):
        del user._workspace_roles
    return changes
