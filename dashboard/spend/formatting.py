"""Money and shares as text, and table cells as escaped markup."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import NamedTuple

from django.utils.safestring import SafeString, mark_safe

CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    return f"${value.quantize(CENT, ROUND_HALF_UP):,.2f}"


def fine_money(value: Decimal) -> str:
    """One item's cost: fractions of a cent shown rather than rounded away."""
    if value == 0 or abs(value) >= CENT:
        return money(value)
    return f"${value.quantize(Decimal('0.000001'), ROUND_HALF_UP):f}"


def share(part: Decimal, whole: Decimal | None) -> str:
    if not whole:
        return "—"
    # A true minus sign: a cell starting with "-" would be neutralised as a formula in the CSV.
    return f"{(part / whole * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)}%".replace("-", "−")


class Cell(NamedTuple):
    text: str
    num: bool = True
    flag: bool = False  # unpriced: marked where a cost would show
    # What the CSV writes: a plain number a spreadsheet computes with (units in the header), or None for
    # "no figure" (an empty cell, never 0); the text when this is left as it is.
    value: object = ...


def cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, ROUND_HALF_UP)


def percent_value(part: Decimal, whole: Decimal | None) -> Decimal | None:
    return None if not whole else (part / whole * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)


_CELL_ATTRS = {
    (False, False): mark_safe(""),
    (True, False): mark_safe(' class="num"'),
    (True, True): mark_safe(' class="num rt errored"'),
    (False, True): mark_safe(' class="rt errored"'),
}


def row_html(cells: list[Cell], tag: str = "td") -> SafeString:
    """A table row's cells as markup, every text escaped. Built here rather than by a template loop: a
    year of days by model is thousands of cells, which the template engine renders ten times slower."""
    return mark_safe("".join(f"<{tag}{_CELL_ATTRS[c.num, c.flag]}>{escape(c.text)}</{tag}>" for c in cells))


def period_label(period: str, start: date) -> str:
    """A period as a table row names it: the day, "Week of" its Monday, or the month."""
    if period == "week":
        return f"Week of {start.isoformat()}"
    return f"{start:%Y-%m}" if period == "month" else start.isoformat()
