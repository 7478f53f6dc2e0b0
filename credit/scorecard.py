"""The scorecard: factors, their weights and bands, and the arithmetic that turns a customer's
metrics into an explained score, a risk class and a suggested limit. Pure functions over plain
values (the metrics come from `credit.selectors`), so the arithmetic is tested on known inputs.

A factor's bands are `[[threshold, points], ...]` plus `otherwise` points. For a factor where lower
is better (days late), the first band whose threshold the value does not exceed gives the points;
where higher is better (tenure), the first band whose threshold the value reaches. A factor with no
data is left out and the weights of the others are scaled up; a score needs at least
`MIN_WEIGHT_SHARE` of the total weight to be given at all.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

LOWER, HIGHER, GRADE = "lower", "higher", "grade"
MIN_WEIGHT_SHARE = Decimal("0.30")
CLASSES = ("A", "B", "C", "D", "E")


@dataclass(frozen=True)
class Factor:
    key: str
    label: Any
    better: str  # LOWER, HIGHER or GRADE
    unit: str  # "days", "percent", "months", "money", "ratio", "grade"


FACTORS: dict[str, Factor] = {
    f.key: f
    for f in (
        Factor("avg_days_late", gettext_lazy("Average days late (amount-weighted)"), LOWER, "days"),
        Factor("late_share", gettext_lazy("Share of invoices paid late"), LOWER, "percent"),
        Factor("worst_delay", gettext_lazy("Worst delay"), LOWER, "days"),
        Factor(
            "delay_trend",
            gettext_lazy("Change in days late, last quarter against the one before"),
            LOWER,
            "days",
        ),
        Factor("kept_promises", gettext_lazy("Promises to pay kept"), HIGHER, "percent"),
        Factor("dispute_rate", gettext_lazy("Invoices disputed"), LOWER, "percent"),
        Factor("tenure", gettext_lazy("Tenure"), HIGHER, "months"),
        Factor("purchase_volume", gettext_lazy("Purchases, last 12 months"), HIGHER, "money"),
        Factor("utilisation", gettext_lazy("Credit utilisation"), LOWER, "percent"),
        Factor("z_score", gettext_lazy("Altman Z″"), HIGHER, "ratio"),
        Factor("current_ratio", gettext_lazy("Current ratio"), HIGHER, "ratio"),
        Factor("debt_to_equity", gettext_lazy("Debt to equity"), LOWER, "ratio"),
        Factor("interest_coverage", gettext_lazy("Interest coverage"), HIGHER, "ratio"),
        Factor("external_rating", gettext_lazy("External rating"), GRADE, "grade"),
    )
}

DEFAULT_SCORECARD: dict[str, Any] = {
    "factors": {
        "avg_days_late": {
            "weight": 20,
            "bands": [[0, 100], [7, 85], [15, 70], [30, 50], [60, 25]],
            "otherwise": 0,
        },
        "late_share": {"weight": 10, "bands": [[10, 100], [25, 75], [50, 50], [75, 25]], "otherwise": 0},
        "worst_delay": {"weight": 10, "bands": [[15, 100], [30, 75], [60, 50], [90, 25]], "otherwise": 0},
        "delay_trend": {"weight": 5, "bands": [[-5, 100], [5, 70], [15, 40]], "otherwise": 0},
        "kept_promises": {"weight": 10, "bands": [[90, 100], [75, 70], [50, 40]], "otherwise": 0},
        "dispute_rate": {"weight": 5, "bands": [[2, 100], [5, 70], [10, 40]], "otherwise": 0},
        "tenure": {"weight": 5, "bands": [[60, 100], [24, 80], [12, 60], [6, 40]], "otherwise": 20},
        "purchase_volume": {
            "weight": 5,
            "bands": [[1000000, 100], [250000, 80], [50000, 60], [10000, 40]],
            "otherwise": 20,
        },
        "utilisation": {"weight": 10, "bands": [[50, 100], [75, 80], [90, 50], [100, 25]], "otherwise": 0},
        "z_score": {"weight": 8, "bands": [[2.6, 100], [1.1, 50]], "otherwise": 0},
        "current_ratio": {"weight": 4, "bands": [[2, 100], [1.5, 80], [1, 50], [0.8, 25]], "otherwise": 0},
        "debt_to_equity": {"weight": 2, "bands": [[0.5, 100], [1, 80], [2, 50], [3, 25]], "otherwise": 0},
        "interest_coverage": {"weight": 2, "bands": [[8, 100], [4, 80], [2, 50], [1, 25]], "otherwise": 0},
        "external_rating": {
            "weight": 4,
            "grades": {
                "AAA": 100,
                "AA": 95,
                "A": 90,
                "BBB": 75,
                "BB": 60,
                "B": 45,
                "CCC": 25,
                "CC": 15,
                "C": 5,
                "D": 0,
            },
        },
    },
    # Suggested limit = monthly purchases × (terms + 30 days) / 30 × this multiplier of the class.
    "limit_multipliers": {"A": 1.5, "B": 1.25, "C": 1.0, "D": 0.5, "E": 0},
}
DEFAULT_CLASS_FLOORS = {"A": 80, "B": 65, "C": 50, "D": 35}
DEFAULT_REVIEW_MONTHS = {"A": 12, "B": 12, "C": 6, "D": 3, "E": 1}


def _number(value: Any, path: str, errors: dict[str, list[str]]) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors.setdefault(path, []).append(_("Enter a number."))
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.setdefault(path, []).append(_("Enter a number."))
        return None
    if not number.is_finite():
        errors.setdefault(path, []).append(_("Enter a number."))
        return None
    return number


def _points(value: Any, path: str, errors: dict[str, list[str]]) -> None:
    number = _number(value, path, errors)
    if number is not None and not (0 <= number <= 100):
        errors.setdefault(path, []).append(_("Points are from 0 to 100."))


def validate_scorecard(config: Any) -> dict[str, Any]:
    """The scorecard with defaults filled in for what it leaves out; raises ValidationError with
    paths like `factors.late_share.bands.1` for every mistake."""
    if not isinstance(config, Mapping):
        raise ValidationError({"scorecard": [_("Give an object.")]})
    errors: dict[str, list[str]] = {}
    merged = copy.deepcopy(DEFAULT_SCORECARD)
    factors = config.get("factors", {})
    if not isinstance(factors, Mapping):
        raise ValidationError({"factors": [_("Give an object keyed by factor.")]})
    for key, settings in factors.items():
        path = f"factors.{key}"
        if key not in FACTORS:
            errors.setdefault(path, []).append(_("Unknown factor."))
            continue
        if not isinstance(settings, Mapping):
            errors.setdefault(path, []).append(_("Give an object."))
            continue
        target = merged["factors"][key]
        for name in settings:
            if name not in ("weight", "bands", "otherwise", "grades"):
                errors.setdefault(f"{path}.{name}", []).append(_("Unknown setting."))
        if "weight" in settings:
            weight = _number(settings["weight"], f"{path}.weight", errors)
            if weight is not None and weight < 0:
                errors.setdefault(f"{path}.weight", []).append(_("A weight cannot be negative."))
            target["weight"] = settings["weight"]
        factor = FACTORS[key]
        if factor.better == GRADE:
            if "grades" in settings:
                grades = settings["grades"]
                if not isinstance(grades, Mapping):
                    errors.setdefault(f"{path}.grades", []).append(_("Give points per grade."))
                else:
                    for grade, points in grades.items():
                        _points(points, f"{path}.grades.{grade}", errors)
                    target["grades"] = dict(grades)
            continue
        if "otherwise" in settings:
            _points(settings["otherwise"], f"{path}.otherwise", errors)
            target["otherwise"] = settings["otherwise"]
        if "bands" in settings:
            _check_bands(settings["bands"], factor, f"{path}.bands", errors)
            target["bands"] = settings["bands"]
    multipliers = config.get("limit_multipliers")
    if multipliers is not None:
        if not isinstance(multipliers, Mapping):
            errors.setdefault("limit_multipliers", []).append(_("Give a multiplier per class."))
        else:
            for risk_class, multiplier in multipliers.items():
                path = f"limit_multipliers.{risk_class}"
                if risk_class not in CLASSES:
                    errors.setdefault(path, []).append(_("Unknown risk class."))
                    continue
                number = _number(multiplier, path, errors)
                if number is not None and not (0 <= number <= 10):
                    errors.setdefault(path, []).append(_("Use a multiplier from 0 to 10."))
                merged["limit_multipliers"][risk_class] = multiplier
    for name in config:
        if name not in ("factors", "limit_multipliers"):
            errors.setdefault(name, []).append(_("Unknown setting."))
    if not errors and not sum(Decimal(str(f.get("weight", 0))) for f in merged["factors"].values()):
        errors.setdefault("factors", []).append(_("At least one factor needs a weight above zero."))
    if errors:
        raise ValidationError(errors)
    return merged


def _check_bands(bands: Any, factor: Factor, path: str, errors: dict[str, list[str]]) -> None:
    if not isinstance(bands, list) or not bands or len(bands) > 10:
        errors.setdefault(path, []).append(_("Give 1 to 10 bands of [threshold, points]."))
        return
    previous: Decimal | None = None
    for position, band in enumerate(bands):
        band_path = f"{path}.{position}"
        if not isinstance(band, list) or len(band) != 2:
            errors.setdefault(band_path, []).append(_("A band is [threshold, points]."))
            continue
        threshold = _number(band[0], band_path, errors)
        _points(band[1], band_path, errors)
        if threshold is None:
            continue
        if previous is not None:
            in_order = threshold > previous if factor.better == LOWER else threshold < previous
            if not in_order:
                errors.setdefault(band_path, []).append(
                    _("Thresholds must rise from band to band.")
                    if factor.better == LOWER
                    else _("Thresholds must fall from band to band.")
                )
        previous = threshold


def validate_class_floors(floors: Any) -> dict[str, int]:
    """Lowest score of A, B, C and D, strictly falling; E is below D's floor."""
    if not isinstance(floors, Mapping) or set(floors) != {"A", "B", "C", "D"}:
        raise ValidationError({"class_floors": [_("Give the lowest score of classes A, B, C and D.")]})
    values: dict[str, int] = {}
    for risk_class in ("A", "B", "C", "D"):
        value = floors[risk_class]
        if isinstance(value, bool) or not isinstance(value, int) or not (1 <= value <= 100):
            raise ValidationError({f"class_floors.{risk_class}": [_("Use a whole number from 1 to 100.")]})
        values[risk_class] = value
    if not values["A"] > values["B"] > values["C"] > values["D"]:
        raise ValidationError({"class_floors": [_("Each class needs a higher floor than the next.")]})
    return values


