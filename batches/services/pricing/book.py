"""Every price row and model mapping, loaded once, to look up many (model, day) pairs without a query each.

A model id finds its family by an explicit mapping (`PricedModel`), or by being a family's own name;
never by prefix, so a new `claude-opus-4-8` is unpriced (and says so) rather than billed as the
retired `claude-opus-4`.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Q

from batches.models import Price, PricedModel


class PriceBook:
    def __init__(self, prices: list[Price] | None = None, models: dict[str, str] | None = None) -> None:
        rows = prices if prices is not None else list(Price.objects.all())
        self._models = models  # loaded on the first id that is not a family's own name
        self.by_family: dict[str, list[Price]] = {}
        for price in sorted(rows, key=lambda p: p.effective_from, reverse=True):  # latest first
            self.by_family.setdefault(price.family, []).append(price)

    @classmethod
    def for_model(cls, model: str) -> PriceBook:
        """Only what prices one model, in one query (a result's page)."""
        mapped = PricedModel.objects.filter(model=model).values("family")
        rows = list(Price.objects.filter(Q(family=model) | Q(family__in=mapped)))
        families = {p.family for p in rows} - {model}
        return cls(rows, {model: families.pop()} if families else {})

    @property
    def models(self) -> dict[str, str]:
        if self._models is None:
            self._models = dict(PricedModel.objects.values_list("model", "family"))
        return self._models

    def family(self, model: str) -> str | None:
        if model in self.by_family:
            return model
        family = self.models.get(model)
        return family if family in self.by_family else None

    def find(self, model: str, day: date) -> Price | None:
        """The price in force for this model on this day, or None (unpriced)."""
        family = self.family(model)
        for price in self.by_family.get(family or "", []):
            if price.effective_from <= day:
                return price
        return None
