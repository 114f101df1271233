"""The dated, sourced price book replaces the undated 2024 seed of migration 0006.

Seed rows an Admin never touched (same family, date and source as 0006 wrote) are replaced; any other
row is kept as an Admin's. Usage rows are re-priced by `manage.py roll_up_spend` after the deploy.
"""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"
RATES = {"input": "in", "output": "out", "cache_write_5m": "w5", "cache_write_1h": "w1", "cache_read": "read"}


def _dec(value):
    return None if value is None else Decimal(value)


def load(apps, schema_editor):
    Price = apps.get_model("batches", "Price")
    PricedModel = apps.get_model("batches", "PricedModel")
    old = json.loads((DATA / "prices.json").read_text())
    for row in old["prices"]:
        Price.objects.filter(family=row["model_prefix"], effective_from=old["effective_from"],
                             source=row["source"]).delete()  # fmt: skip
    book = json.loads((DATA / "price_book.json").read_text())
    for row in book["families"]:
        long = row.get("long") or {}
        fields = {name: Decimal(row[key]) for name, key in RATES.items()}
        fields |= {f"long_{name}": _dec(long.get(key)) for name, key in RATES.items()}
        fields |= {
            "long_prompt_over": row.get("long_over"), "us_multiplier": _dec(row.get("us")),
            "fast_multiplier": _dec(row.get("fast")), "web_search_per_1000": Decimal(book["web_search"]),
            "batch_factor": Decimal(book["batch_factor"]), "source": book["sources"][row["source"]], "origin": "book",
        }  # fmt: skip
        exists = Price.objects.filter(family=row["family"], effective_from=date.fromisoformat(row["from"]))
        if not exists.exclude(origin="book").exists():  # an Admin's row wins
            Price.objects.update_or_create(family=row["family"], effective_from=row["from"], defaults=fields)
    for model, family in book["models"].items():
        PricedModel.objects.get_or_create(model=model, defaults={"family": family})


class Migration(migrations.Migration):
    dependencies = [("batches", "0025_i18_price_rules")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
