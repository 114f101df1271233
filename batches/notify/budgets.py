"""This calendar month's (UTC) priced spend of each workspace with a budget: what budget events compare."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db.models import F, FilteredRelation, Q, Sum

from batches.models import Budget


@dataclass(frozen=True)
class MonthSpend:
    workspace_id: int
    workspace: str
    amount: Decimal
    spent: Decimal

    @property
    def used(self) -> Decimal:
        if self.amount > 0:
            return self.spent / self.amount
        return Decimal(1 if self.spent > 0 else 0)


def month_spend(today: date | None = None, *, workspace_id: int | None = None) -> list[MonthSpend]:
    """Every active budget (or one workspace's) with this month's spend so far: one grouped query."""
    today = today or datetime.now(UTC).date()
    this_month = Q(workspace__usage__day__gte=today.replace(day=1), workspace__usage__day__lte=today)
    budgets = Budget.objects.filter(workspace__is_active=True)
    if workspace_id is not None:
        budgets = budgets.filter(workspace_id=workspace_id)
    rows = (
        budgets.alias(month=FilteredRelation("workspace__usage", condition=this_month))
        .annotate(workspace_name=F("workspace__name"), spent=Sum("month__cost"))
        .order_by("workspace__name")
    )
    return [MonthSpend(b.workspace_id, b.workspace_name, b.monthly_amount, b.spent or Decimal(0)) for b in rows]
