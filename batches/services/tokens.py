"""API tokens: made (shown once), recognised, limited, revoked. Every creation and revocation is audited.

A token's rights in a workspace are its role's, intersected with what its user holds there *now*: taking a role
from a user takes it from their tokens at the next request, with nothing to update.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from batches.models import ApiToken, Workspace
from batches.roles import WORKSPACE_ROLES, WORKSPACE_SCOPED
from batches.services import audit, workspace_roles

PREFIX = "bdt_"
# last_used_at is written at most this often per token: a pipeline's thousand calls a minute make one write.
LAST_USED_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """What was asked cannot be given (a role above the user's own, a workspace they do not hold)."""


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def user_rights(user, among: list[int] | None = None) -> dict[int, frozenset[str]]:
    """{workspace id: codenames} the user holds now, in every workspace they may act in (`among`: in these
    existing workspaces only, which spares an unscoped user the query for every workspace)."""
    if not user.is_active:
        return {}
    roles = workspace_roles.workspace_roles(user)
    if roles is not None and not user.is_superuser:
        return dict(roles)
    held = WORKSPACE_SCOPED if user.is_superuser else frozenset(
        codename for codename in WORKSPACE_SCOPED if user.has_perm(f"batches.{codename}")
    )  # fmt: skip
    if not held:
        return {}
    return {pk: held for pk in (Workspace.objects.values_list("pk", flat=True) if among is None else among)}


def rights(token: ApiToken) -> dict[int, frozenset[str]]:
    """{workspace id: codenames} the token may use now: its role's, within what its user holds now."""
    role = WORKSPACE_ROLES.get(token.role, frozenset())
    chosen = list(held_workspaces(token))  # rows of the m2m: workspaces that exist
    held = user_rights(token.user, among=chosen)
    return {ws: held[ws] & role for ws in chosen if ws in held and held[ws] & role}


def held_workspaces(token: ApiToken) -> dict[int, Workspace]:
    """{id: workspace} the token was given, read once per request: the pass-through acts in one of them, so its
    rights and the workspace it forwards with come from the same query."""
    if not hasattr(token, "_held_workspaces"):
        token._held_workspaces = {workspace.pk: workspace for workspace in token.workspaces.order_by("name")}
    return token._held_workspaces


def issue(
    user: AbstractBaseUser, *, name: str, workspaces: list[Workspace], role: str, expires_days: int | None = None,
    by: AbstractBaseUser | None = None,
) -> tuple[ApiToken, str]:  # fmt: skip
    """A new token and its text (shown once, never kept). Refused when it would exceed the user's own rights."""
    if role not in WORKSPACE_ROLES:
        raise TokenError(f"There is no role {role!r}: choose one of {', '.join(WORKSPACE_ROLES)}.")
    if not workspaces:
        raise TokenError("Choose at least one workspace.")
    held = user_rights(user)
    for workspace in workspaces:
        if workspace.pk not in held:
            raise TokenError(f"{user} has not been given the workspace {workspace.name}.")
        if not WORKSPACE_ROLES[role] <= held[workspace.pk]:
            raise TokenError(f"{user} does not hold the {role} role in {workspace.name}: a token cannot exceed it.")
    if expires_days is not None and expires_days < 1:
        raise TokenError("A token expires after one day at the soonest.")
    raw = PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name[:100], prefix=raw[:12], digest=digest(raw), role=role, expires_at=expires_at
        )
        token.workspaces.set(workspaces)
        audit.record(by or user, "token_create", f"token {token.prefix}", params={
            "owner": user.get_username(), "name": token.name, "role": role,
            "workspaces": sorted(w.name for w in workspaces), "expires_at": expires_at and expires_at.isoformat(),
        })  # fmt: skip
    return token, raw


def authenticate(raw: str) -> ApiToken | None:
    """The usable token this text is, with its user; None for anything else (unknown, revoked, expired)."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=digest(raw)).first()
    now = timezone.now()
    if token is None or not token.usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke(token: ApiToken, by: AbstractBaseUser) -> bool:
    """Revoke it (its owner, or an Admin). False when it was revoked already."""
    with transaction.atomic():
        done = ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now(), revoked_by=by)
        if done:
            audit.record(by, "token_revoke", f"token {token.prefix}", params={
                "owner": token.user.get_username(), "name": token.name,
            })  # fmt: skip
    token.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(done)
