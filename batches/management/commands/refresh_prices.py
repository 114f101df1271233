from django.core.management.base import BaseCommand

from batches.services.pricing import catalog


class Command(BaseCommand):
    help = "Show what the price book (batches/data/price_book.json) would change; --apply to apply it."

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="apply the changes and reprice the usage they touch")

    def handle(self, *args, **options):
        d = catalog.apply() if options["apply"] else catalog.diff()
        for line in d.lines():
            self.stdout.write(line)
        if not options["apply"] and not d.empty:
            self.stdout.write("Not applied: run again with --apply.")
