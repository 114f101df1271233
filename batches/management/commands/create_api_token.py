from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from batches.models import Workspace
from batches.roles import WORKSPACE_ROLES
from batches.services import tokens


class Command(BaseCommand):
    help = (
        "Make an API token for a user and print it on stdout, and nothing else (for automation). It is limited to "
        "the workspaces named (by default every one the user holds) and a role no higher than the user's own."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--workspace", action="append", default=[], metavar="NAME")
        parser.add_argument("--role", default="Viewer", choices=sorted(WORKSPACE_ROLES))
        parser.add_argument("--expires-days", type=int, default=None, metavar="N")
        parser.add_argument("--name", default="made by create_api_token")

    def handle(self, *args, username, workspace, role, expires_days, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        if workspace:
            chosen = list(Workspace.objects.filter(name__in=workspace))
            missing = sorted(set(workspace) - {w.name for w in chosen})
            if missing:
                raise CommandError(f"There is no workspace {', '.join(missing)}.")
        else:
            chosen = list(Workspace.objects.filter(pk__in=tokens.user_rights(user)))
        try:
            _, raw = tokens.issue(user, name=name, workspaces=chosen, role=role, expires_days=expires_days)
        except tokens.TokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
