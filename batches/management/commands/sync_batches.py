from django.core.management.base import BaseCommand, CommandError

from batches.models import ApiRequestCount, Workspace
from batches.services import sync
from batches.services.workspaces import ensure_default_workspace


class Command(BaseCommand):
    help = (
        "In the foreground: one sync pass (list, retrieve), then every ingest left to do, going on past "
        "any that fails; exits non-zero naming what is left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Only this workspace (by name)")
        parser.add_argument("--full", action="store_true", help="Page through the whole history")

    def handle(self, *args, workspace=None, full=False, **options):
        ensure_default_workspace()
        workspaces = Workspace.objects.filter(is_active=True)
        if workspace:
            workspaces = workspaces.filter(name=workspace)
            if not workspaces.exists():
                raise CommandError(f"no active workspace named {workspace!r}")
        elif not workspaces.exists():
            raise CommandError("no workspace: set ANTHROPIC_API_KEY or add one with `manage.py add_workspace`")
        failures = []
        try:
            for ws in workspaces:
                report = sync.catch_up(ws.pk, full=full)
                self.stdout.write(report.summary())
                if report.error or report.failed or report.skipped:
                    failures.append(report.summary())
        finally:
            ApiRequestCount.flush()  # the calls it made count in /metrics, as a task's do
        if failures:
            raise CommandError("; ".join(failures))
