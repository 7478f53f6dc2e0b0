"""The analytics computations on a loaded ledger: pure functions of arrays, no database.

`compute(ledger, params)` returns one row per active customer with its ABC classes, RFM scores and
segment, lifetime value figures, churn risk with its factors, lifecycle stage and value at stake,
plus the organization-wide figures of the run. `docs/metrics.md` describes every rule.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics import clv as models
from analytics.ledger import Ledger

YEAR_DAYS = 365
QUARTER_DAYS = 91
UNIT_DAYS = 7.0  # the lifetime-value models count time in weeks

# Churn factors and their weights (points out of the weights that have data).
CHURN_WEIGHTS = {
    "prob_alive": 35,
    "frequency_decline": 20,
    "amount_decline": 15,
    "payment_slowdown": 15,
    "open_disputes": 15,
    "satisfaction": 15,
    "service_issues": 10,
    "loyalty_activity": 5,
}
SLOWDOWN_FULL_DAYS = 30.0  # days-late trend at which the payment slowdown counts in full
DISPUTES_FULL = 2  # open disputes at which the factor counts in full
SERVICE_ISSUES_FULL = 3  # breaches, complaints and reopenings in 91 days that count in full


@dataclass(frozen=True)
class Params:
    abc_a: float = 0.80
    abc_b: float = 0.15
    abc_basis: str = "revenue"
    margin: float = 0.30
    discount_rate: float = 0.10
    horizon_months: int = 12
    churn_threshold: int = 60
    churned_alive: float = 0.20
    churned_after_days: int = 365
    loyal_min_tenure_days: int = 365


@dataclass
class Result:
    customers: pd.DataFrame  # indexed by customer id
    models_fit: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


# ABC ------------------------------------------------------------------------------------------


def abc_classes(values: pd.Series, a_share: float, b_share: float, has_history: pd.Series) -> pd.Series:
    """A for the customers that make the first `a_share` of the cumulative total (the customer who
    crosses the line is still A), B for the next `b_share`, C for the rest and for customers with
    nothing positive; "" for customers who never bought. Ties are ranked by customer id."""
    result = pd.Series("", index=values.index, dtype=object)
    result[has_history] = "C"
    positive = values[values > 0]
    total = positive.sum()
    if total <= 0:
        return result
    ordered = positive.sort_index().sort_values(ascending=False, kind="stable")
    share_before = (ordered.cumsum() - ordered) / total
    classes = np.where(
        share_before < a_share - 1e-12, "A", np.where(share_before < a_share + b_share - 1e-12, "B", "C")
    )
    result[ordered.index] = classes
    return result


# RFM ------------------------------------------------------------------------------------------


def quintile_scores(values: pd.Series) -> pd.Series:
    """1-5 by percentile rank (higher value, higher score); equal values get equal scores."""
    if values.empty:
        return pd.Series(dtype="Int64")
    ranks = values.rank(method="average", pct=True)
    return np.clip(np.ceil(ranks * 5), 1, 5).astype(int)


def rfm_segment(r: np.ndarray, f: np.ndarray, m: np.ndarray, purchases: np.ndarray) -> np.ndarray:
    """The named segment of each (R, F, M), by the grid of docs/metrics.md (FM = rounded mean of F and M)."""
    fm = np.floor((f + m) / 2 + 0.5)
    conditions = [
        (r >= 4) & (purchases == 1),
        (r >= 4) & (fm >= 4),
        (r >= 3) & (fm >= 3),
        r >= 4,
        (r <= 2) & (fm >= 4),
        (r <= 2) & (fm == 3),
        (r >= 2) & (fm <= 2),
    ]
    choices = ["new", "champions", "loyal", "potential_loyalists", "cannot_lose", "at_risk", "hibernating"]
    return np.select(conditions, choices, default="lost")


# Churn ----------------------------------------------------------------------------------------


def _decline(recent: np.ndarray, baseline_per_quarter: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    has = baseline_per_quarter > 0
    severity = np.zeros(len(recent))
    severity[has] = np.clip(1 - recent[has] / baseline_per_quarter[has], 0, 1)
    return severity, has


def churn_risk(frame: pd.DataFrame) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
    """Churn risk 0-100 per customer and its factors: each factor's value, severity (0-1), weight
    and points. Factors without data are left out and the rest are reweighted; customers who never
    bought get no risk (NaN)."""
    n = len(frame)
    factors: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # key → (value, severity, has)
    alive = frame["prob_alive"].to_numpy(float)
    has_alive = ~np.isnan(alive)
    factors["prob_alive"] = (alive, np.where(has_alive, 1 - alive, 0), has_alive)
    recent_f = frame["purchases_recent_q"].to_numpy(float)
    base_f = frame["purchases_baseline_q"].to_numpy(float)
    severity, has = _decline(recent_f, base_f)
    factors["frequency_decline"] = (np.where(has, 1 - severity, np.nan), severity, has)
    recent_m = frame["revenue_recent_q"].to_numpy(float)
    base_m = frame["revenue_baseline_q"].to_numpy(float)
    severity, has = _decline(recent_m, base_m)
    factors["amount_decline"] = (np.where(has, 1 - severity, np.nan), severity, has)
    trend = frame["delay_trend"].to_numpy(float)
    has = ~np.isnan(trend)
    factors["payment_slowdown"] = (trend, np.where(has, np.clip(trend / SLOWDOWN_FULL_DAYS, 0, 1), 0), has)
    disputes = frame["open_disputes"].to_numpy(float)
    factors["open_disputes"] = (disputes, np.clip(disputes / DISPUTES_FULL, 0, 1), np.ones(n, bool))
    # From the experience app; columns absent (or NaN) mean no surveys, requests or points.
    satisfaction = frame["satisfaction"].to_numpy(float) if "satisfaction" in frame else np.full(n, np.nan)
    has = ~np.isnan(satisfaction)
    factors["satisfaction"] = (satisfaction, np.where(has, np.clip(1 - satisfaction, 0, 1), 0), has)
    issues = frame["service_issues"].to_numpy(float) if "service_issues" in frame else np.full(n, np.nan)
    has = ~np.isnan(issues)
    factors["service_issues"] = (issues, np.where(has, np.clip(issues / SERVICE_ISSUES_FULL, 0, 1), 0), has)
    expired = (
        frame["points_expired_share"].to_numpy(float)
        if "points_expired_share" in frame
        else np.full(n, np.nan)
    )
    has = ~np.isnan(expired)
    factors["loyalty_activity"] = (expired, np.where(has, np.clip(expired, 0, 1), 0), has)

    bought = frame["purchases"].to_numpy() > 0
    weight_sum = np.zeros(n)
    for key, (_value, _severity, has) in factors.items():
        weight_sum += np.where(has, CHURN_WEIGHTS[key], 0)
    points = {
        key: np.where(
            has & (weight_sum > 0), 100 * CHURN_WEIGHTS[key] * severity / np.maximum(weight_sum, 1), 0
        )
        for key, (_value, severity, has) in factors.items()
    }
    # The score is the sum of the points as shown (to one decimal), so the reasons add up to it.
    points = {key: np.round(value + 1e-9, 1) for key, value in points.items()}
    total = np.zeros(n)
    for key in factors:
        total += points[key]
    risk = np.where(bought & (weight_sum > 0), np.clip(np.floor(total + 0.5 + 1e-9), 0, 100), np.nan)
    # One list of plain dicts per customer (stored as JSON); built column by column from Python
    # lists, since a loop over numpy scalars is several times slower at 100k customers.
    per_factor = []
    for key, (value, severity, has) in factors.items():
        weight = CHURN_WEIGHTS[key]
        values = np.where(np.isnan(value), np.nan, np.round(value, 4)).tolist()
        severities = np.round(severity, 4).tolist()
        rounded = points[key].tolist()
        per_factor.append(
            [
                {"factor": key, "value": None if v != v else v, "severity": s, "weight": weight, "points": p}
                if h
                else {"factor": key, "value": None, "weight": weight, "points": None}
                for v, s, p, h in zip(values, severities, rounded, has.tolist(), strict=True)
            ]
        )
    explained = [
        list(row) if b else [] for row, b in zip(zip(*per_factor, strict=True), bought.tolist(), strict=True)
    ]
    return risk, explained


# Lifecycle ------------------------------------------------------------------------------------


def lifecycle_stages(frame: pd.DataFrame, params: Params) -> np.ndarray:
    purchases = frame["purchases"].to_numpy()
    recency = frame["recency_days"].to_numpy(float)
    alive = frame["prob_alive"].to_numpy(float)
    risk = frame["churn_risk"].to_numpy(float)
    tenure = frame["tenure_days"].to_numpy(float)
    segment = frame["segment"].to_numpy(object)
    churned = (purchases > 0) & (
        (recency > params.churned_after_days) | (~np.isnan(alive) & (alive < params.churned_alive))
    )
    conditions = [
        purchases == 0,
        churned,
        ~np.isnan(risk) & (risk >= params.churn_threshold),
        (tenure >= params.loyal_min_tenure_days) & np.isin(segment, ["champions", "loyal"]),
        purchases >= 2,
    ]
    choices = ["prospect", "churned", "at_risk", "loyal", "repeat"]
    return np.select(conditions, choices, default="first_purchase")


# Organization-wide figures --------------------------------------------------------------------


def _per_customer_sum(customer_ids: np.ndarray, customers: np.ndarray, values: np.ndarray) -> np.ndarray:
    positions = np.searchsorted(customer_ids, customers)
    inside = (positions < len(customer_ids)) & (
        customer_ids[np.minimum(positions, max(len(customer_ids) - 1, 0))] == customers
    )
    result = np.zeros(len(customer_ids), dtype=values.dtype if len(values) else np.int64)
    np.add.at(result, positions[inside], values[inside])
    return result


def concentration(revenue_cents: np.ndarray) -> dict[str, Any]:
    """Share of the top 10 customers in positive revenue, and the Herfindahl-Hirschman index
    (sum of squared percentage shares, 0-10,000)."""
    positive = np.sort(revenue_cents[revenue_cents > 0])[::-1].astype(float)
    total = positive.sum()
    if total <= 0:
        return {"customers": 0, "top10_share": None, "hhi": None, "pareto": []}
    shares = positive / total
    cumulative = np.cumsum(shares)
    points = min(len(positive), 100)
    positions = np.unique(np.linspace(0, len(positive) - 1, points).round().astype(int))
    pareto = [[0.0, 0.0]] + [
        [round((i + 1) / len(positive), 4), round(float(cumulative[i]), 4)] for i in positions
    ]
    return {
        "customers": len(positive),
        "top10_share": round(float(shares[:10].sum()), 4),
        "hhi": round(float(((shares * 100) ** 2).sum()), 1),
        "pareto": pareto,
    }


def _month_index(days: np.ndarray) -> np.ndarray:
    dates = days - 1  # ordinal 1 is 0001-01-01
    as_datetime = np.datetime64("0001-01-01") + dates.astype("timedelta64[D]")
    months = as_datetime.astype("datetime64[M]").astype(np.int64)
    return months


def cohorts(
    invoice_customers: np.ndarray, invoice_days: np.ndarray, today: datetime.date, months: int = 24
) -> dict:
    """Monthly acquisition cohorts (month of each customer's first invoice) of the last `months`
    months and, for each, how many of its customers bought again in each later month."""
    if not len(invoice_customers):
        return {"months": [], "sizes": [], "matrix": []}
    month = _month_index(invoice_days)
    frame = pd.DataFrame({"customer": invoice_customers, "month": month}).drop_duplicates()
    first = frame.groupby("customer")["month"].transform("min")
    frame["offset"] = frame["month"] - first
    frame["cohort"] = first
    current = int(np.datetime64(today, "M").astype(np.int64))
    frame = frame[frame["cohort"] > current - months]
    sizes = frame[frame["offset"] == 0].groupby("cohort")["customer"].nunique()
    counts = frame.groupby(["cohort", "offset"])["customer"].nunique()
    labels, size_list, matrix = [], [], []
    for cohort in range(current - months + 1, current + 1):
        size = int(sizes.get(cohort, 0))
        labels.append(str(np.datetime64(cohort, "M")))
        size_list.append(size)
        row = []
        for offset in range(current - cohort + 1):
            row.append(int(counts.get((cohort, offset), 0)))
        matrix.append(row)
    return {"months": labels, "sizes": size_list, "matrix": matrix}


def _histogram(values: np.ndarray, bins: int = 10) -> dict[str, list]:
    values = values[~np.isnan(values)]
    if not len(values):
        return {"edges": [], "counts": []}
    top = float(np.percentile(values, 99)) if len(values) > 20 else float(values.max())
    low = float(min(values.min(), 0))
    if top <= low:
        top = low + 1
    edges = np.linspace(low, top, bins + 1)
    counts, _ = np.histogram(np.clip(values, low, top), edges)
    return {"edges": [round(float(e), 2) for e in edges], "counts": [int(c) for c in counts]}


def _breakdown(frame: pd.DataFrame, key: str, margin: float) -> list[dict[str, Any]]:
    bought = frame[frame["purchases"] > 0]
    if bought.empty:
        return []
    grouped = bought.groupby(key, dropna=False).agg(
        customers=("revenue_cents", "size"),
        revenue_cents=("revenue_cents", "sum"),
        clv=("clv", "sum"),
    )
    rows = []
    for value, row in grouped.sort_values("revenue_cents", ascending=False).iterrows():
        revenue = int(row["revenue_cents"])
        rows.append(
            {
                "key": "" if value is None or (isinstance(value, float) and math.isnan(value)) else value,
                "customers": int(row["customers"]),
                "revenue": f"{revenue / 100:.2f}",
                "margin": f"{math.floor(revenue * margin + 0.5) / 100:.2f}",
                "clv": f"{float(row['clv']):.2f}",
            }
        )
    return rows


# Lifetime value -------------------------------------------------------------------------------


def _observed_average(per_day: pd.DataFrame, customer_ids: np.ndarray) -> np.ndarray:
    """Each customer's average purchase (all its purchase days), aligned with `customer_ids`."""
    means = per_day.groupby("customer")["cents"].mean() / 100
    return means.reindex(customer_ids).to_numpy(float)


def lifetime_value(bgnbd: Any, summary: Any, spend: np.ndarray, params: Params) -> np.ndarray:
    """Σ over the horizon's months of the expected purchases in that month × expected spend ×
    margin, discounted monthly at the annual rate (docs/metrics.md)."""
    monthly_rate = (1 + params.discount_rate) ** (1 / 12) - 1
    total = np.zeros(len(spend))
    previous = np.zeros(len(spend))
    for month in range(1, params.horizon_months + 1):
        cumulative = models.bgnbd_expected_purchases(
            bgnbd, month * 30 / UNIT_DAYS, summary.frequency, summary.recency, summary.T
        )
        total += (cumulative - previous) * spend * params.margin / (1 + monthly_rate) ** month
        previous = cumulative
    return np.maximum(total, 0)


# The run --------------------------------------------------------------------------------------


def compute(ledger: Ledger, params: Params, progress: Any = None) -> Result:
    """Every figure of a run, from the ledger alone."""

    def step(label: str) -> None:
        if progress is not None:
            progress(label)

    today = ledger.today.toordinal()
    ids = ledger.customer_ids
    inv, notes, pay = ledger.invoices, ledger.credit_notes, ledger.payments
    year_ago = today - YEAR_DAYS

    step("classes")
    in_year = inv.day > year_ago
    revenue = _per_customer_sum(ids, inv.customer[in_year], inv.cents[in_year]) - _per_customer_sum(
        ids, notes.customer[notes.day > year_ago], notes.cents[notes.day > year_ago]
    )
    cash = _per_customer_sum(ids, pay.customer[pay.day > year_ago], pay.cents[pay.day > year_ago])

    # Purchases: one per customer and invoice day.
    days_frame = pd.DataFrame({"customer": inv.customer, "day": inv.day, "cents": inv.cents})
    per_day = days_frame.groupby(["customer", "day"], sort=True, as_index=False)["cents"].sum()
    grouped = per_day.groupby("customer")
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped["day"].size()
    recent_q = per_day[per_day["day"] > today - QUARTER_DAYS].groupby("customer")
    baseline = per_day[
        (per_day["day"] <= today - QUARTER_DAYS) & (per_day["day"] > today - QUARTER_DAYS - YEAR_DAYS)
    ]
    baseline_g = baseline.groupby("customer")
    frame = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    frame["owner_id"] = ledger.owner_ids
    frame["revenue_cents"] = revenue
    frame["cash_cents"] = cash
    frame["purchases"] = count.reindex(ids, fill_value=0).to_numpy()
    frame["first_day"] = first.reindex(ids).to_numpy()
    frame["last_day"] = last.reindex(ids).to_numpy()
    frame["frequency_12m"] = (
        per_day[per_day["day"] > year_ago].groupby("customer").size().reindex(ids, fill_value=0).to_numpy()
    )
    frame["purchases_recent_q"] = recent_q.size().reindex(ids, fill_value=0).to_numpy()
    frame["revenue_recent_q"] = recent_q["cents"].sum().reindex(ids, fill_value=0).to_numpy()
    frame["purchases_baseline_q"] = baseline_g.size().reindex(ids, fill_value=0).to_numpy() / 4
    frame["revenue_baseline_q"] = baseline_g["cents"].sum().reindex(ids, fill_value=0).to_numpy() / 4
    frame["open_disputes"] = ledger.open_disputes
    frame["delay_trend"] = ledger.delay_trend
    for column in ("satisfaction", "service_issues", "points_expired_share"):
        values = getattr(ledger, column)
        frame[column] = values if len(values) == len(ids) else np.nan
    frame["overdue_cents"] = ledger.overdue_cents
    bought = frame["purchases"] > 0
    frame["recency_days"] = np.where(bought, today - frame["last_day"].fillna(today), np.nan)
    frame["tenure_days"] = np.where(bought, today - frame["first_day"].fillna(today), 0)

    frame["abc_revenue"] = abc_classes(frame["revenue_cents"], params.abc_a, params.abc_b, bought)
    frame["abc_cash"] = abc_classes(frame["cash_cents"], params.abc_a, params.abc_b, bought)

    step("rfm")
    frame["r_score"] = np.nan
    frame["f_score"] = np.nan
    frame["m_score"] = np.nan
    frame["segment"] = ""
    buyers = frame[bought]
    if len(buyers):
        r = quintile_scores(-buyers["recency_days"])
        f = np.where(buyers["frequency_12m"] > 0, quintile_scores(buyers["frequency_12m"].astype(float)), 1)
        m = np.where(buyers["revenue_cents"] > 0, quintile_scores(buyers["revenue_cents"].astype(float)), 1)
        frame.loc[bought, "r_score"] = r.to_numpy()
        frame.loc[bought, "f_score"] = f
        frame.loc[bought, "m_score"] = m
        frame.loc[bought, "segment"] = rfm_segment(
            r.to_numpy(), np.asarray(f), np.asarray(m), buyers["purchases"].to_numpy()
        )

    step("lifetime_value")
    frame["expected_purchases"] = np.nan
    frame["prob_alive"] = np.nan
    frame["expected_order_value"] = np.nan
    frame["clv"] = np.nan
    models_fit: dict[str, Any] = {"unit_days": UNIT_DAYS, "horizon_months": params.horizon_months}
    if len(per_day):
        summary = models.summarize(
            per_day["customer"].to_numpy(np.int64),
            per_day["day"].to_numpy(np.int64),
            per_day["cents"].to_numpy(float) / 100,
            observation_end=today,
            unit_days=UNIT_DAYS,
        )
        positions = np.searchsorted(ids, summary.customer_ids)
        try:
            bgnbd = models.bgnbd_fit(summary.frequency, summary.recency, summary.T)
        except models.FitError as exc:
            models_fit["bgnbd"] = {"error": str(exc)}
            bgnbd = None
        if bgnbd is not None:
            models_fit["bgnbd"] = {
                "r": bgnbd.r,
                "alpha": bgnbd.alpha,
                "a": bgnbd.a,
                "b": bgnbd.b,
                "log_likelihood": bgnbd.log_likelihood,
                "customers": len(summary.customer_ids),
            }
            horizon = params.horizon_months * 30 / UNIT_DAYS
            expected = models.bgnbd_expected_purchases(
                bgnbd, horizon, summary.frequency, summary.recency, summary.T
            )
            alive = models.bgnbd_prob_alive(bgnbd, summary.frequency, summary.recency, summary.T)
            frame.iloc[positions, frame.columns.get_loc("expected_purchases")] = expected
            frame.iloc[positions, frame.columns.get_loc("prob_alive")] = alive
            try:
                gg = models.gamma_gamma_fit(summary.frequency, summary.monetary)
            except models.FitError as exc:
                # Typical of B2B portfolios whose order sizes differ by orders of magnitude between
                # customers (q <= 1): fall back to each customer's own average purchase.
                models_fit["gamma_gamma"] = {"error": str(exc), "fallback": "observed_average"}
                gg = None
            if gg is not None:
                models_fit["gamma_gamma"] = {
                    "p": gg.p,
                    "q": gg.q,
                    "v": gg.v,
                    "log_likelihood": gg.log_likelihood,
                    "customers": int(((summary.frequency > 0) & (summary.monetary > 0)).sum()),
                }
                spend = models.gamma_gamma_expected_spend(gg, summary.frequency, summary.monetary)
            else:
                spend = _observed_average(per_day, summary.customer_ids)
            frame.iloc[positions, frame.columns.get_loc("expected_order_value")] = spend
            frame.iloc[positions, frame.columns.get_loc("clv")] = lifetime_value(
                bgnbd, summary, spend, params
            )

    step("churn")
    risk, factors = churn_risk(frame)
    frame["churn_risk"] = risk
    frame["churn_factors"] = factors
    frame["lifecycle_stage"] = lifecycle_stages(frame, params)
    clv_cents = np.nan_to_num(frame["clv"].to_numpy(float)) * 100
    at_stake = clv_cents * np.nan_to_num(risk) / 100 + frame["overdue_cents"].to_numpy(float)
    frame["action_cents"] = np.floor(at_stake + 0.5).astype(np.int64)
    frame["abc_class"] = frame["abc_revenue"] if params.abc_basis == "revenue" else frame["abc_cash"]

    step("summary")
    summary_figures = _summary(frame, ledger, params)
    return Result(customers=frame, models_fit=models_fit, summary=summary_figures)


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.value_counts().items() if k != ""}


