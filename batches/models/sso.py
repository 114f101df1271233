"""Single sign-on: the rules that turn an IdP's claims into roles, the grants they made, and the sign-in history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from batches.models.mirror import Workspace
from batches.roles import ROLES


class SsoRoleRule(models.Model):
    """One claim value (a group name, by default) giving a role: site-wide, or in one workspace.

    Kept in the admin, beside the SSO_ROLE_RULES of the environment; both apply (batches/services/sso_roles.py)."""

    value = models.CharField(max_length=200, help_text="a value of the role claim (SSO_ROLE_CLAIM), e.g. a group")
    role = models.CharField(max_length=16, choices=[(role, role) for role in ROLES])
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="empty: the role everywhere; else the role in this workspace alone",
    )  # fmt: skip

    class Meta:
        constraints = [models.UniqueConstraint(fields=["value", "role", "workspace"], name="sso_rule_unique")]
        verbose_name = "SSO role rule"

    def __str__(self) -> str:
        return f"{self.value} = {self.role}" + (f" @ {self.workspace.name}" if self.workspace_id else "")


class SsoGrant(models.Model):
    """A role the claims gave a user at sign-in (a group, or a workspace role): recomputed at every SSO sign-in.
    A role with no row here was given by hand in the admin, and SSO never takes it away."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_grants")
    role = models.CharField(max_length=16)
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role", "workspace"], name="sso_grant_unique")]
        verbose_name = "role from SSO"
        verbose_name_plural = "roles from SSO"

    def __str__(self) -> str:
        return f"{self.role}" + (f" in {self.workspace.name}" if self.workspace_id else " (site-wide)")


class SignIn(models.Model):
    """One sign-in, or one refused: who, how, from where, and the session it opened (so it can be ended)."""

    class Method(models.TextChoices):
        SSO = "sso"
        PASSWORD = "password"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="sign_ins"
    )
    username = models.CharField(max_length=200, blank=True)  # as the IdP or the form named them
    method = models.CharField(max_length=16, choices=Method.choices)
    provider = models.CharField(max_length=200, blank=True)
    ok = models.BooleanField(default=True)
    reason = models.CharField(max_length=300, blank=True)  # why it was refused
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    # The IdP's session id (the ID token's `sid`), for back-channel logout.
    idp_session = models.CharField(max_length=200, blank=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "sign-in"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.method} ({'ok' if self.ok else 'refused'})"
