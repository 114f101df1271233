"""Server-rendered charts: the geometry is computed here and drawn by a template as inline SVG.

No JavaScript and nothing from a CDN, so a chart works offline. Labels stay plain strings for the
template to escape. Colours are classes (`series-0`...), coloured by the stylesheet from the theme's
variables: the Content-Security-Policy allows no style attribute, and both themes apply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

# One class per series colour, `.series-0` to `.series-5` in static/dashboard/app.css; "others" is grey.
SERIES = tuple(f"series-{i}" for i in range(6))
OTHER_SERIES = "series-other"

WIDTH = 760  # svg.chart in app.css is at most this wide
LEFT, RIGHT, TOP = 76, 12, 14  # room for the y-axis labels on the left
PLOT_HEIGHT = 220
MAX_X_LABELS = 10
LEGEND_COLUMNS, LEGEND_ROW, LEGEND_CHARS = 3, 20, 34


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # its colour's class
    title: str  # shown as a tooltip and read by screen readers


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Key:
    x: float
    y: float
    series: str
    label: str  # clipped to fit its column
    title: str  # in full

    @property
    def text_x(self) -> float:
        return _r(self.x + 18)

    @property
    def text_y(self) -> float:
        return self.y + 10


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    legend: list[Key]
    title: str
    summary: str
    x_label: str
    y_label: str

    @property
    def bars_svg(self) -> SafeString:
        """The bars as SVG markup, titles escaped: hundreds of them render far faster here than in a template."""
        return mark_safe(
            "".join(
                f'<rect x="{b.x}" y="{b.y}" width="{b.width}" height="{b.height}" class="{b.series}">'
                f"<title>{escape(b.title)}</title></rect>"
                for b in self.bars
            )
        )

    @property
    def y_label_x(self) -> int:
        return 14

    @property
    def y_label_y(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def x_label_y(self) -> int:
        return self.bottom + 34


def top_series(values: dict[str, list[Decimal]], keep: int = 6) -> list[tuple[str, list[Decimal]]]:
    """The `keep` series with the largest totals, largest first; the rest summed as one "others" series."""
    ranked = sorted(values, key=lambda name: (-sum(values[name]), name))
    kept = [(name, values[name]) for name in ranked[:keep]]
    rest = ranked[keep:]
    if rest:
        summed = [sum(column, Decimal(0)) for column in zip(*(values[name] for name in rest), strict=True)]
        kept.append((f"{len(rest)} others", summed))
    return kept


def stacked_bars(
    categories: Sequence[tuple[str, str]],
    series: Sequence[tuple[str, Sequence[Decimal]]],
    *,
    value_label: Callable[[Decimal], str],
    title: str,
    summary: str,
    x_label: str,
    y_label: str,
    unit: str = "$",
) -> BarChart | None:
    """One stacked bar per category ((axis label, full label) pairs); None when every value is zero."""
    totals = [sum((values[i] for _, values in series), Decimal(0)) for i in range(len(categories))]
    top = max(totals, default=Decimal(0))
    if top <= 0:
        return None
    step = _nice_step(float(top) / 4)
    y_max = step * math.ceil(float(top) / step)
    scale = PLOT_HEIGHT / y_max
    bottom = TOP + PLOT_HEIGHT
    slot = (WIDTH - LEFT - RIGHT) / len(categories)
    bar_width = max(slot * 0.72, 1.0)
    bars = []
    for i, (_, full) in enumerate(categories):
        y = float(bottom)
        for (name, values), css_class in zip(series, _classes(series), strict=True):
            if values[i] <= 0:
                continue
            height = float(values[i]) * scale
            y -= height
            x = LEFT + i * slot + (slot - bar_width) / 2
            tip = f"{full} · {name}: {value_label(values[i])}"
            bars.append(Bar(_r(x), _r(y), _r(bar_width), _r(height), css_class, tip))
    return BarChart(
        width=WIDTH,
        height=bottom + 48 + LEGEND_ROW * math.ceil(len(series) / LEGEND_COLUMNS),
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=bottom,
        bars=bars,
        y_ticks=[
            Tick(LEFT - 6, _r(bottom - k * step * scale), _tick_label(k * step, step, unit))
            for k in range(round(y_max / step) + 1)
        ],
        x_ticks=_x_ticks(categories, slot, bottom),
        legend=_legend(series, bottom + 48),
        title=title,
        summary=summary,
        x_label=x_label,
        y_label=y_label,
    )


def _classes(series: Sequence[tuple[str, Sequence[Decimal]]]) -> list[str]:
    classes = [SERIES[i % len(SERIES)] for i in range(len(series))]
    if len(series) > len(SERIES):  # the folded "others" series comes last
        classes[-1] = OTHER_SERIES
    return classes


def _x_ticks(categories: Sequence[tuple[str, str]], slot: float, bottom: int) -> list[Tick]:
    every = math.ceil(len(categories) / MAX_X_LABELS)
    shown = range(0, len(categories), every)
    return [Tick(_r(LEFT + i * slot + slot / 2), bottom + 16, categories[i][0]) for i in shown]


def _legend(series: Sequence[tuple[str, Sequence[Decimal]]], y: int) -> list[Key]:
    column = (WIDTH - LEFT) / LEGEND_COLUMNS
    return [
        Key(_r(LEFT + (j % LEGEND_COLUMNS) * column), y + (j // LEGEND_COLUMNS) * LEGEND_ROW, css, _clip(name), name)
        for j, ((name, _), css) in enumerate(zip(series, _classes(series), strict=True))
    ]


def _nice_step(raw: float) -> float:
    """1, 2, 2.5 or 5 times a power of ten: axis ticks a reader can add up."""
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _tick_label(value: float, step: float, unit: str) -> str:
    # Whole dollars for whole steps; otherwise as many decimals as the step needs (0.025 -> 3), cents at least.
    exponent = Decimal(str(round(step, 12))).normalize().as_tuple().exponent
    places = 0 if exponent >= 0 else max(2, -exponent)
    return f"{unit}{value:,.{places}f}"


def _clip(text: str) -> str:
    return text if len(text) <= LEGEND_CHARS else text[: LEGEND_CHARS - 1] + "…"


def _r(value: float) -> float:
    return round(value, 1)
