"""The rules of docs/metrics.md, one by one, on small hand-made inputs (no database)."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from analytics.compute import (
    Params,
    abc_classes,
    churn_risk,
    cohorts,
    concentration,
    lifecycle_stages,
    quintile_scores,
    rfm_segment,
)


def test_abc_gives_a_to_the_customers_that_make_the_first_80_percent_including_the_one_crossing():
    revenue = pd.Series([5000, 3000, 1000, 500, 300, 200, 0, -50], index=[1, 2, 3, 4, 5, 6, 7, 8])
    bought = pd.Series(True, index=revenue.index)
    bought[8] = False
    classes = abc_classes(revenue, 0.80, 0.15, bought)
    # Cumulative share before each: 0, .5, .8, .9, .95, .98 → A A B B C C
    assert classes.to_dict() == {1: "A", 2: "A", 3: "B", 4: "B", 5: "C", 6: "C", 7: "C", 8: ""}


def test_abc_ranks_ties_by_customer_id_and_survives_no_revenue():
    revenue = pd.Series([100, 100], index=[9, 4])
    classes = abc_classes(revenue, 0.5, 0.3, pd.Series(True, index=revenue.index))
    assert classes[4] == "A" and classes[9] == "B"
    nothing = abc_classes(pd.Series([0, 0], index=[1, 2]), 0.8, 0.15, pd.Series([True, False], index=[1, 2]))
    assert nothing.to_dict() == {1: "C", 2: ""}


def test_quintile_scores_are_1_to_5_and_equal_values_score_equally():
    scores = quintile_scores(pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
    assert list(scores) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert len(set(quintile_scores(pd.Series([7.0] * 6)))) == 1


@pytest.mark.parametrize(
    ("r", "f", "m", "purchases", "segment"),
    [
        (5, 5, 5, 12, "champions"),
        (4, 4, 3, 8, "champions"),
        (5, 1, 1, 1, "new"),
        (3, 4, 4, 6, "loyal"),
        (5, 3, 3, 4, "loyal"),
        (4, 2, 2, 3, "potential_loyalists"),
        (2, 5, 4, 15, "cannot_lose"),
        (1, 4, 4, 9, "cannot_lose"),
        (2, 3, 3, 5, "at_risk"),
        (3, 2, 1, 2, "hibernating"),
        (2, 1, 2, 2, "hibernating"),
        (1, 2, 2, 3, "lost"),
        (1, 1, 1, 1, "lost"),
    ],
)
def test_rfm_segments_follow_the_documented_grid(r, f, m, purchases, segment):
    result = rfm_segment(np.array([r]), np.array([f]), np.array([m]), np.array([purchases]))
    assert result[0] == segment


def test_every_rfm_cell_has_a_segment():
    cells = [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    r, f, m = (np.array(values) for values in zip(*cells, strict=True))
    segments = rfm_segment(r, f, m, np.full(len(cells), 3))
    assert set(segments) <= {
        "champions",
        "loyal",
        "potential_loyalists",
        "at_risk",
        "cannot_lose",
        "hibernating",
        "lost",
    }


def _churn_frame(**columns):
    base = {
        "prob_alive": [0.9],
        "purchases_recent_q": [3.0],
        "purchases_baseline_q": [3.0],
        "revenue_recent_q": [3000.0],
        "revenue_baseline_q": [3000.0],
        "delay_trend": [0.0],
        "open_disputes": [0],
        "purchases": [12],
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_a_steady_customer_has_a_low_churn_risk_and_every_factor_explained():
    risk, factors = churn_risk(_churn_frame())
    # Only (1 - 0.9) of probability alive's 35 points count: 3.5 of 100.
    assert risk[0] == 4
    assert [f["factor"] for f in factors[0]] == [
        "prob_alive",
        "frequency_decline",
        "amount_decline",
        "payment_slowdown",
        "open_disputes",
        "satisfaction",
        "service_issues",
        "loyalty_activity",
    ]
    assert factors[0][0]["points"] == 3.5


def test_decline_slowdown_and_disputes_raise_the_risk():
    risk, factors = churn_risk(
        _churn_frame(
            prob_alive=[0.2],
            purchases_recent_q=[0.0],
            revenue_recent_q=[0.0],
            delay_trend=[15.0],
            open_disputes=[1],
        )
    )
    # 35*.8 + 20*1 + 15*1 + 15*.5 + 15*.5 = 28 + 20 + 15 + 7.5 + 7.5 = 78
    assert risk[0] == 78
    points = {f["factor"]: f["points"] for f in factors[0]}
    assert points == {
        "prob_alive": 28.0,
        "frequency_decline": 20.0,
        "amount_decline": 15.0,
        "payment_slowdown": 7.5,
        "open_disputes": 7.5,
        "satisfaction": None,  # no surveys, requests or points: left out
        "service_issues": None,
        "loyalty_activity": None,
    }


def test_factors_without_data_are_left_out_and_the_rest_reweighted():
    risk, factors = churn_risk(
        _churn_frame(
            prob_alive=[np.nan],
            purchases_baseline_q=[0.0],
            revenue_baseline_q=[0.0],
            delay_trend=[np.nan],
            open_disputes=[2],
        )
    )
    assert risk[0] == 100  # only disputes have data, and two count in full
    assert [f["points"] for f in factors[0]] == [None, None, None, None, 100.0, None, None, None]


def test_satisfaction_service_issues_and_expiring_points_count_when_the_experience_app_has_them():
    frame = _churn_frame(
        prob_alive=[1.0],
        satisfaction=[0.3],  # a detractor's 3 of 10
        service_issues=[3.0],  # e.g. a late resolution, a complaint and a reopening
        points_expired_share=[0.5],
    )
    risk, factors = churn_risk(frame)
    points = {f["factor"]: f["points"] for f in factors[0]}
    # Weights with data: 35 + 20 + 15 + 15 + 15 + 15 + 10 + 5 = 130.
    assert points["satisfaction"] == round(100 * 15 * 0.7 / 130, 1)
    assert points["service_issues"] == round(100 * 10 / 130, 1)
    assert points["loyalty_activity"] == round(100 * 5 * 0.5 / 130, 1)
    assert risk[0] == round(sum(p for p in points.values() if p))


def test_a_customer_who_never_bought_has_no_churn_risk():
    risk, factors = churn_risk(_churn_frame(purchases=[0]))
    assert np.isnan(risk[0]) and factors[0] == []


def test_lifecycle_stages():
    frame = pd.DataFrame(
        {
            "purchases": [0, 1, 3, 10, 10, 5, 5],
            "recency_days": [np.nan, 10, 20, 15, 30, 400, 50],
            "prob_alive": [np.nan, 1.0, 0.9, 0.95, 0.9, 0.5, 0.1],
            "churn_risk": [np.nan, 10, 20, 10, 70, 30, 40],
            "tenure_days": [0, 10, 200, 500, 500, 700, 300],
            "segment": ["", "new", "loyal", "champions", "champions", "lost", "hibernating"],
        }
    )
    stages = lifecycle_stages(frame, Params())
    assert list(stages) == ["prospect", "first_purchase", "repeat", "loyal", "at_risk", "churned", "churned"]


def test_concentration_top_ten_share_and_herfindahl():
    revenue = np.array([50, 30, 20, 0, -10]) * 100
    figures = concentration(revenue)
    assert figures["top10_share"] == 1.0
    assert figures["hhi"] == pytest.approx(50**2 + 30**2 + 20**2)
    assert figures["pareto"][0] == [0.0, 0.0] and figures["pareto"][-1] == [1.0, 1.0]


def test_cohorts_count_each_customer_once_per_month_by_acquisition_month():
    today = datetime.date(2026, 11, 20)
    days = [
        datetime.date(2026, 9, 3),  # customer 1 acquired in September
        datetime.date(2026, 9, 20),
        datetime.date(2026, 11, 2),
        datetime.date(2026, 10, 5),  # customer 2 acquired in October
        datetime.date(2026, 9, 15),  # customer 3 acquired in September, never again
    ]
    result = cohorts(np.array([1, 1, 1, 2, 3]), np.array([d.toordinal() for d in days]), today, months=3)
    assert result["months"] == ["2026-09", "2026-10", "2026-11"]
    assert result["sizes"] == [2, 1, 0]
    assert result["matrix"] == [[2, 0, 1], [1, 0], [0]]