def validate_review_months(months: Any) -> dict[str, int]:
    if not isinstance(months, Mapping) or set(months) != set(CLASSES):
        raise ValidationError({"review_months": [_("Give months between reviews for classes A to E.")]})
    for risk_class, value in months.items():
        if isinstance(value, bool) or not isinstance(value, int) or not (1 <= value <= 60):
            raise ValidationError({f"review_months.{risk_class}": [_("Use 1 to 60 months.")]})
    return {risk_class: months[risk_class] for risk_class in CLASSES}


@dataclass(frozen=True)
class FactorResult:
    key: str
    value: Decimal | str | None
    weight: Decimal
    points: int | None
    threshold: Decimal | None  # the band that gave the points; None for "otherwise" or a grade
    contribution: Decimal  # points × the weight's share of the weights counted

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": None if self.value is None else str(self.value),
            "weight": str(self.weight),
            "points": self.points,
            "threshold": None if self.threshold is None else str(self.threshold),
            "contribution": str(self.contribution),
        }


@dataclass(frozen=True)
class ScoreResult:
    score: int | None
    factors: list[FactorResult]

    def factors_json(self) -> list[dict[str, Any]]:
        return [factor.as_json() for factor in self.factors]


def _band_points(factor: Factor, value: Decimal, settings: Mapping[str, Any]) -> tuple[int, Decimal | None]:
    for threshold, points in settings.get("bands", []):
        threshold = Decimal(str(threshold))
        if (factor.better == LOWER and value <= threshold) or (
            factor.better == HIGHER and value >= threshold
        ):
            return int(points), threshold
    return int(settings.get("otherwise", 0)), None


