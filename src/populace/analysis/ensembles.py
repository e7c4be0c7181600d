"""Statistics over an ensemble of runs (seeds of one setting): a run's metric series with its
simulated time, the mean with its 95 % t-interval per step, and Welch's t-test of one setting
against another.

A stochastic simulation's finding is a distribution over seeds: these functions turn runs into the
mean and the uncertainty of that mean. Intervals use Student's t with ``n - 1`` degrees of freedom
(seeds are independent draws); two settings are compared with Welch's test, which does not assume
their variances are equal (Welch 1947), and whose interval is that of the difference of the means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from populace.analysis.tables import RunLike, query

#: the confidence of every interval here
LEVEL = 0.95


def metric_series(run: RunLike) -> pd.DataFrame:
    """A run's metrics in long form with the simulated time of each step: ``step, time, metric, value``
    (the time at which the step began; empty when the run recorded no metrics)."""
    frame = query(run, """
        SELECT m.step, s.time, m.metric, m.value
        FROM {metrics} m LEFT JOIN (SELECT step, any_value(time) AS time FROM {steps} GROUP BY step) s USING (step)
        ORDER BY m.step, m.metric""")
    if frame.empty:
        return pd.DataFrame({"step": pd.Series(dtype="int64"), "time": pd.Series(dtype="datetime64[ms]"),
                             "metric": pd.Series(dtype=object), "value": pd.Series(dtype="float64")})
    return frame.astype({"step": "int64", "value": "float64"})


def _t(df: float) -> float:
    """The two-sided :data:`LEVEL` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + LEVEL / 2, df))


@dataclass(frozen=True)
class Interval:
    """A sample's mean and its 95 % t-interval (NaN bounds with fewer than two values)."""

    n: int
    mean: float
    std: float
    low: float
    high: float


def interval(values: Sequence[float] | np.ndarray) -> Interval:
    """Mean, sample standard deviation and the 95 % t-interval of the mean of ``values`` (NaNs dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return Interval(1, mean, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = _t(n - 1) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


def summarise(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by`` (e.g. cell, step, metric): ``n, mean, std, ci_low, ci_high`` of ``value``,
    as :func:`interval` gives them."""
    from scipy import stats

    columns = [*by, "n", "mean", "std", "ci_low", "ci_high"]
    values = frame.dropna(subset=["value"]) if len(frame) else frame
    if values.empty:
        return pd.DataFrame(columns=columns)
    out = values.groupby(list(by), sort=True, dropna=False)["value"].agg(n="count", mean="mean", std="std")
    out = out.reset_index()
    n = out["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + LEVEL / 2, np.where(n > 1, n - 1, np.nan)) * out["std"].to_numpy() / np.sqrt(n)
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    return out[columns]


@dataclass(frozen=True)
class Difference:
    """Welch's t-test of ``mean(a) - mean(b)``: the difference, its 95 % interval, t, df and the
    two-sided p-value (NaN where either sample has fewer than two values)."""

    difference: float
    low: float
    high: float
    t: float
    df: float
    p: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly on one side of 0 (the difference is significant at 5 %)."""
        return bool(self.low > 0 or self.high < 0)


def welch_moments(mean_a: Any, std_a: Any, n_a: Any, mean_b: Any, std_b: Any,
                  n_b: Any) -> tuple[np.ndarray, ...]:
    """Welch's test from two samples' means, sample standard deviations and sizes (arrays, element
    by element): ``difference, low, high, t, df, p``. Under two values in either sample the bounds,
    t, df and p are NaN; where neither sample has spread the difference is exact (its interval the
    point itself, p 1 when it is 0, else 0)."""
    from scipy import stats

    ma, sa, na, mb, sb, nb = (np.asarray(v, dtype=float) for v in (mean_a, std_a, n_a, mean_b, std_b, n_b))
    diff = ma - mb
    with np.errstate(invalid="ignore", divide="ignore"):
        va, vb = sa**2 / na, sb**2 / nb
        se = np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
        t = diff / se
        half = stats.t.ppf(0.5 + LEVEL / 2, df) * se
        p = 2 * stats.t.sf(np.abs(t), df)
    exact = se == 0
    half = np.where(exact, 0.0, half)
    t, df = np.where(exact, np.nan, t), np.where(exact, np.inf, df)
    p = np.where(exact, np.where(diff == 0, 1.0, 0.0), p)
    few = (na < 2) | (nb < 2)
    low, high = np.where(few, np.nan, diff - half), np.where(few, np.nan, diff + half)
    t, df, p = (np.where(few, np.nan, v) for v in (t, df, p))
    return diff, low, high, t, df, p


def welch(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Difference:
    """Welch's unequal-variance t-test and interval for the difference of the means of ``a`` and
    ``b`` (NaNs dropped; see :func:`welch_moments`)."""
    x, y = (np.asarray(v, dtype=float) for v in (a, b))
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if len(x) == 0 or len(y) == 0:
        return Difference(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
    moments = [(v.mean(), v.std(ddof=1) if len(v) > 1 else math.nan, len(v)) for v in (x, y)]
    return Difference(*(float(v) for v in welch_moments(*moments[0], *moments[1])))


def difference_series(summary: pd.DataFrame, group: str, baseline: Any) -> pd.DataFrame:
    """Per step, Welch's difference of every other ``group`` to ``baseline`` from a :func:`summarise`
    table by ``group, step, metric``: ``<group>, step, metric, difference, ci_low, ci_high``."""
    columns = [group, "step", "metric", "difference", "ci_low", "ci_high"]
    base = summary[summary[group] == baseline][["step", "metric", "n", "mean", "std"]]
    other = summary[summary[group] != baseline]
    if base.empty or other.empty:
        return pd.DataFrame(columns=columns)
    both = other.merge(base, on=["step", "metric"], suffixes=("", "_base"))
    diff, low, high, *_ = welch_moments(both["mean"], both["std"], both["n"], both["mean_base"], both["std_base"],
                                        both["n_base"])
    return both.assign(difference=diff, ci_low=low, ci_high=high)[columns]


def at_step(frame: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """Each run's rows at ``step`` (default: each run's last step of each metric); ``frame`` has
    ``run, step, metric, value`` columns."""
    if step is not None:
        return frame[frame["step"] == step]
    last = frame.groupby(["run", "metric"], sort=False)["step"].transform("max")
    return frame[frame["step"] == last]


def differences(frame: pd.DataFrame, group: str, baseline: Any, step: int | None = None) -> pd.DataFrame:
    """Welch's test of every other value of column ``group`` against ``baseline``, per metric, on
    each run's value at ``step`` (default: its last): ``<group>, metric, step, n, mean, baseline_n,
    baseline_mean, difference, ci_low, ci_high, t, df, p``."""
    columns = [group, "metric", "step", "n", "mean", "baseline_n", "baseline_mean", "difference", "ci_low",
               "ci_high", "t", "df", "p"]
    chosen = at_step(frame, step)
    rows = []
    base = chosen[chosen[group] == baseline]
    base_values = {m: v["value"].to_numpy() for m, v in base.groupby("metric", sort=False)}
    for label in pd.unique(chosen[group]):
        if label == baseline:
            continue
        mine = chosen[chosen[group] == label]
        for metric, values in mine.groupby("metric", sort=True):
            reference = base_values.get(metric)
            if reference is None:
                continue
            d = welch(values["value"].to_numpy(), reference)
            rows.append((label, metric, int(values["step"].max()), len(values), float(values["value"].mean()),
                         len(reference), float(reference.mean()), d.difference, d.low, d.high, d.t, d.df, d.p))
    return pd.DataFrame(rows, columns=columns)
