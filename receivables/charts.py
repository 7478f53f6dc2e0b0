"""Charts as server-rendered SVG: the same markup serves pages, PDF statements and reports.

Plain markup from numbers, no library and no script: the browser scales it (viewBox) to the
width of its container, so it fits a phone as well as a desktop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Small user units with large text: the chart shrinks to about 330px on a phone and its labels
# must stay readable there, so the viewBox is not much wider than that.
WIDTH = 440
HEIGHT = 250
TOP = 26  # room for the value above the tallest bar
BOTTOM = 46  # room for two lines of label under the bars
SIDE = 8
COLORS = ("#0f6b5c", "#d9a300", "#e07b00", "#c2410c", "#b42318", "#7a1d14")


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    display: str = ""  # the value shown above the bar; whole units in the active locale when empty
    color: str = ""


def _n(number: float | Decimal) -> str:
    return f"{number:.1f}"


def _split_label(label: str, limit: int = 8) -> tuple[str, str]:
    """At most two short lines, so labels stay readable when the chart shrinks on a phone."""
    if len(label) <= limit or " " not in label:
        return label, ""
    cut = label.rfind(" ", 0, limit + 1)
    if cut <= 0:
        cut = label.find(" ")
    return label[:cut], label[cut + 1 :]


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    """A vertical bar chart: one bar per item, its value above and its label below.

    Heights are proportional to the values (negative values draw as zero); an all-zero chart
    draws a baseline with the labels, never a division by zero. Text is escaped.
    """
    count = max(len(bars), 1)
    plot_height = height - TOP - BOTTOM
    slot = (width - 2 * SIDE) / count
    bar_width = slot * 0.62
    peak = max((max(bar.value, Decimal(0)) for bar in bars), default=Decimal(0))
    baseline = TOP + plot_height
    parts = []
    for index, bar in enumerate(bars):
        value = max(bar.value, Decimal(0))
        bar_height = value / peak * plot_height if peak > 0 else Decimal(0)
        if value > 0:
            bar_height = max(bar_height, 2.0)  # a tiny amount stays visible
        x = SIDE + index * slot + (slot - bar_width) / 2
        centre = SIDE + index * slot + slot / 2
        first, second = _split_label(bar.label)
        display = bar.display or number_format(bar.value, 0, force_grouping=True)
        parts.append(
            format_html(
                '<g class="bar"><title>{label}: {exact}</title>'
                '<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="3" fill="{color}"/>'
                '<text x="{cx}" y="{ty}" text-anchor="middle" class="value">{display}</text>'
                '<text x="{cx}" y="{ly}" text-anchor="middle" class="label">{first}</text>'
                '<text x="{cx}" y="{ly2}" text-anchor="middle" class="label">{second}</text></g>',
                label=bar.label,
                exact=number_format(bar.value, 2, force_grouping=True),
                display=display,
                x=_n(x),
                y=_n(baseline - bar_height),
                w=_n(bar_width),
                h=_n(bar_height),
                color=bar.color or COLORS[min(index, len(COLORS) - 1)],
                cx=_n(centre),
                ty=_n(baseline - bar_height - 7),
                ly=_n(baseline + 19),
                ly2=_n(baseline + 37),
                first=first,
                second=second,
            )
        )
    return format_html(
        '<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{title}" '
        'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        "<title>{title}</title>"
        '<line x1="{side}" y1="{baseline}" x2="{right}" y2="{baseline}" stroke="#cbd2dc"/>'
        "{bars}</svg>",
        width=width,
        height=height,
        title=title,
        side=SIDE,
        right=width - SIDE,
        baseline=baseline,
        bars=format_html_join("", "{}", ((part,) for part in parts)),
    )


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[Decimal | None]  # one per x label; None leaves a gap
    color: str = ""


def line_chart(
    labels: Sequence[str], series: Sequence[Series], *, title: str, width: int = WIDTH, height: int = HEIGHT
) -> SafeString:
    """A line chart over shared x labels (dates), one polyline per series, with a legend.

    The y axis runs from zero (or the lowest value, if negative) to the highest value; missing
    points break the line. With fewer than two labels it draws the legend and a baseline only.
    """
    plot_top, plot_bottom, left, right = 30, height - 28, SIDE + 30, width - SIDE
    values = [v for s in series for v in s.values if v is not None]
    high = max(values, default=Decimal(1)) or Decimal(1)
    low = min(min(values, default=Decimal(0)), Decimal(0))
    span = (high - low) or Decimal(1)
    count = len(labels)

    def x(i: int) -> float:
        return left + (right - left) * (i / (count - 1) if count > 1 else 0.5)

    def y(value: Decimal) -> Decimal:
        return plot_bottom - (value - low) / span * (plot_bottom - plot_top)

    paths = []
    for index, one in enumerate(series):
        color = one.color or COLORS[index % len(COLORS)]
        segments: list[list[str]] = [[]]
        for i, value in enumerate(one.values):
            if value is None:
                segments.append([])
            else:
                segments[-1].append(f"{_n(x(i))},{_n(y(value))}")
        for points in segments:
            if len(points) > 1:
                paths.append(
                    format_html(
                        '<polyline fill="none" stroke="{}" stroke-width="2.5" points="{}"/>',
                        color,
                        " ".join(points),
                    )
                )
            elif len(points) == 1:
                cx, cy = points[0].split(",")
                paths.append(format_html('<circle cx="{}" cy="{}" r="3" fill="{}"/>', cx, cy, color))
    legend_items, offset = [], SIDE + 0.0  # pixel positions, not money
    for i, one in enumerate(series):
        legend_items.append((_n(offset), one.color or COLORS[i % len(COLORS)], _n(offset + 14), one.label))
        offset += 14 + 6.5 * len(str(one.label)) + 16  # about 6.5 units a character at 12px
    legend = format_html_join(
        "",
        '<rect x="{}" y="6" width="10" height="10" fill="{}"/><text x="{}" y="15" font-size="12">{}</text>',
        legend_items,
    )
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#cbd2dc"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>',
        left,
        _n(plot_bottom),
        right,
        _n(plot_bottom),
        left - 4,
        _n(plot_top + 4),
        number_format(high, 0),
        left - 4,
        _n(plot_bottom),
        number_format(low, 0),
    )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>',
        ((_n(x(i)), height - 8, labels[i]) for i in sorted({0, count - 1}) if count),
    )
    return format_html(
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}" class="chart" '
        'xmlns="http://www.w3.org/2000/svg">{}{}{}{}</svg>',
        width,
        height,
        title,
        legend,
        axis,
        format_html_join("", "{}", ((p,) for p in paths)),
        ticks,
    )
