"""Line charts as SVG, drawn on the server: no chart library, no script, nothing fetched.

A chart is a step axis (1 .. the job's total steps), one polyline per per-step series
(one vertex per step that has a value), dots for the sparse series (full validation at
epoch ends) and a dashed vertical rule per checkpoint. Colours come from the stylesheet
(classes), so the page's Content-Security-Policy needs no inline styles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 640
HEIGHT = 260
MARGIN_LEFT = 52
MARGIN_RIGHT = 14
MARGIN_TOP = 12
MARGIN_BOTTOM = 34
Y_TICKS = 5
X_TICKS = 6
MARKER_RADIUS = 3.5
# A series whose values are all equal still gets a band this tall around them.
MIN_SPAN = 1e-6


@dataclass(frozen=True)
class Series:
    key: str
    """Names the series in class names and data attributes (e.g. "train_loss")."""
    label: str
    points: tuple[tuple[int, float], ...]
    """(step, value), steps ascending."""
    dots: bool = False
    """Drawn as dots (sparse values), not as a line."""


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    series: tuple[Series, ...]
    total_steps: int
    checkpoints: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


def render(chart: Chart) -> Markup:
    """The chart's SVG element; empty markup when it has no point yet."""
    if chart.empty:
        return Markup("")
    values = [value for s in chart.series for _, value in s.points]
    low, high = _padded(min(values), max(values))
    last_step = max(chart.total_steps, max(step for s in chart.series for step, _ in s.points))
    scale = _Scale(last_step, low, high)
    title_id = f"chart-{chart.key}-title"
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{title_id}" data-chart="{escape(chart.key)}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(_summary(chart))}</title>',
        *_grid(scale, low, high, last_step),
        *(_checkpoint(scale, step, low, high) for step in chart.checkpoints),
        *(_series(scale, s) for s in chart.series if s.points),
        "</svg>",
    ]
    return Markup("".join(parts))


def _summary(chart: Chart) -> str:
    """The text a screen reader gets for the picture: each series' first and last value."""
    told = []
    for s in chart.series:
        if not s.points:
            continue
        (first_step, first), (last_step, last) = s.points[0], s.points[-1]
        if len(s.points) == 1:
            told.append(f"{s.label} {last:.4g} at step {last_step}")
        else:
            told.append(
                f"{s.label} from {first:.4g} at step {first_step} to {last:.4g} at step {last_step}"
            )
    if chart.checkpoints:
        told.append("checkpoints at steps " + ", ".join(str(c) for c in chart.checkpoints))
    return f"{chart.title}: " + "; ".join(told) + "."


class _Scale:
    def __init__(self, last_step: int, low: float, high: float) -> None:
        self.last_step = max(1, last_step)
        self.low = low
        self.high = high
        self.width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        self.height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x(self, step: float) -> float:
        if self.last_step == 1:
            return MARGIN_LEFT + self.width / 2
        return MARGIN_LEFT + (step - 1) / (self.last_step - 1) * self.width

    def y(self, value: float) -> float:
        return MARGIN_TOP + (self.high - value) / (self.high - self.low) * self.height


def _padded(low: float, high: float) -> tuple[float, float]:
    span = max(high - low, MIN_SPAN, abs(high) * 0.05)
    return low - span * 0.08, high + span * 0.08


def nice_ticks(low: float, high: float, count: int) -> list[float]:
    """Round values between low and high, as near `count` of them as a step of 1, 2 or 5
    times a power of ten gives."""
    if high <= low:
        return [low]
    power = 10 ** math.floor(math.log10((high - low) / max(1, count - 1)))

    def ticks(step: float) -> list[float]:
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        return [round(n * step, 12) for n in range(first, last + 1)]

    candidates = [ticks(m * power) for m in (1, 2, 5, 10)]
    return min(candidates, key=lambda t: (abs(len(t) - count), len(t)))


def step_ticks(last_step: int, count: int) -> list[int]:
    """Whole steps from 1 to last_step for the x axis: the ends and round steps between."""
    if last_step <= count:
        return list(range(1, last_step + 1))
    between = [int(t) for t in nice_ticks(1, last_step, count) if 1 < t < last_step]
    return [1, *between, last_step]


def _grid(scale: _Scale, low: float, high: float, last_step: int) -> list[str]:
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    bottom = HEIGHT - MARGIN_BOTTOM
    out = ['<g class="axis" aria-hidden="true">']
    for tick in nice_ticks(low, high, Y_TICKS):
        y = _n(scale.y(tick))
        out.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y}" y2="{y}"/>')
        out.append(
            f'<text class="tick" x="{left - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{tick:.3g}</text>'
        )
    for step in step_ticks(last_step, X_TICKS):
        x = _n(scale.x(step))
        out.append(f'<line class="tick-mark" x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 4}"/>')
        out.append(
            f'<text class="tick" x="{x}" y="{bottom + 16}" text-anchor="middle">{step}</text>'
        )
    out.append(f'<line class="frame" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    out.append(
        f'<text class="axis-label" x="{_n((left + right) / 2)}" y="{HEIGHT - 2}" '
        'text-anchor="middle">step</text>'
    )
    out.append("</g>")
    return out


def _checkpoint(scale: _Scale, step: int, low: float, high: float) -> str:
    x = _n(scale.x(step))
    return (
        f'<g class="checkpoint" data-step="{step}"><title>Checkpoint at step {step}</title>'
        f'<line x1="{x}" x2="{x}" y1="{_n(scale.y(high))}" y2="{_n(scale.y(low))}"/></g>'
    )


def _series(scale: _Scale, series: Series) -> str:
    key = escape(series.key)
    css = key.replace("_", "-")
    if series.dots:
        dots = "".join(
            f'<circle cx="{_n(scale.x(step))}" cy="{_n(scale.y(value))}" r="{MARKER_RADIUS}" '
            f'data-step="{step}"><title>{escape(series.label)} at step {step}: '
            f"{value:.4f}</title></circle>"
            for step, value in series.points
        )
        return (
            f'<g class="series dots series-{css}" data-series="{key}" '
            f'data-count="{len(series.points)}">{dots}</g>'
        )
    points = " ".join(f"{_n(scale.x(step))},{_n(scale.y(value))}" for step, value in series.points)
    return (
        f'<polyline class="series line series-{css}" data-series="{key}" '
        f'data-count="{len(series.points)}" points="{points}"/>'
    )


def _n(value: float) -> str:
    """A coordinate: two decimals, no trailing zeros (the SVG stays small)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def legend(chart: Chart) -> Sequence[Series]:
    """The series a legend lists: those with a point."""
    return [s for s in chart.series if s.points]
