"""Distributions of agent states over time: polarization of opinions and inequality (Gini).

Input is a long table ``step, agent, value`` (from :func:`populace.analysis.snapshots.states`
or any other source); each function returns one row per step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from populace.measures import bimodality as bimodality_coefficient
from populace.measures import gini


def polarization(values: np.ndarray, low: float = 0.1, high: float = 0.9) -> dict[str, float]:
    """Variance, bimodality coefficient and share of values at the extremes (``<= low`` or ``>= high``)."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return {"variance": float("nan"), "bimodality": float("nan"), "share_extreme": float("nan")}
    return {
        "variance": float(x.var()),
        "bimodality": bimodality_coefficient(x),
        "share_extreme": float(np.mean((x <= low) | (x >= high))),
    }


def polarization_over_time(states: pd.DataFrame, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
    """``step, variance, bimodality, share_extreme`` from a ``step, agent, value`` table."""
    rows = [{"step": int(step), **polarization(group["value"].to_numpy(), low, high)}
            for step, group in states.groupby("step", sort=True)]
    return pd.DataFrame(rows, columns=["step", "variance", "bimodality", "share_extreme"])


def gini_over_time(states: pd.DataFrame) -> pd.DataFrame:
    """``step, gini`` from a ``step, agent, value`` table of non-negative values (wealth, followers)."""
    rows = [{"step": int(step), "gini": gini(group["value"].to_numpy())}
            for step, group in states.groupby("step", sort=True)]
    return pd.DataFrame(rows, columns=["step", "gini"])
