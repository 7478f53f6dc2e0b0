"""Ratios from a customer's financial statement, and Altman's Z″ score.

Z″ is Altman's model for non-manufacturers and emerging markets (Altman 1995, 2000):

    Z″ = 6.56·X1 + 3.26·X2 + 6.72·X3 + 1.05·X4
    X1 = working capital / total assets
    X2 = retained earnings / total assets
    X3 = EBIT / total assets
    X4 = book value of equity / total liabilities

Zones: safe above 2.60, grey from 1.10 to 2.60, distress below 1.10. The emerging-market score
adds the constant 3.25 (so that 0 matches a bond rating of D); it is given alongside.
Arithmetic is Decimal; a ratio whose denominator is zero is None ("not meaningful").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

Z_SAFE_ABOVE = Decimal("2.60")
Z_DISTRESS_BELOW = Decimal("1.10")
EM_CONSTANT = Decimal("3.25")
Z_COEFFICIENTS = (Decimal("6.56"), Decimal("3.26"), Decimal("6.72"), Decimal("1.05"))

ZONES = {"safe": _("Safe"), "grey": _("Grey"), "distress": _("Distress")}
FOUR = Decimal("0.0001")
TWO = Decimal("0.01")


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(FOUR, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Ratios:
    working_capital: Decimal
    current_ratio: Decimal | None
    quick_ratio: Decimal | None
    debt_to_equity: Decimal | None
    interest_coverage: Decimal | None
    x1: Decimal
    x2: Decimal
    x3: Decimal
    x4: Decimal | None
    z_score: Decimal | None
    z_score_em: Decimal | None
    zone: str

    @property
    def zone_label(self) -> Any:
        return ZONES.get(self.zone, "")

    def as_json(self) -> dict[str, str | None]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "working_capital": text(self.working_capital),
            "current_ratio": text(self.current_ratio),
            "quick_ratio": text(self.quick_ratio),
            "debt_to_equity": text(self.debt_to_equity),
            "interest_coverage": text(self.interest_coverage),
            "z_score": text(self.z_score),
            "z_score_em": text(self.z_score_em),
            "zone": self.zone or None,
        }


def z_zone(z_score: Decimal | None) -> str:
    if z_score is None:
        return ""
    if z_score > Z_SAFE_ABOVE:
        return "safe"
    if z_score < Z_DISTRESS_BELOW:
        return "distress"
    return "grey"


def ratios(
    *,
    current_assets: Decimal,
    inventory: Decimal,
    total_assets: Decimal,
    current_liabilities: Decimal,
    total_liabilities: Decimal,
    equity: Decimal,
    retained_earnings: Decimal,
    ebit: Decimal,
    interest_expense: Decimal,
    **_other: Any,
) -> Ratios:
    """The liquidity, leverage and coverage ratios and Z″ of one year's figures. Total assets must
    be positive (the model enforces it). Debt to equity is total liabilities over equity; with
    equity at or below zero it is None and X4 is negative, which the Z″ zone shows."""
    working_capital = current_assets - current_liabilities
    x1 = _ratio(working_capital, total_assets) or Decimal(0)
    x2 = _ratio(retained_earnings, total_assets) or Decimal(0)
    x3 = _ratio(ebit, total_assets) or Decimal(0)
    x4 = _ratio(equity, total_liabilities)
    z_score: Decimal | None = None
    if x4 is not None:
        c1, c2, c3, c4 = Z_COEFFICIENTS
        exact = (
            c1 * working_capital / total_assets
            + c2 * retained_earnings / total_assets
            + c3 * ebit / total_assets
            + c4 * equity / total_liabilities
        )
        z_score = exact.quantize(TWO, rounding=ROUND_HALF_UP)
    return Ratios(
        working_capital=working_capital,
        current_ratio=_ratio(current_assets, current_liabilities),
        quick_ratio=_ratio(current_assets - inventory, current_liabilities),
        debt_to_equity=_ratio(total_liabilities, equity) if equity > 0 else None,
        interest_coverage=_ratio(ebit, interest_expense),
        x1=x1,
        x2=x2,
        x3=x3,
        x4=x4,
        z_score=z_score,
        z_score_em=None if z_score is None else z_score + EM_CONSTANT,
        zone=z_zone(z_score),
    )


def statement_ratios(statement: Any) -> Ratios:
    """`ratios` of a FinancialStatement (or anything with its figure attributes)."""
    return ratios(
        current_assets=statement.current_assets,
        inventory=statement.inventory,
        total_assets=statement.total_assets,
        current_liabilities=statement.current_liabilities,
        total_liabilities=statement.total_liabilities,
        equity=statement.equity,
        retained_earnings=statement.retained_earnings,
        ebit=statement.ebit,
        interest_expense=statement.interest_expense,
    )
