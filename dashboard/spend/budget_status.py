"""Monthly budgets per workspace, as the pages show them: the figures come from batches/services/budgets.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from batches.services import budgets
from dashboard.spend.formatting import money, share


@dataclass(frozen=True)
class BudgetStatus(budgets.BudgetStatus):
    @property
    def label(self) -> str:
        return {"over": "over budget", "near": "80% of budget used"}.get(self.level, "within budget")

    @property
    def used_text(self) -> str:
        return share(self.spent, self.amount) if self.amount > 0 else "—"

    @property
    def bar(self) -> int:
        return min(100, int(self.used * 100))

    @property
    def spent_text(self) -> str:
        return money(self.spent)

    @property
    def amount_text(self) -> str:
        return money(self.amount)


def budget_status(today: date | None = None, within: list[int] | None = None) -> list[BudgetStatus]:
    """Every budget (of the workspaces `within`, if given) with this month's spend so far, in one query."""
    return budgets.month_spend(today, within=within, status=BudgetStatus)
