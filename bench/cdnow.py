"""BG/NBD benchmark: our `analytics.clv` fit against the lifetimes package on the full CDNOW cohort.

    .venv/bin/python bench/cdnow.py [--data /work/shared/data/CDNOW_master.txt]

The data (23,570 customers, Fader, Hardie and Lee 2005; see tests/data/README.md) are calibrated on
the first 39 weeks (1997-01-01 to 1997-09-30) in weekly units. lifetimes is not a dependency of the
project: it is installed, with the project's numpy, scipy and pandas versions, into a virtualenv of
its own at var/bench-lifetimes-venv (created on first run, needs PyPI), where a small program builds
the calibration summary with `summary_data_from_transaction_data` (freq="D", freq_multiplier=7) and
times `BetaGeoFitter(penalizer_coef=0).fit(...)` (which also computes the Hessian for standard
errors, as part of every lifetimes fit): best of 3 after a warm-up. The same is timed here
for `summarize` + `bgnbd_fit` together (ours "fit_seconds", so ours includes building the summary,
lifetimes' does not) and for `summarize` alone. It also compares both models' expected purchases
over the 39 holdout weeks, customer by customer.

Prints a table and the JSON of `run()`. Never run by the tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analytics.clv import BgNbdParams, bgnbd_expected_purchases, bgnbd_fit, summarize  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/CDNOW_master.txt")
LIFETIMES_VENV = ROOT / "var" / "bench-lifetimes-venv"
LIFETIMES_REQUIREMENTS = ("lifetimes==0.11.3", "pandas==3.0.6", "numpy==2.4.6", "scipy==1.17.1")
CALIBRATION_END = datetime.date(1997, 9, 30)
UNIT_DAYS = 7.0
HOLDOUT_WEEKS = 39.0
RUNS = 3
PARAMETERS = ("r", "alpha", "a", "b")

# Runs inside the lifetimes virtualenv: argv = data path, calibration end (ISO), runs, horizon.
# Prints one line of JSON. lifetimes.datasets is not used (it imports pkg_resources).
LIFETIMES_PROGRAM = r"""
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from lifetimes.utils import summary_data_from_transaction_data

warnings.simplefilter("ignore")
path, calibration_end, runs, horizon = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
raw = raw[raw[0].str.isdigit()]
transactions = pd.DataFrame(
    {
        "customer_id": raw[0].astype("int64"),
        "date": pd.to_datetime(raw[raw.columns[-3]], format="%Y%m%d"),
        "amount": raw[raw.columns[-1]].astype(float),
    }
)
summary = summary_data_from_transaction_data(
    transactions, "customer_id", "date", monetary_value_col="amount",
    observation_period_end=calibration_end, freq="D", freq_multiplier=7,
).sort_index()

def fit():
    return BetaGeoFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"])

fit()
seconds = []
for _ in range(runs):
    started = time.perf_counter()
    fitter = fit()
    seconds.append(time.perf_counter() - started)