def score(metrics: Mapping[str, Decimal | str | None], scorecard: Mapping[str, Any]) -> ScoreResult:
    """Score 0-100 from `metrics` (factor key → value, None when there is no data), with each
    factor's points and its share of the score. None when the factors with data carry less than
    `MIN_WEIGHT_SHARE` of the total weight."""
    settings_by_key = scorecard["factors"]
    total_weight = sum(Decimal(str(s.get("weight", 0))) for s in settings_by_key.values())
    scored: list[tuple[str, Decimal | str, Decimal, int, Decimal | None]] = []
    missing: list[tuple[str, Decimal]] = []
    for key, factor in FACTORS.items():
        settings = settings_by_key.get(key, {})
        weight = Decimal(str(settings.get("weight", 0)))
        value = metrics.get(key)
        if value is None or (factor.better == GRADE and value not in settings.get("grades", {})):
            missing.append((key, weight))
            continue
        if factor.better == GRADE:
            points, threshold = int(settings["grades"][value]), None
        else:
            points, threshold = _band_points(factor, Decimal(value), settings)
        scored.append((key, value, weight, points, threshold))
    counted = sum(weight for _key, _value, weight, _points, _threshold in scored)
    enough = total_weight > 0 and counted > 0 and counted / total_weight >= MIN_WEIGHT_SHARE
    results = [
        FactorResult(
            key=key,
            value=value,
            weight=weight,
            points=points,
            threshold=threshold,
            contribution=(points * weight / counted).quantize(Decimal("0.01"), ROUND_HALF_UP)
            if enough
            else Decimal(0),
        )
        for key, value, weight, points, threshold in scored
    ]
    results += [
        FactorResult(key=key, value=None, weight=weight, points=None, threshold=None, contribution=Decimal(0))
        for key, weight in missing
    ]
    if not enough:
        return ScoreResult(score=None, factors=results)
    exact = sum(Decimal(points) * weight for _key, _value, weight, points, _threshold in scored) / counted
    return ScoreResult(score=int(exact.quantize(Decimal(1), ROUND_HALF_UP)), factors=results)