def _summary(frame: pd.DataFrame, ledger: Ledger, params: Params) -> dict[str, Any]:
    bought = frame[frame["purchases"] > 0]
    revenue = int(frame["revenue_cents"].sum())
    clv_values = frame["clv"].to_numpy(float)
    grid = [[0] * 5 for _ in range(5)]  # grid[r-1][f-1]
    if len(bought):
        counts = bought.groupby(["r_score", "f_score"]).size()
        for (r, f), n in counts.items():
            grid[int(r) - 1][int(f) - 1] = int(n)
    risk = frame["churn_risk"].to_numpy(float)
    risk = risk[~np.isnan(risk)]
    risk_bands = np.histogram(risk, bins=np.arange(0, 110, 10))[0] if len(risk) else np.zeros(10)
    frame_with_rep = frame.assign(rep=frame["owner_id"].where(frame["owner_id"] > 0, 0))
    return {
        "customers": len(frame),
        "buyers": len(bought),
        "revenue_12m": f"{revenue / 100:.2f}",
        "cash_12m": f"{int(frame['cash_cents'].sum()) / 100:.2f}",
        "margin_12m": f"{math.floor(revenue * params.margin + 0.5) / 100:.2f}",
        "clv_total": f"{float(np.nansum(clv_values)):.2f}",
        "overdue": f"{int(frame['overdue_cents'].sum()) / 100:.2f}",
        "abc_revenue": _counts(frame["abc_revenue"]),
        "abc_cash": _counts(frame["abc_cash"]),
        "segments": _counts(frame["segment"]),
        "lifecycle": _counts(frame["lifecycle_stage"]),
        "concentration": concentration(frame["revenue_cents"].to_numpy()),
        "rfm_grid": grid,
        "clv_histogram": _histogram(clv_values),
        "churn_bands": [int(n) for n in risk_bands],
        "at_risk": int((risk >= params.churn_threshold).sum()),
        "cohorts": cohorts(ledger.invoices.customer, ledger.invoices.day, ledger.today),
        "by_segment": _breakdown(frame, "segment", params.margin),
        "by_class": _breakdown(frame, "abc_class", params.margin),
        "by_rep": _breakdown(frame_with_rep, "rep", params.margin),
    }
