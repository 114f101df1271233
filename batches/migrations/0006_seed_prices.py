import json
from decimal import Decimal
from pathlib import Path

from django.db import migrations

PRICES = Path(__file__).resolve().parent.parent / "data" / "prices.json"


def seed(apps, schema_editor):
    Price = apps.get_model("batches", "Price")
    data = json.loads(PRICES.read_text())
    m = {k: Decimal(v) for k, v in data["cache_multipliers"].items()}
    for row in data["prices"]:
        price_in = Decimal(row["input"])
        Price.objects.get_or_create(
            model_prefix=row["model_prefix"],
            effective_from=data["effective_from"],
            defaults={
                "input": price_in, "output": Decimal(row["output"]),
                "cache_write_5m": price_in * m["cache_write_5m"], "cache_write_1h": price_in * m["cache_write_1h"],
                "cache_read": price_in * m["cache_read"], "batch_factor": Decimal(data["batch_factor"]),
                "source": row["source"],
            },
        )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("batches", "0005_spend")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
