from django.core.management.base import BaseCommand

from batches.models import Batch
from batches.services import pricing


class Command(BaseCommand):
    help = "Sum the usage of every ingested batch again and price it (idempotent; for data ingested before costs)."

    def handle(self, *args, **options):
        summed = pricing.roll_up_all(Batch.objects.exclude(results_ingested_at=None))
        self.stdout.write(f"rolled up {summed} batches")
