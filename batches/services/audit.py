"""The audit trail: one row per action, written by the service or view that performed it."""

from __future__ import annotations

from typing import Any

from batches.models import AuditEvent, Batch, Workspace


def record(
    user, action: str, target: str = "", *, params: dict[str, Any] | None = None, outcome: str = "ok", detail: str = "",
    workspace: Workspace | int | None = None,
) -> AuditEvent:  # fmt: skip
    """Record who did what, to what, in which workspace. `params` must never hold a key: callers pass only
    what they chose. A target that is a mirrored batch gives the workspace when none is named."""
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    if workspace_id is None and target.startswith("msgbatch_"):
        workspace_id = Batch.objects.filter(pk=target).values_list("workspace_id", flat=True).first()
    return AuditEvent.objects.create(
        workspace_id=workspace_id,
        actor=user if getattr(user, "pk", None) else None,
        actor_name=getattr(user, "get_username", lambda: "system")() or "system",
        action=action,
        target=target[:200],
        params=params or {},
        outcome=outcome,
        detail=detail[:5000],
    )
