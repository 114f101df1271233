"""The audit trail: one row per action, written by the service or view that performed it."""

from __future__ import annotations

from typing import Any

from batches.models import AuditEvent


def record(
    user, action: str, target: str = "", *, params: dict[str, Any] | None = None, outcome: str = "ok", detail: str = ""
) -> AuditEvent:
    """Record who did what. `params` must never hold a key: callers pass only what they chose."""
    return AuditEvent.objects.create(
        actor=user if getattr(user, "pk", None) else None,
        actor_name=getattr(user, "get_username", lambda: "system")() or "system",
        action=action,
        target=target[:200],
        params=params or {},
        outcome=outcome,
        detail=detail[:5000],
    )
