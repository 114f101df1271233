"""The spend report: one filtered view's table, totals and chart, in two queries whatever the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils.safestring import SafeString

from batches.models import DailyUsage
from dashboard import charts
from dashboard.spend.chart import spend_chart
from dashboard.spend.figures import DAILY_SUMS, Spend
from dashboard.spend.formatting import Cell, period_label, row_html

if TYPE_CHECKING:
    from dashboard.forms import SpendFilterForm

# Rows are dated by day already: TruncDay would be the identity, and on SQLite a Python call per row.
PERIODS = {"day": F, "week": TruncWeek, "month": TruncMonth}
# group -> (the value to group by, its column heading, the label of usage without one)
GROUPS = {
    "workspace": ("workspace__name", "Workspace", ""),
    "model": ("model", "Model", ""),
    "submitter": ("submitter__username", "Submitter", "(no submitter)"),
    # The batch-level `anthropic-user-profile-id`: whose requests they were, beside who sent them.
    "user_profile": ("user_profile_id", "User profile", "(no user profile)"),
    "none": (None, "", ""),
}
COLUMNS = [
    "Requests", "Input tokens", "Output tokens", "Cache write tokens", "Cache read tokens", "Cost (batch)",
    "Standard cost", "Saved vs standard", "Saved by prompt caching", "Unpriced requests",
]  # fmt: skip
# The CSV's headers: the same columns with the unit each plain number is in.
CSV_COLUMNS = [
    "Requests", "Input tokens", "Output tokens", "Cache write tokens", "Cache read tokens",
    "Cost at batch prices (USD)", "Cost at standard prices (USD)", "Saved vs standard prices (USD)",
    "Saved by prompt caching (% of uncached cost)", "Unpriced requests",
]  # fmt: skip


@dataclass
class Report:
    header: list[str]
    rows: list[list[Cell]]
    total: list[Cell]
    unpriced: list[tuple[str, int]]  # (model, requests) with no price
    chart: charts.BarChart | None
    query: str

    @property
    def csv_header(self) -> list[str]:
        return [*self.header[: len(self.header) - len(COLUMNS)], *CSV_COLUMNS]

    def csv_rows(self) -> list[list[object]]:
        """Plain numbers (units in csv_header), an empty cell where there is no figure (unpriced), labels as text."""
        return [
            [cell.text if cell.value is ... else ("" if cell.value is None else cell.value) for cell in row]
            for row in (*self.rows, self.total)
        ]

    @property
    def header_html(self) -> SafeString:
        labels = len(self.header) - len(COLUMNS)  # the period and group columns hold text
        return row_html([Cell(h, num=i >= labels) for i, h in enumerate(self.header)], "th")

    @property
    def rows_html(self) -> list[SafeString]:
        return [row_html(row) for row in self.rows]

    @property
    def total_html(self) -> SafeString:
        return row_html(self.total, "th")


def usage(form: SpendFilterForm) -> QuerySet[DailyUsage]:
    """The daily sums the form's filters select: a few hundred a day, where the usage rows are one per batch."""
    data = form.cleaned_data
    rows = DailyUsage.objects.filter(day__gte=data["from"], day__lte=data["to"])
    if data["workspace"]:
        rows = rows.filter(workspace_id=form.workspace_ids[data["workspace"]])
    elif form.scoped:  # "all" is all the workspaces this user may see
        rows = rows.filter(workspace_id__in=form.workspace_ids.values())
    return rows


def build_report(form: SpendFilterForm) -> Report:
    """The table, totals and chart of one filtered view: two queries whatever the data."""
    period, group = form.cleaned_data["period"], form.cleaned_data["group"]
    key, heading, nameless = GROUPS[group]
    keys = [key] if key else []
    sums = usage(form).annotate(period=PERIODS[period]("day")).values("period", *keys).annotate(**DAILY_SUMS)
    grouped = [
        (row["period"], _group_label(row, key, nameless), Spend.of([row])) for row in sums.order_by("period", *keys)
    ]
    unpriced = usage(form).filter(unpriced__gt=0).values("model").annotate(n=Sum("unpriced"))
    total = Spend()
    for _, _, spend in grouped:
        total.merge(spend)
    blanks = [""] if key else []
    return Report(
        header=["Period", *([heading] if key else []), *COLUMNS],
        rows=[spend.cells(period_label(period, start), *([label] if key else [])) for start, label, spend in grouped],
        total=total.cells("Total", *blanks),
        unpriced=list(unpriced.order_by("-n", "model").values_list("model", "n")),
        chart=spend_chart(form.cleaned_data, grouped, heading),
        query=urlencode(form.params),
    )


def _group_label(row: dict[str, Any], key: str | None, nameless: str) -> str:
    if key is None:
        return "All"
    return row[key] or nameless
