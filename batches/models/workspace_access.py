"""Who sees which workspace: a user given chosen workspaces, each with one or more roles, sees those alone."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from batches.models.mirror import Workspace
from batches.roles import WORKSPACE_ROLES


def validate_roles(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one role.")
    unknown = sorted({str(role) for role in value} - set(WORKSPACE_ROLES))
    if unknown:
        raise ValidationError(f"No such role: {', '.join(unknown)}.")


class WorkspaceAccess(models.Model):
    """One user's roles in one workspace. A user with any of these sees only those workspaces, with the
    permissions of all their roles there (a lead can be Operator and Auditor without being Admin); a user
    with none sees every workspace with the roles of their groups, as before."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace_access")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="access")
    # A list of role names (batches/roles.py), in the order of ROLES; JSON so SQLite and PostgreSQL agree.
    roles = models.JSONField(default=list, validators=[validate_roles])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="access_unique_user_workspace")]
        verbose_name_plural = "workspace access"

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.workspace}"

    def save(self, *args, **kwargs) -> None:
        self.roles = [role for role in WORKSPACE_ROLES if role in set(self.roles)]  # one order, no repeats
        super().save(*args, **kwargs)

    # Compatibility: code written when a grant held one role (`WorkspaceAccess(role="Operator")`, `.role`).
    @property
    def role(self) -> str:
        return " + ".join(self.roles)

    @role.setter
    def role(self, value: str) -> None:
        self.roles = [value]
