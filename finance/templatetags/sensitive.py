"""Template filters for sensitive values: `{{ value|mask }}`, `{% if actor|can_see_identifiers %}`."""

from __future__ import annotations

from typing import Any

from django import template

from finance import crypto, sensitive

register = template.Library()


@register.filter
def mask(value: Any) -> str:
    return crypto.mask(value)


@register.filter
def can_see_identifiers(actor: Any) -> bool:
    return sensitive.can_view_identifiers(actor)


@register.filter
def can_see_figures(actor: Any) -> bool:
    return sensitive.can_view_figures(actor)
