from django.utils.functional import SimpleLazyObject

from batches.models import Workspace
from dashboard.spend.budgets import budget_status


def sync_health(request):
    """Every page shows each workspace's sync health: one query, only when a template reads it."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"health_workspaces": Workspace.objects.filter(is_active=True).only(
        "name", "last_synced_at", "failing_since", "last_error_type", "last_error_message", "consecutive_failures",
    )}  # fmt: skip


def budgets(request):
    """This month's spend against each workspace budget, for those who may see spend.

    One query, and only when a template reads `budget_status` or `budget_warnings` (both share it).
    """
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    user = request.user
    status = SimpleLazyObject(lambda: budget_status() if user.has_perm("batches.view_spend") else [])
    return {"budget_status": status, "budget_warnings": SimpleLazyObject(lambda: [b for b in status if b.level])}
