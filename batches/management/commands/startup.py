"""What ./bin/start does before it starts the servers, in one process: each `manage.py` run pays the whole import
of Django and the apps again (seconds each on a busy 2-core host), and there were four."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "prepare, migrate --noinput, ensure_admin and, with --collectstatic, collectstatic --noinput: what "
        "./bin/start runs before the servers. Safe to run again; the first step that fails stops the rest."
    )

    def add_arguments(self, parser):
        parser.add_argument("--collectstatic", action="store_true", help="also collect the static files")

    def handle(self, *args, **options) -> None:
        # prepare first: it keeps a generated secret key and hands it to this process's settings, which were
        # read before the key existed.
        call_command("prepare")
        call_command("migrate", interactive=False)
        call_command("ensure_admin")
        if options["collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
