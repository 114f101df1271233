"""Deliver the notifications that are due, in the foreground: checks, fan-out, one try of each due delivery."""

from django.core.management.base import BaseCommand

from batches.services.notify import checks, send


class Command(BaseCommand):
    help = "Run the periodic notification checks, then send every notification that is due (one try each)."

    def add_arguments(self, parser):
        parser.add_argument("--no-checks", action="store_true", help="Only send; skip the periodic checks")

    def handle(self, *args, no_checks: bool = False, **options):
        if not no_checks:
            written = checks.run().written
            self.stdout.write(f"checks: {written} new event{'s' if written != 1 else ''}")
        report = send.send_due()
        self.stdout.write(f"notifications: {report.summary()}")
