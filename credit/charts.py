"""Credit's server-rendered SVG: the exposure gauge of the customer panel and the risk-class
distribution of the dashboard (a bar chart drawn by receivables' chart code)."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from credit import scorecard
from receivables.charts import Bar, bar_chart

# Utilisation at or above these percentages turns the gauge amber, then red.
WARN_AT = Decimal(75)
DANGER_AT = Decimal(100)
GAUGE_COLORS = {"ok": "#0f6b5c", "warn": "#d98200", "danger": "#b42318", "none": "#9aa3b2"}
CLASS_COLORS = {
    "A": "#0f6b5c",
    "B": "#3f8f5a",
    "C": "#d9a300",
    "D": "#e07b00",
    "E": "#b42318",
    "": "#9aa3b2",
}


def utilisation_level(utilisation: Decimal | None) -> str:
    """ "ok", "warn", "danger", or "none" without a limit: the colour of the gauge and badges."""
    if utilisation is None:
        return "none"
    if utilisation >= DANGER_AT:
        return "danger"
    if utilisation >= WARN_AT:
        return "warn"
    return "ok"


def exposure_gauge(utilisation: Decimal | None, *, title: str) -> SafeString:
    """A horizontal bar: the share of the limit in use, full and red when over it. Scales to its
    container (viewBox), so it fits a phone's panel as well as a desktop's."""
    level = utilisation_level(utilisation)
    share = min(max(utilisation or Decimal(0), Decimal(0)), Decimal(100))
    width = (share * 3).quantize(Decimal("0.1"))  # the track is 300 units long
    return format_html(
        '<svg class="gauge" viewBox="0 0 300 18" preserveAspectRatio="none" role="img" aria-label="{title}" '
        'xmlns="http://www.w3.org/2000/svg" data-level="{level}"><title>{title}</title>'
        '<rect x="0" y="0" width="300" height="18" rx="9" fill="#e9edf3"/>'
        '<rect x="0" y="0" width="{width}" height="18" rx="9" fill="{color}"/></svg>',
        title=title,
        level=level,
        width=width,
        color=GAUGE_COLORS[level],
    )


def risk_class_chart(class_counts: dict[str, int]) -> SafeString:
    """One bar per risk class A–E and one for the customers not scored yet."""
    bars = [
        Bar(label=risk_class, value=Decimal(class_counts.get(risk_class, 0)), color=CLASS_COLORS[risk_class])
        for risk_class in scorecard.CLASSES
    ]
    bars.append(Bar(label=_("Not scored"), value=Decimal(class_counts.get("", 0)), color=CLASS_COLORS[""]))
    return bar_chart(bars, title=_("Customers by risk class"))
