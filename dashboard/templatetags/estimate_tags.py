"""How the pre-flight estimate reads: money, shares, and token figures rounded as far as they are known."""

from __future__ import annotations

import math
from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

from dashboard.spend import formatting

register = template.Library()

SIGNIFICANT = 3  # a sampled figure is shown to three significant figures: its range is wider than that


@register.filter
def money(value: Decimal | None) -> str:
    """Dollars and cents; a cost under a cent in fractions of one, so it does not read as $0."""
    return "—" if value is None else formatting.fine_money(value)


@register.simple_tag
def money_range(low: Decimal | None, high: Decimal | None) -> str:
    """Both ends of a cost range, "$0.11–$0.12", or one figure when both read the same."""
    low_text, high_text = money(low), money(high)
    return low_text if low_text == high_text else f"{low_text}–{high_text}"


@register.filter
def share(fraction: Decimal | None) -> str:
    """0.8 -> "80.0%": how much of a budget."""
    return "—" if fraction is None else formatting.share(fraction, Decimal(1))


@register.filter
def approx(tokens: int | None) -> str:
    """A sampled figure, to three significant figures: 1,253,412 -> "1,250,000"."""
    return "—" if tokens is None else intcomma(_round(tokens, round))


@register.simple_tag
def token_range(low: int | None, high: int | None) -> str:
    """A sampled range, "1,200,000–1,310,000": the low end rounded down, the high end up, so it holds what was found."""
    if low is None or high is None:
        return "—"
    low_text, high_text = intcomma(_round(low, math.floor)), intcomma(_round(high, math.ceil))
    return low_text if low_text == high_text else f"{low_text}–{high_text}"


def _round(n: int, how) -> int:
    if n < 10**SIGNIFICANT:
        return n
    unit = 10 ** (len(str(n)) - SIGNIFICANT)
    return int(how(n / unit)) * unit
