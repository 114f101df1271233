from functools import cached_property

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from batches.models import Batch, Workspace
from dashboard.access import in_visible_workspaces, workspace_ids_with
from dashboard.spend.budget_status import budget_status

WATCHED = "watched_batches"  # session key: the batches this browser watches (dashboard/views/watch.py)


class Health:
    """The sync-health bar: each active workspace's health, how many fail, when to poll next, and the watched
    batches that have ended. Each read once per request, and only if a template reads it."""

    def __init__(self, request) -> None:
        self.request = request

    @cached_property
    def workspaces(self) -> list[Workspace]:
        fields = ("name", "is_active", "last_synced_at", "failing_since", "last_error_type", "last_error_message",
                  "consecutive_failures", "sync_not_before", "sync_lease_until", "last_refusal_at",
                  "last_refusal")  # fmt: skip
        workspaces = Workspace.objects.filter(is_active=True).only(*fields)
        # Those the user may see batches of: a user given no role (every page 403) is shown no workspace's name or
        # error, where "unscoped" alone read as "every workspace".
        ids = workspace_ids_with(self.request, "view_batch")
        return list(workspaces if ids is None else workspaces.filter(pk__in=ids))

    @cached_property
    def failing(self) -> int:
        return sum(ws.needs_attention for ws in self.workspaces)

    @property
    def poll_seconds(self) -> float:
        """Often while something fails (the bar must show the recovery), seldom otherwise."""
        return settings.HEALTH_POLL_SECONDS if self.failing else settings.HEALTH_IDLE_POLL_SECONDS

    @cached_property
    def watched(self) -> list[str]:
        return list(self.request.session.get(WATCHED, []))

    @cached_property
    def watched_ended(self) -> list[Batch]:
        """No query unless this browser watches something."""
        if not self.watched:
            return []
        fields = ("id", "label", "ended_at", "workspace_id", "succeeded_count", "errored_count", "canceled_count",
                  "expired_count", "processing_count", "processing_status")  # fmt: skip
        ended = Batch.objects.filter(pk__in=self.watched, processing_status=Batch.Status.ENDED).only(*fields)
        # A batch watched before this user's access to its workspace was taken away is not shown any more.
        return list(in_visible_workspaces(self.request, ended))


def sync_health(request):
    """Every page shows each workspace's sync health: one query, only when a template reads it."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    health = Health(request)
    return {"health": health, "health_workspaces": SimpleLazyObject(lambda: health.workspaces)}


def budgets(request):
    """This month's spend against each workspace budget, for those who may see spend.

    One query, and only when a template reads `budget_status` or `budget_warnings` (both share it).
    """
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    user = request.user

    def visible() -> list:
        if not user.has_perm("batches.view_spend"):
            return []
        return budget_status(within=workspace_ids_with(request, "view_spend"))

    status = SimpleLazyObject(visible)
    return {"budget_status": status, "budget_warnings": SimpleLazyObject(lambda: [b for b in status if b.level])}