def risk_class(score_value: int | None, floors: Mapping[str, int]) -> str:
    if score_value is None:
        return ""
    for candidate in ("A", "B", "C", "D"):
        if score_value >= floors[candidate]:
            return candidate
    return "E"


def _display(factor: Factor, value: str | None) -> str:
    if value is None:
        return "—"
    if factor.unit == "grade":
        return value
    number = Decimal(value)
    if factor.unit == "days":
        return _("%(days)s days") % {"days": f"{number:.1f}"}
    if factor.unit == "percent":
        return f"{number:.1f} %"
    if factor.unit == "months":
        return _("%(months)s months") % {"months": f"{number:.0f}"}
    if factor.unit == "money":
        return f"{number:,.2f}"
    return f"{number:.2f}"


def explain(factors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored factor results (`FactorResult.as_json`) with their label, value and reason in words,
    in the active language."""
    explained = []
    for stored in factors:
        factor = FACTORS.get(stored.get("key", ""))
        if factor is None:
            continue
        value = _display(factor, stored.get("value"))
        points = stored.get("points")
        threshold = stored.get("threshold")
        names = {"label": factor.label, "value": value, "points": points}
        if points is None:
            reason = _("No data for %(label)s: not counted.") % names
        elif factor.better == GRADE:
            reason = _("%(label)s %(value)s earns %(points)s points.") % names
        elif threshold is None:
            reason = _("%(label)s is %(value)s, outside every band: %(points)s points.") % names
        elif factor.better == LOWER:
            reason = _("%(label)s is %(value)s, at most %(threshold)s: %(points)s points.") % {
                **names,
                "threshold": _display(factor, threshold),
            }
        else:
            reason = _("%(label)s is %(value)s, at least %(threshold)s: %(points)s points.") % {
                **names,
                "threshold": _display(factor, threshold),
            }
        explained.append(
            {
                "key": factor.key,
                "label": str(factor.label),
                "value": stored.get("value"),
                "display": value,
                "weight": stored.get("weight"),
                "points": points,
                "contribution": stored.get("contribution"),
                "reason": reason,
            }
        )
    return explained


@dataclass(frozen=True)
class LimitSuggestion:
    amount: Decimal | None
    reasons: list[dict[str, Any]]  # {"code": ..., "amount": "..."}: rendered by `limit_reasons`


def suggest_limit(
    *,
    annual_volume: Decimal,
    terms_days: int,
    risk_class_value: str,
    multipliers: Mapping[str, Any],
    net_worth: Decimal | None,
    working_capital: Decimal | None,
    net_worth_cap_pct: Decimal,
    working_capital_cap_pct: Decimal,
    rounding: Decimal,
) -> LimitSuggestion:
    """Monthly purchases × (terms + 30 days) / 30: what the customer owes at its usual pace when it
    pays on time, then × the class multiplier, then capped by shares of net worth and working
    capital (all in base currency), rounded down. None when there is no class yet."""
    reasons: list[dict[str, Any]] = []
    if not risk_class_value:
        return LimitSuggestion(None, [{"code": "not_scored"}])
    cycle = (Decimal(terms_days) + 30) / 30
    base = (annual_volume / 12 * cycle).quantize(Decimal("0.01"), ROUND_HALF_UP)
    reasons.append({"code": "volume", "amount": str(base), "volume": str(annual_volume), "days": terms_days})
    multiplier = Decimal(str(multipliers.get(risk_class_value, 0)))
    amount = (base * multiplier).quantize(Decimal("0.01"), ROUND_HALF_UP)
    reasons.append(
        {"code": "class", "class": risk_class_value, "multiplier": str(multiplier), "amount": str(amount)}
    )
    if net_worth is not None:
        cap = max(net_worth, Decimal(0)) * net_worth_cap_pct / 100
        if cap < amount:
            amount = cap
            reasons.append({"code": "net_worth_cap", "pct": str(net_worth_cap_pct), "amount": str(cap)})
    if working_capital is not None:
        cap = max(working_capital, Decimal(0)) * working_capital_cap_pct / 100
        if cap < amount:
            amount = cap
            reasons.append(
                {"code": "working_capital_cap", "pct": str(working_capital_cap_pct), "amount": str(cap)}
            )
    if rounding > 0:
        amount = (amount / rounding).to_integral_value(ROUND_DOWN) * rounding
    amount = amount.quantize(Decimal("0.01"))
    return LimitSuggestion(amount, reasons)


def limit_reasons(reasons: list[dict[str, Any]]) -> list[str]:
    """The suggestion's reasons in words, in the active language, amounts with thousands separators."""
    texts = []
    for stored in reasons:
        reason = {
            name: f"{Decimal(value):,.2f}" if name in ("amount", "volume") else value
            for name, value in stored.items()
        }
        if "pct" in reason:
            reason["pct"] = f"{Decimal(reason['pct']).normalize():f}"
        code = reason.get("code")
        if code == "not_scored":
            texts.append(_("Not enough data to score this customer yet: set a limit by hand."))
        elif code == "volume":
            texts.append(
                _(
                    "Purchases of %(volume)s over 12 months at %(days)s days' terms: about %(amount)s "
                    "owed at any time when paid on time."
                )
                % reason
            )
        elif code == "class":
            texts.append(_("Risk class %(class)s: × %(multiplier)s = %(amount)s.") % reason)
        elif code == "net_worth_cap":
            texts.append(_("Capped at %(pct)s %% of net worth: %(amount)s.") % reason)
        elif code == "working_capital_cap":
            texts.append(_("Capped at %(pct)s %% of working capital: %(amount)s.") % reason)
    return texts
