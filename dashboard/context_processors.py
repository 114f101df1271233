from batches.models import Workspace


def sync_health(request):
    """Every page shows each workspace's sync health: one query, only when a template reads it."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"health_workspaces": Workspace.objects.filter(is_active=True).only(
        "name", "last_synced_at", "failing_since", "last_error_type", "last_error_message", "consecutive_failures",
    )}  # fmt: skip
