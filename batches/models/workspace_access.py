"""Who sees which workspace: a user given chosen workspaces, each with a role, sees those alone."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from batches.models.mirror import Workspace
from batches.roles import WORKSPACE_ROLES


class WorkspaceAccess(models.Model):
    """One user's role in one workspace. A user with any of these sees only those workspaces, each with its
    role; a user with none sees every workspace with the roles of their groups, as before."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace_access")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="access")
    role = models.CharField(max_length=16, choices=[(role, role) for role in WORKSPACE_ROLES])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="access_unique_user_workspace")]
        verbose_name_plural = "workspace access"

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.workspace}"
