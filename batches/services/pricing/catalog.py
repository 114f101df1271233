"""The price book (batches/data/price_book.json) against the price table: what a refresh would change.

A refresh shows its diff first (`manage.py refresh_prices`, or the admin's "Show" action) and applies it
only when asked. Rows an Admin saved (`origin` admin) are never overwritten: they are listed as kept.
Applying reprices usage from the earliest date it changed; earlier days keep their prices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from batches.models import Price, PricedModel
from batches.services.pricing.rollup import reprice

BOOK = Path(__file__).resolve().parents[2] / "data" / "price_book.json"
RATES = {"input": "in", "output": "out", "cache_write_5m": "w5", "cache_write_1h": "w1", "cache_read": "read"}
COMPARED = [
    *RATES, *(f"long_{name}" for name in RATES), "long_prompt_over", "us_multiplier", "fast_multiplier",
    "web_search_per_1000", "batch_factor", "source",
]  # fmt: skip


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def book_rows(path: Path = BOOK) -> list[dict[str, Any]]:
    """Every row of the book as Price fields."""
    book = json.loads(path.read_text())
    rows = []
    for row in book["families"]:
        long = row.get("long") or {}
        fields: dict[str, Any] = {"family": row["family"], "effective_from": date.fromisoformat(row["from"])}
        fields |= {name: Decimal(row[key]) for name, key in RATES.items()}
        fields |= {f"long_{name}": _dec(long.get(key)) for name, key in RATES.items()}
        fields |= {
            "long_prompt_over": row.get("long_over"), "us_multiplier": _dec(row.get("us")),
            "fast_multiplier": _dec(row.get("fast")), "web_search_per_1000": Decimal(book["web_search"]),
            "batch_factor": Decimal(book["batch_factor"]), "source": book["sources"][row["source"]],
        }  # fmt: skip
        rows.append(fields)
    return rows


def book_models(path: Path = BOOK) -> dict[str, str]:
    return dict(json.loads(path.read_text())["models"])


@dataclass
class Diff:
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[Price, dict[str, Any], list[str]]] = field(default_factory=list)  # row, book, fields
    kept_admin: list[tuple[Price, list[str]]] = field(default_factory=list)  # an Admin's row the book differs from
    models_added: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.models_added)

    def lines(self) -> list[str]:
        out = [f"+ {r['family']} from {r['effective_from']}: ${r['input']} / ${r['output']}" for r in self.added]
        for price, book, names in self.changed:
            what = ", ".join(f"{n} {getattr(price, n)} -> {book[n]}" for n in names if n != "source")
            out.append(f"~ {price}: {what or 'source'}")
        out += [f"= {price}: kept (edited by an Admin; the book differs in {', '.join(n)})" for price, n in
                self.kept_admin]  # fmt: skip
        out += [f"+ model {model} -> {family}" for model, family in sorted(self.models_added.items())]
        return out or ["The price table already matches the price book."]


def diff(path: Path = BOOK) -> Diff:
    existing = {(p.family, p.effective_from): p for p in Price.objects.all()}
    result = Diff()
    for row in book_rows(path):
        price = existing.get((row["family"], row["effective_from"]))
        if price is None:
            result.added.append(row)
            continue
        names = [n for n in COMPARED if getattr(price, n) != row[n]]
        if not names:
            continue
        if price.origin == Price.Origin.ADMIN:
            result.kept_admin.append((price, names))
        else:
            result.changed.append((price, row, names))
    known = set(PricedModel.objects.values_list("model", flat=True))
    result.models_added = {m: f for m, f in book_models(path).items() if m not in known}
    return result


def apply(path: Path = BOOK) -> Diff:
    """Apply the book's additions and changes (never over an Admin's row), then reprice what they touch."""
    d = diff(path)
    with transaction.atomic():
        for row in d.added:
            Price.objects.create(**row, origin=Price.Origin.BOOK)
        for price, row, _ in d.changed:
            Price.objects.filter(pk=price.pk).update(**{n: row[n] for n in COMPARED})
        PricedModel.objects.bulk_create([PricedModel(model=m, family=f) for m, f in d.models_added.items()])
    dates = [r["effective_from"] for r in d.added] + [p.effective_from for p, _, _ in d.changed]
    if dates or d.models_added:
        reprice(min(dates) if dates and not d.models_added else None)
    return d
