"""Customer lifetime value: the BG/NBD purchase model and the Gamma-Gamma spend model.

Pure numerics (numpy and scipy, no Django), vectorised over customers. The models are those of
Fader, Hardie and Lee, "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD
Model" (Marketing Science, 2005) and "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis" (Journal of Marketing Research, 2005); `clv` follows the `customer_lifetime_value` of the
lifetimes package. Both models are fitted by maximum likelihood on log-parameters (so they stay
positive) with BFGS and analytic gradients; likelihoods are computed in log space.

A customer's history is summarised in "units" of time (a week by default): `frequency` is the number
of repeat purchase days, `recency` the time from the first to the last purchase, `T` the time from
the first purchase to the end of observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1

MIN_CUSTOMERS = 10
DAYS_PER_MONTH = 30.0
# Log-parameters are clipped to these bounds, so exp() of them never overflows.
_LOG_PARAM_BOUNDS = (-20.0, 20.0)
# Largest gradient (of the mean log-likelihood per customer) accepted when the optimizer stops early.
_ACCEPTED_GRADIENT = 1e-4


class FitError(ValueError):
    """A model cannot be fitted: too little data, or the optimizer did not find a proper maximum."""


@dataclass(frozen=True)
class Summary:
    """Purchase history per customer (arrays aligned, one entry per customer, sorted by id)."""

    customer_ids: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v).

    `v` is the scale usually written gamma.
    """

    p: float
    q: float
    v: float
    log_likelihood: float


def summarize(
    customer_ids: np.ndarray,
    days: np.ndarray,
    amounts: np.ndarray,
    *,
    observation_end: int,
    unit_days: float = 7.0,
) -> Summary:
    """Frequency, recency, T and mean repeat spend of every customer seen by `observation_end`.

    `days` are integer day numbers (e.g. `date.toordinal()`); transactions after `observation_end`
    are ignored. Several transactions of one customer on one day are one purchase whose amount is
    their sum. The first purchase day is not a repeat purchase: it counts neither in `frequency` nor
    in `monetary`, which is 0 for customers without repeat purchases.
    """
    if unit_days <= 0:
        raise ValueError("unit_days must be positive.")
    ids = np.asarray(customer_ids).astype(np.int64, copy=False)
    day_numbers = np.asarray(days).astype(np.int64, copy=False)
    values = np.asarray(amounts, dtype=np.float64)
    if not (ids.shape == day_numbers.shape == values.shape) or ids.ndim != 1:
        raise ValueError("customer_ids, days and amounts must be one-dimensional arrays of the same length.")

    observed = day_numbers <= observation_end
    ids, day_numbers, values = ids[observed], day_numbers[observed], values[observed]
    if ids.size == 0:
        empty_int = np.empty(0, dtype=np.int64)
        empty_float = np.empty(0, dtype=np.float64)
        return Summary(empty_int, empty_float, empty_float, empty_float, empty_float, empty_int, empty_int)

    order = _sort_by_customer_and_day(ids, day_numbers)
    ids, day_numbers, values = ids[order], day_numbers[order], values[order]

    # One row per (customer, day): the purchase, with the day's amounts summed.
    new_purchase = np.empty(ids.size, dtype=bool)
    new_purchase[0] = True
    np.logical_or(ids[1:] != ids[:-1], day_numbers[1:] != day_numbers[:-1], out=new_purchase[1:])
    purchase_starts = np.flatnonzero(new_purchase)
    purchase_ids = ids[purchase_starts]
    purchase_days = day_numbers[purchase_starts]
    purchase_amounts = np.add.reduceat(values, purchase_starts)

    # One row per customer.
    new_customer = np.empty(purchase_ids.size, dtype=bool)
    new_customer[0] = True
    np.not_equal(purchase_ids[1:], purchase_ids[:-1], out=new_customer[1:])
    customer_starts = np.flatnonzero(new_customer)
    customer_ends = np.append(customer_starts[1:], purchase_ids.size) - 1
    purchase_days_count = customer_ends - customer_starts + 1

    first_day = purchase_days[customer_starts]
    last_day = purchase_days[customer_ends]
    frequency = (purchase_days_count - 1).astype(np.float64)
    repeat_amount = np.add.reduceat(purchase_amounts, customer_starts) - purchase_amounts[customer_starts]
    monetary = np.divide(repeat_amount, frequency, out=np.zeros_like(repeat_amount), where=frequency > 0)
    return Summary(
        customer_ids=purchase_ids[customer_starts],
        frequency=frequency,
        recency=(last_day - first_day) / unit_days,
        T=(observation_end - first_day) / unit_days,
        monetary=monetary,
        first_day=first_day,
        last_day=last_day,
    )


