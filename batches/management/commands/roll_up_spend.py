from django.core.management.base import BaseCommand

from batches.models import Batch
from batches.services import pricing


class Command(BaseCommand):
    help = "Sum the usage of every ingested batch again and price it (idempotent; for data ingested before costs)."

    def handle(self, *args, **options):
        book = pricing.PriceBook()
        batches = Batch.objects.exclude(results_ingested_at=None)
        for batch in batches.iterator(chunk_size=500):
            pricing.roll_up(batch, book)
        self.stdout.write(f"rolled up {batches.count()} batches")
