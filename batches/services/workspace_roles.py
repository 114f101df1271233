"""Workspace-scoped access: a user given chosen workspaces holds each one's roles there, and nothing elsewhere.

A user with no WorkspaceAccess row is unscoped: every workspace, with the permissions of their groups, as
before. A scoped user's permissions come from their roles in their workspaces only (a workspace's roles
together, batches/roles.py WORKSPACE_ROLES): asked without an object, Django's `has_perm` answers whether any
of their workspaces allows it (menus, page gates); dashboard/access.py asks per workspace for each object.
"""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from batches.models import WorkspaceAccess
from batches.roles import WORKSPACE_ROLES


def workspace_roles(user) -> dict[int, frozenset[str]] | None:
    """{workspace id: codenames} for a scoped user, None for an unscoped one: one query, kept on the user."""
    if not getattr(user, "is_authenticated", False):
        return {}
    if not hasattr(user, "_workspace_roles"):
        rows = WorkspaceAccess.objects.filter(user=user).values_list("workspace_id", "roles")
        user._workspace_roles = {ws: _codenames(roles) for ws, roles in rows} or None
    return user._workspace_roles


def _codenames(roles: list[str]) -> frozenset[str]:
    """What several roles in one workspace allow together: the union of each one's permissions."""
    return frozenset().union(*(WORKSPACE_ROLES.get(role, frozenset()) for role in roles or []))


def visible_workspace_ids(user) -> list[int] | None:
    roles = workspace_roles(user)
    return None if roles is None else sorted(roles)


def may(user, codename: str, workspace_id: int | None) -> bool:
    """Whether the user may do `codename` (a batches permission) in that workspace."""
    roles = workspace_roles(user)
    if roles is None or user.is_superuser:
        return user.has_perm(f"batches.{codename}")
    return codename in roles.get(workspace_id, frozenset())


class WorkspaceRoleBackend(BaseBackend):
    """Gives a scoped user the permissions of their workspace roles (asked without an object: of any of them)."""

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not getattr(user_obj, "is_active", False):
            return set()
        roles = workspace_roles(user_obj)
        if not roles:
            return set()
        return {f"batches.{codename}" for codenames in roles.values() for codename in codenames}

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)
