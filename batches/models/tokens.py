"""Personal API tokens: what code uses instead of a login (the REST API and the Anthropic pass-through).

Only a SHA-256 of the token is kept (a token is 32 random bytes, so a slow hash buys nothing); the token itself is
shown once, when it is made. Its prefix stays visible so its owner can tell tokens apart.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from batches.models.mirror import Workspace
from batches.roles import WORKSPACE_ROLES


class ApiToken(models.Model):
    """A user's token, limited to chosen workspaces and a role: its rights are those of the role, and never more
    than its user holds at the moment of use (batches/services/tokens.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)  # shown: "bdt_" and 8 characters
    digest = models.CharField(max_length=64, unique=True)  # SHA-256 of the whole token, hex
    workspaces = models.ManyToManyField(Workspace, related_name="+")
    role = models.CharField(max_length=16, choices=[(role, role) for role in WORKSPACE_ROLES])
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}) of {self.user}"

    def usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
