"""Financial ratios and Altman's Z″ (non-manufacturers / emerging markets) on worked examples,
each worked by hand in the comments: Z″ = 6.56·X1 + 3.26·X2 + 6.72·X3 + 1.05·X4."""

from decimal import Decimal as D

import pytest

from credit.ratios import ratios, z_zone

SOUND = {
    # X1 = (500k - 200k) / 1M = 0.30; X2 = 200k / 1M = 0.20; X3 = 100k / 1M = 0.10;
    # X4 = 600k / 400k = 1.50. Z″ = 1.968 + 0.652 + 0.672 + 1.575 = 4.867 → 4.87, safe.
    "current_assets": D("500000"),
    "inventory": D("100000"),
    "total_assets": D("1000000"),
    "current_liabilities": D("200000"),
    "total_liabilities": D("400000"),
    "equity": D("600000"),
    "retained_earnings": D("200000"),
    "ebit": D("100000"),
    "interest_expense": D("20000"),
}
GREY = {
    # X1 = 100k / 1M = 0.10; X2 = 0.10; X3 = 50k / 1M = 0.05; X4 = 200k / 800k = 0.25.
    # Z″ = 0.656 + 0.326 + 0.336 + 0.2625 = 1.5805 → 1.58, grey (1.10 to 2.60).
    "current_assets": D("400000"),
    "inventory": D("150000"),
    "total_assets": D("1000000"),
    "current_liabilities": D("300000"),
    "total_liabilities": D("800000"),
    "equity": D("200000"),
    "retained_earnings": D("100000"),
    "ebit": D("50000"),
    "interest_expense": D("40000"),
}
DISTRESSED = {
    # X1 = (300k - 450k) / 1M = -0.15; X2 = -100k / 1M = -0.10; X3 = 10k / 1M = 0.01;
    # X4 = 100k / 900k = 0.1111…  Z″ = -0.984 - 0.326 + 0.0672 + 0.116667 = -1.126133 → -1.13.
    "current_assets": D("300000"),
    "inventory": D("120000"),
    "total_assets": D("1000000"),
    "current_liabilities": D("450000"),
    "total_liabilities": D("900000"),
    "equity": D("100000"),
    "retained_earnings": D("-100000"),
    "ebit": D("10000"),
    "interest_expense": D("30000"),
}


@pytest.mark.parametrize(
    ("figures", "z_score", "zone", "em_score"),
    [
        (SOUND, "4.87", "safe", "8.12"),
        (GREY, "1.58", "grey", "4.83"),
        (DISTRESSED, "-1.13", "distress", "2.12"),
    ],
)
def test_z_double_prime_matches_the_worked_examples(figures, z_score, zone, em_score):
    result = ratios(**figures)
    assert result.z_score == D(z_score)
    assert result.zone == zone
    assert result.z_score_em == D(em_score)


def test_liquidity_leverage_and_coverage_ratios():
    result = ratios(**SOUND)
    assert result.working_capital == D("300000")
    assert result.current_ratio == D("2.5000")  # 500k / 200k
    assert result.quick_ratio == D("2.0000")  # (500k - 100k) / 200k
    assert result.debt_to_equity == D("0.6667")  # 400k / 600k
    assert result.interest_coverage == D("5.0000")  # 100k / 20k
    assert (result.x1, result.x2, result.x3, result.x4) == (D("0.3"), D("0.2"), D("0.1"), D("1.5"))


def test_zero_denominators_give_none_not_an_error():
    result = ratios(**{**SOUND, "current_liabilities": D(0), "interest_expense": D(0)})
    assert result.current_ratio is None and result.quick_ratio is None and result.interest_coverage is None
    negative_equity = ratios(**{**DISTRESSED, "equity": D("-50000")})
    assert negative_equity.debt_to_equity is None  # not meaningful below zero equity
    assert negative_equity.zone == "distress"


@pytest.mark.parametrize(
    ("value", "zone"),
    [("2.61", "safe"), ("2.60", "grey"), ("1.10", "grey"), ("1.09", "distress"), (None, "")],
)
def test_zone_cut_offs_are_altmans(value, zone):
    assert z_zone(None if value is None else D(value)) == zone
