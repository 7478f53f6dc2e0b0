"""Tax identifiers, checked with python-stdnum where the country has a rule."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.exceptions import InvalidChecksum, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import get_cc_module


def normalize_tax_id(country: str, tax_id: str) -> str:
    """Validate `tax_id` for `country` and return its compact form; raise ValidationError.

    China uses the 18-character unified social credit code (统一社会信用代码), always validated.
    Elsewhere the country's VAT number rule applies, else its TIN rule; a country with neither
    keeps the id as entered.
    """
    tax_id = tax_id.strip()
    if not tax_id:
        return ""
    country = (country or "").lower()
    modules = ["uscc"] if country == "cn" else ["vat", "tin"]
    for name in modules:
        module = get_cc_module(country, name) if country else None
        if module is None:
            continue
        try:
            return module.validate(tax_id)
        except StdnumError as exc:
            raise ValidationError(
                _("Not a valid unified social credit code (%(reason)s).")
                if country == "cn"
                else _("Not a valid tax id for this country (%(reason)s)."),
                params={"reason": _reason(exc)},
            ) from None
    return tax_id


def _reason(exc: StdnumError) -> str:
    if isinstance(exc, InvalidChecksum):
        return _("the check digit is wrong")
    if isinstance(exc, InvalidLength):
        return _("wrong length")
    return _("wrong format")
