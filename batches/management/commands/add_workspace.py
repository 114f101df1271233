import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from batches.models import Workspace
from batches.services import audit


class Command(BaseCommand):
    help = (
        "Add a workspace, or replace its key. The key is read from an environment variable "
        "(--key-env) or standard input, never from the command line, where `ps` and shell history see it."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--key-env", metavar="VAR", help="Read the API key from this environment variable")
        parser.add_argument("--base-url", default="", help="API base URL (default https://api.anthropic.com)")

    def handle(self, *args, name, key_env=None, base_url="", **options):
        if key_env:
            api_key = os.environ.get(key_env, "")
            if not api_key:
                raise CommandError(f"environment variable {key_env} is empty or unset")
        elif sys.stdin.isatty():
            api_key = getpass.getpass("API key: ")
        else:
            api_key = sys.stdin.readline()
        api_key = api_key.strip()
        if not api_key:
            raise CommandError("no API key given")
        workspace = Workspace.objects.filter(name=name).first() or Workspace(name=name)
        created, old_base_url = workspace.pk is None, workspace.base_url
        workspace.set_api_key(api_key)
        workspace.base_url = base_url
        workspace.full_clean()
        workspace.save()
        # On the audit log as the admin's own changes are (batches/admin.py), without the key: its masked hint.
        via = {"via": f"manage.py add_workspace, as {getpass.getuser()}"}
        audit.record(None, "key_change", name, params={"key": workspace.api_key_hint, "created": created, **via})
        if created or old_base_url != base_url:
            params = {"fields": ["name", "base_url"] if created else ["base_url"], "created": created, **via}
            if not created:
                params["base_url"] = {"from": old_base_url, "to": base_url}
            audit.record(None, "workspace_change", name, params=params)
        verb = "Added" if created else "Updated"
        self.stdout.write(f"{verb} workspace {name} (key {workspace.api_key_hint})")
