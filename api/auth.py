"""Who a REST or pass-through call is: a token (`x-api-key`, as the SDK sends it, or `Authorization: Bearer`),
or a logged-in browser session (the API's docs page).

A token's user is given the token's rights alone for the request, on that request's own user object: its
workspace roles as batches/services/tokens.rights computes them, and nothing from its groups. So everything
dashboard/access.py answers (visible workspaces, `may`, `has_perm`) is the token's answer, with no other code path.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions, permissions

from batches.models import ApiToken
from batches.services import tokens
from dashboard.access import needed_roles

UNKNOWN = "This token is unknown, revoked or expired."


def token_text(meta: dict) -> str:
    """The token as the request carries it, or ""."""
    if key := meta.get("HTTP_X_API_KEY", ""):
        return key.strip()
    scheme, _, value = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def as_token_user(token: ApiToken):
    """The token's user, holding the token's rights (its role within the user's own, now) and nothing more."""
    user = token.user
    user._workspace_roles = tokens.rights(token)
    user.is_superuser = False  # this request's copy only; never saved
    user._perm_cache = user._user_perm_cache = user._group_perm_cache = set()  # no group rights beside the token's
    user.api_token = token
    return user


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = token_text(request.META)
        if not raw:
            return None
        token = tokens.authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(UNKNOWN)
        return as_token_user(token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'  # a 401, not a 403, for a call without credentials


def needs(codename: str) -> type[permissions.BasePermission]:
    """Holds `codename` (a batches permission) in at least one workspace; each object is then checked in its own."""

    class Needs(permissions.IsAuthenticated):
        message = needed_roles(codename)

        def has_permission(self, request, view) -> bool:
            return super().has_permission(request, view) and request.user.has_perm(f"batches.{codename}")

    Needs.__name__ = f"Needs_{codename}"
    return Needs