params = fitter.params_
# lifetimes reports the mean log-likelihood on its internally rescaled time; recompute the total on weeks.
log_likelihood = -BetaGeoFitter._negative_log_likelihood(
    np.log(params[["r", "alpha", "a", "b"]].to_numpy()),
    summary["frequency"].to_numpy(), summary["recency"].to_numpy(), summary["T"].to_numpy(),
    np.ones(len(summary)), 0.0,
) * len(summary)
expected = fitter.conditional_expected_number_of_purchases_up_to_time(
    horizon, summary["frequency"], summary["recency"], summary["T"]
)
print(json.dumps({
    "customers": len(summary),
    "customer_ids": summary.index.astype("int64").tolist(),
    **{name: float(params[name]) for name in ("r", "alpha", "a", "b")},
    "log_likelihood": float(log_likelihood),
    "fit_seconds": min(seconds),
    "expected_purchases": np.asarray(expected, dtype=float).tolist(),
}))
"""


def read_transactions(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer ids, day ordinals and amounts of a CDNOW file (master: 4 columns and a header; sample: 5)."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    raw = raw[raw[0].str.isdigit()]
    dates = pd.to_datetime(raw[raw.columns[-3]], format="%Y%m%d").to_numpy().astype("datetime64[D]")
    days = dates.astype(np.int64) + datetime.date(1970, 1, 1).toordinal()
    return raw[0].astype("int64").to_numpy(), days, raw[raw.columns[-1]].astype(float).to_numpy()


def best_of(function: Callable[[], Any], runs: int = RUNS) -> tuple[float, Any]:
    """Fastest of `runs` timed calls after one warm-up, and the last result."""
    result = function()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    return min(seconds), result


def lifetimes_python() -> Path:
    """The lifetimes virtualenv's interpreter, creating the virtualenv and installing lifetimes if needed."""
    python = LIFETIMES_VENV / "bin" / "python"
    if not python.exists():
        print(f"Creating {LIFETIMES_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LIFETIMES_VENV)], check=True)
    if subprocess.run([str(python), "-c", "import lifetimes"], capture_output=True).returncode != 0:
        print(f"Installing {' '.join(LIFETIMES_REQUIREMENTS)} ...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *LIFETIMES_REQUIREMENTS], check=True)
    return python


def run_lifetimes(data: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [
            str(lifetimes_python()),
            "-c",
            LIFETIMES_PROGRAM,
            str(data),
            CALIBRATION_END.isoformat(),
            str(RUNS),
            str(HOLDOUT_WEEKS),
        ],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        sys.exit(f"The lifetimes program failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def three_significant_figures(value: float) -> str:
    return f"{value:.3g}"


def run(data: Path = DEFAULT_DATA) -> dict[str, Any]:
    """Fit both ways, time them, and compare parameters and expected purchases."""
    customer_ids, days, amounts = read_transactions(data)
    observation_end = CALIBRATION_END.toordinal()

    def summarize_calibration() -> Any:
        return summarize(customer_ids, days, amounts, observation_end=observation_end, unit_days=UNIT_DAYS)

    def summarize_and_fit() -> tuple[Any, BgNbdParams]:
        summary = summarize_calibration()
        return summary, bgnbd_fit(summary.frequency, summary.recency, summary.T)

    summarize_seconds, _ = best_of(summarize_calibration)
    fit_seconds, (summary, ours) = best_of(summarize_and_fit)
    theirs = run_lifetimes(data)

    if theirs["customer_ids"] != summary.customer_ids.tolist():
        sys.exit("The lifetimes summary has other customers than ours.")
    our_expected = bgnbd_expected_purchases(
        ours, HOLDOUT_WEEKS, summary.frequency, summary.recency, summary.T
    )
    their_expected = np.asarray(theirs["expected_purchases"])
    expected_difference = float(
        np.max(np.abs(our_expected - their_expected) / np.maximum(their_expected, 1e-12))
    )

    return {
        "customers": int(summary.customer_ids.size),
        "ours": {
            "r": ours.r,
            "alpha": ours.alpha,
            "a": ours.a,
            "b": ours.b,
            "log_likelihood": ours.log_likelihood,
            "fit_seconds": fit_seconds,
            "summarize_seconds": summarize_seconds,
        },
        "lifetimes": {name: theirs[name] for name in (*PARAMETERS, "log_likelihood", "fit_seconds")},
        "same_3_significant_figures": all(
            three_significant_figures(getattr(ours, name)) == three_significant_figures(theirs[name])
            for name in PARAMETERS
        ),
        "ours_not_slower": fit_seconds <= theirs["fit_seconds"],
        "expected_purchases_max_relative_difference": expected_difference,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CDNOW transactions file")
    arguments = parser.parse_args()

    results = run(arguments.data)
    ours, theirs = results["ours"], results["lifetimes"]
    print(f"BG/NBD on {arguments.data.name}: {results['customers']} customers, 39 weeks, weekly units\n")
    print(f"{'':<22}{'ours':>14}{'lifetimes':>14}")
    for name in (*PARAMETERS, "log_likelihood"):
        print(f"{name:<22}{ours[name]:>14.6g}{theirs[name]:>14.6g}")
    print(f"{'fit seconds':<22}{ours['fit_seconds']:>14.4f}{theirs['fit_seconds']:>14.4f}")
    print(f"{'  of which summarize':<22}{ours['summarize_seconds']:>14.4f}{'':>14}")
    print(f"\nsame to 3 significant figures: {results['same_3_significant_figures']}")
    print(f"ours not slower: {results['ours_not_slower']}")
    print(
        "expected purchases in the 39 holdout weeks, largest relative difference: "
        f"{results['expected_purchases_max_relative_difference']:.2e}\n"
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
