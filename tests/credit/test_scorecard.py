"""The scorecard's arithmetic on known inputs, its validation, and the suggested limit."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from credit import scorecard
from credit.scorecard import DEFAULT_CLASS_FLOORS, DEFAULT_SCORECARD

KNOWN = {
    "avg_days_late": D("10"),  # at most 15 → 70 points, weight 20
    "late_share": D("30"),  # at most 50 → 50, weight 10
    "worst_delay": D("45"),  # at most 60 → 50, weight 10
    "delay_trend": None,  # no data: left out
    "kept_promises": D("80"),  # at least 75 → 70, weight 10
    "dispute_rate": D("0"),  # at most 2 → 100, weight 5
    "tenure": D("30"),  # at least 24 → 80, weight 5
    "purchase_volume": D("300000"),  # at least 250k → 80, weight 5
    "utilisation": D("60"),  # at most 75 → 80, weight 10
    "external_rating": "BBB",  # 75, weight 4
}


def test_score_is_the_weighted_mean_of_points_over_the_factors_with_data():
    result = scorecard.score(KNOWN, DEFAULT_SCORECARD)
    # Weights counted: 20+10+10+10+5+5+5+10+4 = 79.
    # Points × weight: 1400+500+500+700+500+400+400+800+300 = 5500; 5500 / 79 = 69.62 → 70.
    assert result.score == 70
    assert scorecard.risk_class(result.score, DEFAULT_CLASS_FLOORS) == "B"
    by_key = {factor.key: factor for factor in result.factors}
    assert by_key["avg_days_late"].points == 70
    assert by_key["avg_days_late"].threshold == D("15")
    assert by_key["avg_days_late"].contribution == D("17.72")  # 1400 / 79
    assert by_key["delay_trend"].points is None and by_key["delay_trend"].contribution == 0
    assert by_key["z_score"].points is None
    assert sum(f.contribution for f in result.factors) == pytest.approx(D("69.62"), abs=D("0.05"))


def test_every_factor_is_explained_in_words():
    result = scorecard.score(KNOWN, DEFAULT_SCORECARD)
    explained = {row["key"]: row for row in scorecard.explain(result.factors_json())}
    assert set(explained) == set(scorecard.FACTORS)
    assert explained["avg_days_late"]["reason"] == (
        "Average days late (amount-weighted) is 10.0 days, at most 15.0 days: 70 points."
    )
    assert explained["tenure"]["reason"] == "Tenure is 30 months, at least 24 months: 80 points."
    assert explained["external_rating"]["reason"] == "External rating BBB earns 75 points."
    assert explained["z_score"]["reason"] == "No data for Altman Z″: not counted."


def test_a_value_outside_every_band_gets_the_otherwise_points():
    result = scorecard.score({**KNOWN, "avg_days_late": D("90")}, DEFAULT_SCORECARD)
    factor = next(f for f in result.factors if f.key == "avg_days_late")
    assert (factor.points, factor.threshold) == (0, None)
    assert "outside every band" in scorecard.explain([factor.as_json()])[0]["reason"]


def test_too_little_data_gives_no_score_rather_than_a_misleading_one():
    result = scorecard.score({"tenure": D("3"), "purchase_volume": D("100")}, DEFAULT_SCORECARD)
    assert result.score is None  # 10 of 100 weight is under the 30 % minimum
    assert scorecard.risk_class(result.score, DEFAULT_CLASS_FLOORS) == ""


@pytest.mark.parametrize(
    ("score", "risk_class"),
    [(100, "A"), (80, "A"), (79, "B"), (65, "B"), (50, "C"), (35, "D"), (34, "E"), (0, "E")],
)
def test_risk_class_floors(score, risk_class):
    assert scorecard.risk_class(score, DEFAULT_CLASS_FLOORS) == risk_class


def test_custom_weights_change_the_score():
    card = scorecard.validate_scorecard(
        {"factors": {"utilisation": {"weight": 0}, "external_rating": {"weight": 0}}}
    )
    # Counted now: 79 - 14 = 65; points × weight 5500 - 800 - 300 = 4400; 4400 / 65 = 67.69 → 68.
    assert scorecard.score(KNOWN, card).score == 68


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"factors": {"nonsense": {"weight": 1}}}, "factors.nonsense"),
        ({"factors": {"tenure": {"weight": -1}}}, "factors.tenure.weight"),
        ({"factors": {"tenure": {"weight": "lots"}}}, "factors.tenure.weight"),
        ({"factors": {"avg_days_late": {"bands": [[30, 50], [7, 85]]}}}, "factors.avg_days_late.bands.1"),
        ({"factors": {"tenure": {"bands": [[6, 40], [24, 80]]}}}, "factors.tenure.bands.1"),
        ({"factors": {"late_share": {"bands": [[10, 120]]}}}, "factors.late_share.bands.0"),
        ({"factors": {"late_share": {"bands": "high"}}}, "factors.late_share.bands"),
        ({"factors": {"external_rating": {"grades": {"AAA": 101}}}}, "factors.external_rating.grades.AAA"),
        ({"limit_multipliers": {"F": 1}}, "limit_multipliers.F"),
        ({"colour": "red"}, "colour"),
        ({"factors": {key: {"weight": 0} for key in scorecard.FACTORS}}, "factors"),
    ],
)
def test_bad_scorecards_are_refused_with_the_path_of_the_mistake(config, path):
    with pytest.raises(ValidationError) as error:
        scorecard.validate_scorecard(config)
    assert path in error.value.message_dict


def test_class_floors_must_fall():
    with pytest.raises(ValidationError):
        scorecard.validate_class_floors({"A": 60, "B": 65, "C": 50, "D": 35})
    assert scorecard.validate_class_floors({"A": 90, "B": 70, "C": 50, "D": 30})["A"] == 90


def suggest(**overrides):
    arguments = {
        "annual_volume": D("120000"),
        "terms_days": 30,
        "risk_class_value": "B",
        "multipliers": DEFAULT_SCORECARD["limit_multipliers"],
        "net_worth": None,
        "working_capital": None,
        "net_worth_cap_pct": D("10"),
        "working_capital_cap_pct": D("20"),
        "rounding": D("1000"),
    }
    return scorecard.suggest_limit(**{**arguments, **overrides})


def test_suggested_limit_from_volume_terms_and_class():
    # 120,000 a year = 10,000 a month; 30 days' terms + 30 = 2 months owed → 20,000; class B × 1.25.
    suggestion = suggest()
    assert suggestion.amount == D("25000.00")
    assert [reason["code"] for reason in suggestion.reasons] == ["volume", "class"]
    assert scorecard.limit_reasons(suggestion.reasons)[1] == "Risk class B: × 1.25 = 25,000.00."


def test_suggested_limit_is_capped_by_net_worth_and_working_capital_and_rounded_down():
    capped = suggest(net_worth=D("150000"), working_capital=D("100000"))
    assert capped.amount == D("15000.00")  # 10 % of 150,000 net worth is below 25,000 and 20 % of WC
    assert capped.reasons[-1]["code"] == "net_worth_cap"
    by_working_capital = suggest(net_worth=D("1000000"), working_capital=D("61500"))
    assert by_working_capital.amount == D("12000.00")  # 20 % of 61,500 = 12,300, rounded down
    assert suggest(working_capital=D("-5000")).amount == D("0.00")  # negative working capital: no credit
    assert suggest(risk_class_value="E").amount == D("0.00")
    assert suggest(risk_class_value="").amount is None
