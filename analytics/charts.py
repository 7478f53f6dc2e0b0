"""Analytics' server-rendered SVG: the ABC Pareto curve, the RFM heatmap, the lifetime value
histogram, the churn-risk distribution, the cohort retention heatmap and the churn-risk bar of the
customer panel.

Plain markup from the run's summary numbers, no library and no script. Each chart scales to its
container (viewBox); the cohort heatmap is too dense to shrink to a phone, so the page lets it
scroll sideways instead (see `.chart-scroll` in kehu.css). Text is escaped by `format_html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

BRAND = (0x0F, 0x6B, 0x5C)
PALE = (0xEE, 0xF3, 0xF1)
GRID = "#e3e7ee"
AXIS = "#cbd2dc"
MUTED = "#5b6474"
RISK_OK = "#0f6b5c"
RISK_WARN = "#d98200"
RISK_DANGER = "#b42318"


def _n(number: float) -> str:
    return f"{number:.1f}"


def _count(value: float | int | Decimal) -> str:
    """A whole number with the active locale's thousands separator."""
    return number_format(value, 0, force_grouping=True)


def _share(value: float) -> str:
    """A share 0-1 as a whole percentage: "80 %"."""
    return f"{number_format(round(value * 100), 0)} %"


def _shade(intensity: float) -> tuple[str, str]:
    """The fill for an intensity 0-1 (pale to the brand colour) and the CSS class of the text on it
    (white or ink: classes in kehu.css, since the Content-Security-Policy refuses style attributes)."""
    intensity = min(max(intensity, 0.0), 1.0)
    rgb = [round(low + (high - low) * intensity) for low, high in zip(PALE, BRAND, strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb), "ink-light" if intensity > 0.55 else "ink-dark"


def _svg(width: int, height: int, title: str, body: SafeString, css_class: str = "chart") -> SafeString:
    return format_html(
        '<svg class="{css_class}" viewBox="0 0 {width} {height}" role="img" aria-label="{title}" '
        'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        "<title>{title}</title>{body}</svg>",
        css_class=css_class,
        width=width,
        height=height,
        title=title,
        body=body,
    )


def _join(parts: Sequence[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


# --- ABC Pareto curve --------------------------------------------------------------------------------


def pareto_reach(pareto: Sequence[Sequence[float]], share: float) -> float | None:
    """The share of customers (largest first) whose revenue reaches `share` of the total, read
    off the curve by linear interpolation; None without a curve."""
    previous = None
    for point in pareto:
        x, y = float(point[0]), float(point[1])
        if y >= share - 1e-9:
            if previous is None or y == previous[1]:
                return x
            x0, y0 = previous
            return x0 + (x - x0) * (share - y0) / (y - y0)
        previous = (x, y)
    return None


def pareto_chart(
    pareto: Sequence[Sequence[float]], *, a_share: float, b_share: float, title: str
) -> SafeString:
    """Cumulative revenue share (y) against the share of customers ranked largest first (x), with
    the equal-shares diagonal and the policy's A and A + B cut-off lines."""
    width, height = 440, 290
    left, right, top, bottom = 46, 414, 14, 236

    def x(share: float) -> float:
        return left + (right - left) * share

    def y(share: float) -> float:
        return bottom - (bottom - top) * share

    parts = []
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            format_html(
                '<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="{grid}"/>'
                '<text x="{lt}" y="{ty}" text-anchor="end" class="tick">{label}</text>'
                '<text x="{x}" y="{xy}" text-anchor="middle" class="tick">{label}</text>',
                l=left,
                r=right,
                y=_n(y(tick)),
                grid=GRID,
                lt=left - 5,
                ty=_n(y(tick) + 4),
                x=_n(x(tick)),
                xy=bottom + 17,
                label=_share(tick),
            )
        )
    parts.append(
        format_html(
            '<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="{axis}" stroke-dasharray="4 4"/>',
            x0=left,
            y0=bottom,
            x1=right,
            y1=top,
            axis=AXIS,
        )
    )
    for cut, label, color, ink in (
        (a_share, _("A up to %(share)s") % {"share": _share(a_share)}, "#0f6b5c", "ink-brand"),
        (
            a_share + b_share,
            _("B up to %(share)s") % {"share": _share(a_share + b_share)},
            "#b45309",
            "ink-warn",
        ),
    ):
        parts.append(
            format_html(
                '<g class="cutoff"><line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="{color}" '
                'stroke-dasharray="6 3" stroke-width="1.5"/>'
                '<text x="{tx}" y="{ty}" text-anchor="end" class="cut {ink}">'
                "{label}</text></g>",
                ink=ink,
                l=left,
                r=right,
                y=_n(y(cut)),
                color=color,
                tx=right - 2,
                ty=_n(y(cut) + 15),
                label=label,
            )
        )
    if len(pareto) > 1:
        points = " ".join(f"{_n(x(float(p[0])))},{_n(y(float(p[1])))}" for p in pareto)
        area = f"{_n(x(0))},{_n(y(0))} {points} {_n(x(float(pareto[-1][0])))},{_n(y(0))}"
        parts.append(
            format_html(
                '<polygon points="{area}" fill="#0f6b5c" fill-opacity=".08"/>'
                '<polyline class="curve" points="{points}" fill="none" stroke="#0f6b5c" stroke-width="2.5"/>',
                area=area,
                points=points,
            )
        )
        reach = pareto_reach(pareto, a_share)
        if reach is not None:
            parts.append(
                format_html(
                    '<line x1="{x}" y1="{y}" x2="{x}" y2="{b}" stroke="#0f6b5c" stroke-dasharray="2 3"/>'
                    '<circle cx="{x}" cy="{y}" r="4" fill="#0f6b5c"/>'
                    '<text x="{tx}" y="{ty}" class="note">{label}</text>',
                    x=_n(x(reach)),
                    y=_n(y(a_share)),
                    b=bottom,
                    tx=_n(x(reach) + 6),
                    ty=_n(y(a_share) + (bottom - y(a_share)) / 2),
                    label=_share(reach),
                )
            )
    parts.append(
        format_html(
            '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="{axis}"/>'
            '<text x="{cx}" y="{ty}" text-anchor="middle" class="axis">{label}</text>',
            l=left,
            r=right,
            b=bottom,
            axis=AXIS,
            cx=_n((left + right) / 2),
            ty=height - 12,
            label=_("Customers, largest first"),
        )
    )
    return _svg(width, height, title, _join(parts))


# --- RFM heatmap -------------------------------------------------------------------------------------


def rfm_heatmap(grid: Sequence[Sequence[int]], *, title: str) -> SafeString:
    """Customers per recency (rows, R5 at the top) and frequency score (columns, F1 to F5); the
    darker the cell, the more customers."""
    width, height = 440, 262
    left, top, cell_w, cell_h = 40, 6, 78, 40
    peak = max((n for row in grid for n in row), default=0)
    parts = []
    for row_index, r in enumerate(range(5, 0, -1)):
        y = top + row_index * cell_h
        parts.append(
            format_html(
                '<text x="{x}" y="{y}" text-anchor="end" class="tick">R{r}</text>',
                x=left - 6,
                y=_n(y + cell_h / 2 + 5),
                r=r,
            )
        )
        for f in range(1, 6):
            count = grid[r - 1][f - 1] if len(grid) >= r and len(grid[r - 1]) >= f else 0
            fill, ink = _shade(count / peak if peak else 0)
            x = left + (f - 1) * cell_w
            parts.append(
                format_html(
                    '<g class="cell" data-r="{r}" data-f="{f}"><title>{tip}</title>'
                    '<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="{fill}" stroke="#fff" '
                    'stroke-width="2"/><text x="{cx}" y="{cy}" text-anchor="middle" class="value {ink}">'
                    "{count}</text></g>",
                    r=r,
                    f=f,
                    tip=_("R %(r)s, F %(f)s: %(count)s customers") % {"r": r, "f": f, "count": _count(count)},
                    x=x,
                    y=y,
                    w=cell_w,
                    h=cell_h,
                    fill=fill,
                    cx=_n(x + cell_w / 2),
                    cy=_n(y + cell_h / 2 + 5),
                    ink=ink,
                    count=_count(count) if count else "·",
                )
            )
    bottom = top + 5 * cell_h
    for f in range(1, 6):
        parts.append(
            format_html(
                '<text x="{x}" y="{y}" text-anchor="middle" class="tick">F{f}</text>',
                x=_n(left + (f - 0.5) * cell_w),
                y=bottom + 17,
                f=f,
            )
        )
    parts.append(
        format_html(
            '<text x="{x}" y="{y}" text-anchor="middle" class="axis">{label}</text>',
            x=_n(left + 2.5 * cell_w),
            y=height - 8,
            label=_("R: recent (5) to long ago (1) · F: frequent (5) to rare (1)"),
        )
    )
    return _svg(width, height, title, _join(parts))


# --- Lifetime value histogram ------------------------------------------------------------------------


def histogram(edges: Sequence[float], counts: Sequence[int], *, title: str, currency: str) -> SafeString:
    """Customers per lifetime value band: contiguous bars, the count above each, the amounts at
    the first, middle and last edge. The last band also holds the few values above it (the
    bands end at the 99th percentile)."""
    width, height = 440, 250
    left, right, top, bottom = 10, 430, 24, 206
    parts = [
        format_html(
            '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="{axis}"/>',
            l=left,
            r=right,
            b=bottom,
            axis=AXIS,
        )
    ]
    if counts and len(edges) == len(counts) + 1:
        peak = max(counts) or 1
        slot = (right - left) / len(counts)
        for index, count in enumerate(counts):
            bar_height = (bottom - top) * count / peak
            if count:
                bar_height = max(bar_height, 2)
            x = left + index * slot
            low, high = edges[index], edges[index + 1]
            if index == len(counts) - 1:
                band = _("%(low)s or more") % {"low": _count(low)}
            else:
                band = _("%(low)s to %(high)s") % {"low": _count(low), "high": _count(high)}
            parts.append(
                format_html(
                    '<g class="bar"><title>{tip}</title>'
                    '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#0f6b5c" rx="2"/>'
                    '<text x="{cx}" y="{ty}" text-anchor="middle" class="value small">{count}</text></g>',
                    tip=_("%(band)s %(currency)s: %(count)s customers")
                    % {"band": band, "currency": currency, "count": _count(count)},
                    x=_n(x + 1),
                    y=_n(bottom - bar_height),
                    w=_n(slot - 2),
                    h=_n(bar_height),
                    cx=_n(x + slot / 2),
                    ty=_n(bottom - bar_height - 6),
                    count=_count(count) if count else "",
                )
            )
        middle = len(counts) // 2
        for index, anchor in ((0, "start"), (middle, "middle"), (len(counts), "end")):
            parts.append(
                format_html(
                    '<text x="{x}" y="{y}" text-anchor="{anchor}" class="tick">{label}</text>',
                    x=_n(left + index * slot),
                    y=bottom + 17,
                    anchor=anchor,
                    label=_count(edges[index]),
                )
            )
    parts.append(
        format_html(
            '<text x="{x}" y="{y}" text-anchor="middle" class="axis">{label}</text>',
            x=_n((left + right) / 2),
            y=height - 6,
            label=_("Lifetime value (%(currency)s)") % {"currency": currency},
        )
    )
    return _svg(width, height, title, _join(parts))


# --- Churn risk ------------------------------------------------------------------------------------


def risk_level(risk: int | None, threshold: int) -> str:
    """ "danger" at or above the alert threshold, "warn" from two thirds of it, "ok" below, "none"
    without a risk: the colour of bars and badges."""
    if risk is None:
        return "none"
    if risk >= threshold:
        return "danger"
    if risk >= threshold * 2 / 3:
        return "warn"
    return "ok"


RISK_COLORS = {"danger": RISK_DANGER, "warn": RISK_WARN, "ok": RISK_OK, "none": AXIS}


def risk_color(risk: int | None, threshold: int) -> str:
    return RISK_COLORS[risk_level(risk, threshold)]


def churn_bands_chart(bands: Sequence[int], *, threshold: int, title: str) -> SafeString:
    """Customers per band of ten churn-risk points (0-9, ..., 90-100), coloured by the alert
    threshold, which is drawn as a dashed line across the scale."""
    width, height = 440, 250
    left, right, top, bottom = 12, 428, 30, 200
    slot = (right - left) / max(len(bands), 1)
    peak = max(bands, default=0) or 1
    parts = [
        format_html(
            '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="{axis}"/>',
            l=left,
            r=right,
            b=bottom,
            axis=AXIS,
        )
    ]
    for index, count in enumerate(bands):
        low = index * 10
        high = 100 if index == len(bands) - 1 else low + 9
        bar_height = (bottom - top) * count / peak
        if count:
            bar_height = max(bar_height, 2)
        x = left + index * slot
        parts.append(
            format_html(
                '<g class="bar"><title>{tip}</title>'
                '<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="3" fill="{color}"/>'
                '<text x="{cx}" y="{ty}" text-anchor="middle" class="value small">{count}</text></g>'
                '<text x="{lx}" y="{ly}" text-anchor="middle" class="tick">{low}</text>',
                tip=_("Churn risk %(low)s to %(high)s: %(count)s customers")
                % {"low": low, "high": high, "count": _count(count)},
                x=_n(x + slot * 0.15),
                y=_n(bottom - bar_height),
                w=_n(slot * 0.7),
                h=_n(bar_height),
                color=risk_color(high, threshold),
                cx=_n(x + slot / 2),
                ty=_n(bottom - bar_height - 6),
                count=_count(count),
                lx=_n(x),
                ly=bottom + 17,
                low=low,
            )
        )
    mark = left + (right - left) * min(max(threshold, 0), 100) / 100
    parts.append(
        format_html(
            '<text x="{r}" y="{ly}" text-anchor="end" class="tick">100</text>'
            '<line x1="{x}" y1="{t}" x2="{x}" y2="{b}" stroke="{danger}" stroke-dasharray="5 3"/>'
            '<text x="{tx}" y="{ty}" text-anchor="{anchor}" class="cut ink-danger">{label}</text>'
            '<text x="{cx}" y="{ay}" text-anchor="middle" class="axis">{axis_label}</text>',
            r=right,
            ly=bottom + 17,
            x=_n(mark),
            t=top - 14,
            b=bottom,
            danger=RISK_DANGER,
            tx=_n(mark - 4 if threshold > 50 else mark + 4),
            ty=top - 16 + 12,
            anchor="end" if threshold > 50 else "start",
            label=_("alert at %(threshold)s") % {"threshold": threshold},
            cx=_n((left + right) / 2),
            ay=height - 8,
            axis_label=_("Churn risk (0-100)"),
        )
    )
    return _svg(width, height, title, _join(parts))


def churn_bar(risk: int | None, *, threshold: int, title: str) -> SafeString:
    """A small horizontal bar of a churn risk out of 100, with a tick at the alert threshold."""
    width = max(min(risk or 0, 100), 0) * 3
    return format_html(
        '<svg class="gauge churn-bar" viewBox="0 0 300 18" preserveAspectRatio="none" role="img" '
        'aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
        '<rect x="0" y="0" width="300" height="18" rx="9" fill="#e9edf3"/>'
        '<rect x="0" y="0" width="{width}" height="18" rx="9" fill="{color}"/>'
        '<rect x="{mark}" y="0" width="2" height="18" fill="#1d2433" opacity=".55"/></svg>',
        title=title,
        width=width,
        color=risk_color(risk, threshold),
        mark=min(max(threshold * 3 - 1, 0), 298),
    )


# --- Cohort retention heatmap ------------------------------------------------------------------------


def cohort_heatmap(
    months: Sequence[str], sizes: Sequence[int], matrix: Sequence[Sequence[int]], *, title: str
) -> SafeString:
    """One row per acquisition month (with the cohort's size), one column per month since; each
    cell is the share of the cohort that bought in that month, darker the higher. Months before
    the first cohort are left out; a month without new customers has a label and no cells."""
    first = next((i for i, size in enumerate(sizes) if size), len(sizes))
    rows = list(zip(months[first:], sizes[first:], matrix[first:], strict=True))
    columns = max((len(row[2]) for row in rows), default=0)
    left, top, cell_w, cell_h = 124, 40, 26, 20
    width = left + max(columns, 6) * cell_w + 8
    height = top + max(len(rows), 1) * cell_h + 8
    parts = [
        format_html(
            '<text x="{x}" y="14" class="axis">{label}</text>',
            x=left,
            label=_("Months since the first purchase"),
        ),
        format_html('<text x="4" y="32" class="axis small">{}</text>', _("Cohort (customers)")),
    ]
    for offset in range(columns):
        parts.append(
            format_html(
                '<text x="{x}" y="32" text-anchor="middle" class="tick small">{offset}</text>',
                x=_n(left + (offset + 0.5) * cell_w),
                offset=offset,
            )
        )
    for index, (month, size, counts) in enumerate(rows):
        y = top + index * cell_h
        parts.append(
            format_html(
                '<text x="4" y="{y}" class="tick small">{month} ({size})</text>',
                y=_n(y + cell_h / 2 + 4),
                month=month,
                size=_count(size),
            )
        )
        for offset, count in enumerate(counts if size else []):
            share = count / size if size else 0
            fill, ink = _shade(share)
            x = left + offset * cell_w
            parts.append(
                format_html(
                    '<g class="cell"><title>{tip}</title><rect x="{x}" y="{y}" width="{w}" height="{h}" '
                    'fill="{fill}" stroke="#fff"/><text x="{cx}" y="{cy}" text-anchor="middle" '
                    'class="tiny {ink}">{pct}</text></g>',
                    tip=_("%(month)s, month %(offset)s: %(count)s of %(size)s customers bought")
                    % {"month": month, "offset": offset, "count": _count(count), "size": _count(size)},
                    x=x,
                    y=y,
                    w=cell_w,
                    h=cell_h,
                    fill=fill,
                    cx=_n(x + cell_w / 2),
                    cy=_n(y + cell_h / 2 + 3.5),
                    ink=ink,
                    pct=round(share * 100),
                )
            )
    return _svg(width, height, title, _join(parts), css_class="chart cohorts")