def _sort_by_customer_and_day(ids: np.ndarray, day_numbers: np.ndarray) -> np.ndarray:
    """Indices sorting by customer, then day: one argsort of a combined key when it fits in int64."""
    id_min, day_min = int(ids.min()), int(day_numbers.min())
    id_span = int(ids.max()) - id_min + 1
    day_span = int(day_numbers.max()) - day_min + 1
    if id_span * day_span < 2**62:
        key = (ids - id_min) * day_span + (day_numbers - day_min)
        return np.argsort(key, kind="stable")
    return np.lexsort((day_numbers, ids))


# BG/NBD


def bgnbd_fit(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, weights: np.ndarray | None = None
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters for the customers' (frequency, recency, T).

    `weights` (optional) counts how many customers each row stands for. Identical histories are
    merged before fitting, so the cost grows with the number of distinct histories. Raises FitError
    with fewer than 10 customers, without any repeat purchase, or when no proper maximum is found.
    """
    x, t_x, t_end = _history(frequency, recency, T)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != x.shape or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite, non-negative and one per customer.")
    customers = float(w.sum())
    if customers < MIN_CUSTOMERS:
        raise FitError(
            f"The purchase model needs at least {MIN_CUSTOMERS} customers; there are {customers:g}."
        )
    if not np.any((x > 0) & (w > 0)):
        raise FitError("The purchase model needs some repeat purchases; no customer has bought twice.")
    histories = _BgNbdHistories.of(x, t_x, t_end, w)

    def negative_mean_ll(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        # Clipped so that exp() cannot overflow; outside the clip the gradient is zero.
        clipped = np.clip(log_params, *_LOG_PARAM_BOUNDS)
        params = np.exp(clipped)
        ll, gradient = _bgnbd_ll_and_gradient(*params, histories)
        # Gradient with respect to the log-parameters (chain rule), per customer for conditioning.
        gradient = gradient * params * (clipped == log_params)
        return -ll / customers, -gradient / customers

    mean_t = max(float(np.sum(histories.weight * histories.t_end)) / customers, 1e-6)
    starts = [np.log([1.0, mean_t, 1.0, 1.0]), np.log([0.5, mean_t / 4, 0.5, 2.0])]
    log_params = _maximise(negative_mean_ll, starts, model="purchase (BG/NBD)")
    r, alpha, a, b = (float(value) for value in np.exp(log_params))
    ll, _ = _bgnbd_ll_and_gradient(r, alpha, a, b, histories)
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b, log_likelihood=ll)


@dataclass(frozen=True)
class _BgNbdHistories:
    """Distinct (x, t_x, T) with the number of customers of each, and the distinct frequencies.

    The gamma-function terms of the likelihood depend on x alone, so they are evaluated once per
    distinct frequency (a few dozen) rather than once per history.
    """

    x: np.ndarray
    t_x: np.ndarray
    t_end: np.ndarray
    weight: np.ndarray
    repeat: np.ndarray
    x_minus_1: np.ndarray
    frequencies: np.ndarray
    frequency_weight: np.ndarray
    total_weight: float

    @classmethod
    def of(cls, x: np.ndarray, t_x: np.ndarray, t_end: np.ndarray, weight: np.ndarray) -> _BgNbdHistories:
        # One integer key per history from the codes of each column: much faster than unique rows.
        frequencies, x_code = np.unique(x, return_inverse=True)
        recencies, t_x_code = np.unique(t_x, return_inverse=True)
        ages, t_end_code = np.unique(t_end, return_inverse=True)
        key = (x_code * recencies.size + t_x_code) * ages.size + t_end_code
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        history_weight = np.bincount(inverse, weights=weight, minlength=first.size)
        history_x = x[first]
        return cls(
            x=history_x,
            t_x=t_x[first],
            t_end=t_end[first],
            weight=history_weight,
            repeat=history_x > 0,
            x_minus_1=history_x - 1.0,
            frequencies=frequencies,
            frequency_weight=np.bincount(x_code, weights=weight, minlength=frequencies.size),
            total_weight=float(weight.sum()),
        )


def _bgnbd_ll_and_gradient(
    r: float, alpha: float, a: float, b: float, histories: _BgNbdHistories
) -> tuple[float, np.ndarray]:
    """Weighted total log-likelihood (FHL 2005, eq. 6) and its gradient with respect to (r, alpha, a, b).

    L = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / Gamma(r)
        * [(alpha+T)^-(r+x) + [x > 0] a/(b+x-1) (alpha+t_x)^-(r+x)]
    """
    h = histories
    n = h.total_weight
    k, nk = h.frequencies, h.frequency_weight
    # Gamma-function terms, summed per distinct frequency.
    ll_gamma = np.sum(nk * (gammaln(r + k) + gammaln(b + k) - gammaln(a + b + k))) + n * (
        gammaln(a + b) - gammaln(r) - gammaln(b) + r * np.log(alpha)
    )
    digamma_abk = digamma(a + b + k)
    sum_digamma_rk = np.sum(nk * digamma(r + k))
    sum_digamma_bk = np.sum(nk * digamma(b + k))
    sum_digamma_abk = np.sum(nk * digamma_abk)

    # The mixture of "still alive at T" and "dropped out after the last purchase", per history.
    r_x = r + h.x
    log_alpha_t = np.log(alpha + h.t_end)
    log_alpha_tx = np.log(alpha + h.t_x)
    alive = -r_x * log_alpha_t
    # For x == 0 the second term is absent; b + x - 1 is then only a placeholder.
    b_x_1 = np.where(h.repeat, b + h.x_minus_1, 1.0)
    dropped = np.where(h.repeat, np.log(a) - np.log(b_x_1) - r_x * log_alpha_tx, -np.inf)
    log_mix = np.logaddexp(alive, dropped)
    # Shares of the two terms in the mixture (the dropped share is 0 when x == 0).
    alive_share = np.exp(alive - log_mix)
    dropped_share = -np.expm1(alive - log_mix)
    w = h.weight

    d_r = (
        sum_digamma_rk
        - n * (digamma(r) - np.log(alpha))
        - np.sum(w * (alive_share * log_alpha_t + dropped_share * log_alpha_tx))
    )
    d_alpha = n * r / alpha - np.sum(
        w * r_x * (alive_share / (alpha + h.t_end) + dropped_share / (alpha + h.t_x))
    )
    digamma_ab = digamma(a + b)
    weighted_dropped = np.sum(w * dropped_share)
    d_a = n * digamma_ab - sum_digamma_abk + weighted_dropped / a
    d_b = n * (digamma_ab - digamma(b)) + sum_digamma_bk - sum_digamma_abk - np.sum(w * dropped_share / b_x_1)
    ll = float(ll_gamma + np.sum(w * log_mix))
    return ll, np.array([d_r, d_alpha, d_a, d_b])


def bgnbd_expected_purchases(
    params: BgNbdParams, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """Expected repeat purchases of each customer in the next `t` units, given their history.

    FHL 2005, eq. 10. The Gauss hypergeometric function is evaluated in whichever of its two
    equivalent (Euler-transformed) forms is finite, as lifetimes does, so long horizons do not
    overflow. Raises FitError if the parameters still give a non-finite forecast.
    """
    if t < 0:
        raise ValueError("The horizon t must not be negative.")
    x, t_x, t_end = _history(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if t == 0:
        return np.zeros_like(x)
    if abs(a - 1.0) < 1e-9:
        # The formula has a removable singularity at a == 1; the expectation is continuous in a.
        a = 1.0 + 1e-9
    z = t / (alpha + t_end + t)
    log_one_minus_z = np.log(alpha + t_end) - np.log(alpha + t_end + t)
    c = a + b + x - 1.0
    # ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z) as sign and log of its size: directly,
    # or after Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) where the direct
    # form overflows. 2F1 is negative when a+b+x-1 < 0 (x == 0 and a + b < 1).
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        direct = hyp2f1(r + x, b + x, c, z)
        euler = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        use_direct = np.isfinite(direct) & (direct != 0)
        hyp = np.where(use_direct, direct, euler)
        exponent = np.where(use_direct, r + x, a - 1.0)
        log_size = np.log(np.abs(hyp)) + exponent * log_one_minus_z
    # 1 - term, without cancellation when the term is close to 1 (short horizons).
    one_minus_term = np.where(hyp > 0, -np.expm1(log_size), 1.0 + np.exp(log_size))
    numerator = (c / (a - 1.0)) * one_minus_term
    log_odds_dead = _log_odds_dead(r, alpha, a, b, x, t_x, t_end)
    expected = numerator * expit(-log_odds_dead)
    if not np.all(np.isfinite(expected)):
        raise FitError(
            "The purchase model's parameters give no finite forecast for some customers; "
            "refit on more data or a shorter horizon."
        )
    return np.maximum(expected, 0.0)


def bgnbd_prob_alive(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """Probability that each customer is still active, given their history.

    1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)): 1 for customers without repeat
    purchases, since in the BG/NBD model a customer can only drop out right after a purchase.
    """
    x, t_x, t_end = _history(frequency, recency, T)
    log_odds_dead = _log_odds_dead(params.r, params.alpha, params.a, params.b, x, t_x, t_end)
    return expit(-log_odds_dead)


def _log_odds_dead(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, t_end: np.ndarray
) -> np.ndarray:
    """log(P(dropped out) / P(alive)) given the history; -inf (certainly alive) without repeat purchases."""
    repeat = x > 0
    b_x_1 = np.where(repeat, b + x - 1.0, 1.0)
    log_odds = np.log(a) - np.log(b_x_1) + (r + x) * (np.log(alpha + t_end) - np.log(alpha + t_x))
    return np.where(repeat, log_odds, -np.inf)


def _history(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[np.ndarray, ...]:
    x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
    t_x = np.atleast_1d(np.asarray(recency, dtype=np.float64))
    t_end = np.atleast_1d(np.asarray(T, dtype=np.float64))
    if not (x.shape == t_x.shape == t_end.shape) or x.ndim != 1:
        raise ValueError("frequency, recency and T must be one-dimensional arrays of the same length.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(t_end))):
        raise ValueError("frequency, recency and T must be finite.")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be a whole number of repeat purchases, not negative.")
    if np.any(t_x < 0) or np.any(t_x > t_end):
        raise ValueError("recency must lie between 0 and T.")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("recency must be 0 for customers without repeat purchases.")
    return x, t_x, t_end


# Gamma-Gamma


def gamma_gamma_fit(frequency: ArrayLike, monetary: ArrayLike) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters from the repeat customers' mean spend.

    Only customers with frequency > 0 and monetary > 0 are used (`monetary` being the mean amount of
    their repeat purchases, as `summarize` computes it). Raises FitError with fewer than 10 such
    customers, when no proper maximum is found, or when q <= 1 (the mean spend would be undefined).
    """
    x_all, m_all = _spend_history(frequency, monetary)
    used = (x_all > 0) & (m_all > 0)
    x, m = x_all[used], m_all[used]
    if x.size < MIN_CUSTOMERS:
        raise FitError(
            f"The spend model needs at least {MIN_CUSTOMERS} customers with repeat purchases; "
            f"there are {x.size}."
        )
    # Terms that do not depend on the parameters.
    log_m = np.log(m)
    log_x = np.log(x)
    x_m = x * m

    def terms(p: float, q: float, v: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        px = p * x
        log_xm_v = np.log(x_m + v)
        ll = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1.0) * log_m
            + px * log_x
            - (px + q) * log_xm_v
        )
        return ll, px, log_xm_v

    def negative_mean_ll(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        clipped = np.clip(log_params, *_LOG_PARAM_BOUNDS)
        p, q, v = np.exp(clipped)
        ll, px, log_xm_v = terms(p, q, v)
        digamma_pxq = digamma(px + q)
        d_p = np.sum(x * (digamma_pxq - digamma(px) + log_m + log_x - log_xm_v))
        d_q = np.sum(digamma_pxq - digamma(q) + np.log(v) - log_xm_v)
        d_v = np.sum(q / v - (px + q) / (x_m + v))
        gradient = np.array([d_p * p, d_q * q, d_v * v]) * (clipped == log_params)
        return -float(ll.sum()) / x.size, -gradient / x.size

    mean_spend = float(m.mean())
    starts = [np.log([1.0, 2.0, mean_spend]), np.log([1.0, 1.0, 1.0]), np.log([5.0, 5.0, mean_spend])]
    log_params = _maximise(negative_mean_ll, starts, model="spend (Gamma-Gamma)")
    p, q, v = (float(value) for value in np.exp(log_params))
    if q <= 1.0:
        raise FitError(
            f"The spend model's q is {q:.3g}, not above 1, so the average spend is undefined; "
            "spend varies too much between customers for this model."
        )
    ll, _, _ = terms(p, q, v)
    return GammaGammaParams(p=p, q=q, v=v, log_likelihood=float(ll.sum()))


def gamma_gamma_expected_spend(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> np.ndarray:
    """Expected spend per purchase of each customer, E[M | x, mbar] = (p v + p x mbar) / (p x + q - 1).

    A weighted mean of the population mean p v / (q - 1) and the customer's own mean; for customers
    without repeat purchases it is the population mean.
    """
    x, m = _spend_history(frequency, monetary)
    p, q, v = params.p, params.q, params.v
    if q <= 1.0:
        raise ValueError("The expected spend needs q > 1.")
    m = np.where(x > 0, m, 0.0)
    return (p * v + p * x * m) / (p * x + q - 1.0)


def _spend_history(frequency: ArrayLike, monetary: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
    m = np.atleast_1d(np.asarray(monetary, dtype=np.float64))
    if x.shape != m.shape or x.ndim != 1:
        raise ValueError("frequency and monetary must be one-dimensional arrays of the same length.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m))) or np.any(x < 0):
        raise ValueError("frequency and monetary must be finite, and frequency not negative.")
    return x, m


# Lifetime value


def clv(
    bgnbd: BgNbdParams,
    gg: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    *,
    months: int,
    unit_days: float,
    margin: float,
    annual_discount_rate: float,
) -> np.ndarray:
    """Discounted margin each customer is expected to bring in the next `months` months.

    As lifetimes' `customer_lifetime_value`: for each month i (30 days), the purchases expected in
    that month times the expected spend per purchase times `margin`, discounted by
    (1 + monthly rate)^i with monthly rate = (1 + annual_discount_rate)^(1/12) - 1. `margin` and the
    rate are fractions (0.3, 0.1). Never negative.
    """
    if months < 0:
        raise ValueError("months must not be negative.")
    if unit_days <= 0:
        raise ValueError("unit_days must be positive.")
    if margin < 0:
        raise ValueError("margin must not be negative.")
    if annual_discount_rate <= -1:
        raise ValueError("annual_discount_rate must be above -1 (-100 %).")
    spend = gamma_gamma_expected_spend(gg, frequency, monetary)
    monthly_rate = (1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0
    units_per_month = DAYS_PER_MONTH / unit_days
    value = np.zeros_like(spend)
    purchases_so_far = np.zeros_like(spend)
    for month in range(1, months + 1):
        purchases_by_month_end = bgnbd_expected_purchases(
            bgnbd, month * units_per_month, frequency, recency, T
        )
        purchases_in_month = np.maximum(purchases_by_month_end - purchases_so_far, 0.0)
        value += purchases_in_month * spend * margin / (1.0 + monthly_rate) ** month
        purchases_so_far = purchases_by_month_end
    return value


# Optimisation


def _maximise(
    negative_mean_ll: Callable[[np.ndarray], tuple[float, np.ndarray]],
    starts: list[np.ndarray],
    *,
    model: str,
) -> np.ndarray:
    """Log-parameters minimising `negative_mean_ll` (BFGS with the analytic gradient).

    Tries the `starts` in turn and keeps the first that converges. BFGS rather than L-BFGS-B: on a
    handful of parameters L-BFGS-B's own linear algebra can cost more than the likelihood (OpenBLAS
    threads), and the objectives clip their log-parameters, so no bounds are needed.
    """
    failures: list[str] = []
    for start in starts:
        with np.errstate(all="ignore"):
            result = minimize(
                negative_mean_ll, start, jac=True, method="BFGS", options={"maxiter": 1000, "gtol": 1e-9}
            )
        if not (np.isfinite(result.fun) and np.all(np.isfinite(result.x))):
            failures.append("non-finite likelihood")
            continue
        # BFGS reports "precision loss" when the line search cannot improve within floating-point
        # precision, e.g. on a flat ridge of the likelihood; a near-zero gradient still means a maximum.
        if not result.success and np.max(np.abs(result.jac)) > _ACCEPTED_GRADIENT:
            failures.append(str(result.message).strip() or "stopped early")
            continue
        return np.clip(result.x, *_LOG_PARAM_BOUNDS)
    raise FitError(f"The {model} model did not converge: {'; '.join(failures) or 'no result'}.")
