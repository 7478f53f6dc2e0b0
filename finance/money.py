"""Money and the code lists around it: ISO 4217 currencies, ISO 3166 countries, rounding.

Amounts are `Decimal` everywhere and are rounded half-up to the currency's minor unit.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from babel import Locale
from babel.numbers import get_currency_precision, list_currencies
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(code for code in list_currencies() if len(code) == 3 and code.isalpha())


@cache
def country_codes() -> frozenset[str]:
    territories = Locale("en").territories
    return frozenset(
        code for code in territories if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


def country_name(code: str, language: str = "en") -> str:
    locale = Locale.parse("zh_Hans" if language.startswith("zh") else "en")
    return locale.territories.get(code, code)


def country_choices(language: str = "en") -> list[tuple[str, str]]:
    return sorted(((c, country_name(c, language)) for c in country_codes()), key=lambda c: c[1])


def validate_currency(value: str) -> None:
    if value not in currency_codes():
        raise ValidationError(_("“%(value)s” is not an ISO 4217 currency code."), params={"value": value})


def validate_country(value: str) -> None:
    if value not in country_codes():
        raise ValidationError(_("“%(value)s” is not an ISO 3166 country code."), params={"value": value})


def minor_unit(currency: str) -> int:
    return get_currency_precision(currency)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (CNY 0.01, JPY 1)."""
    exponent = Decimal(1).scaleb(-minor_unit(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def parse_amount(value: Any, currency: str, field: str) -> Decimal:
    """`value` as a positive Decimal rounded to the currency's minor unit; raises
    ValidationError({field: [...]}) for anything else (text, NaN, zero, negative, absurdly large)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({field: [_("Enter a number.")]}) from None
    if not amount.is_finite():
        raise ValidationError({field: [_("Enter a number.")]})
    rounded = quantize(amount, currency)
    if rounded <= 0:
        raise ValidationError({field: [_("Must be greater than zero.")]})
    if rounded >= Decimal("1e16"):
        raise ValidationError({field: [_("Too large.")]})
    return rounded


def format_amount(amount: Decimal, currency: str) -> str:
    """An amount as people read it in messages and on timelines: "1,000.00 CNY", "1,200 JPY"."""
    return f"{quantize(amount, currency):,} {currency}"
