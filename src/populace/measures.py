"""Scalar measures of distributions shared by worlds and analysis (inequality, polarization)."""

from __future__ import annotations

import numpy as np


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, near 1 when one holds all."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float((2.0 * np.sum(np.arange(1, n + 1) * x) / (n * total)) - (n + 1) / n)


def bimodality(values: np.ndarray) -> float:
    """Sarle's bimodality coefficient (g^2 + 1) / (k + 3 (n-1)^2 / ((n-2)(n-3))), with bias-corrected
    sample skewness g and excess kurtosis k (as in SAS and Pfister et al. 2013); above 5/9 (the
    uniform's value) suggests two modes. NaN when undefined (fewer than 4 values, or all equal)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n < 4:
        return float("nan")
    centred = x - x.mean()
    m2 = float(np.mean(centred**2))
    if m2 <= 1e-12:
        return float("nan")
    g = float(np.mean(centred**3)) / m2**1.5
    k = float(np.mean(centred**4)) / m2**2 - 3.0
    skew = g * np.sqrt(n * (n - 1)) / (n - 2)
    kurt = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * k + 6)
    return float((skew**2 + 1) / (kurt + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


def clusters(values: np.ndarray, gap: float = 0.02, min_share: float = 0.02) -> tuple[int, float]:
    """Opinion clusters: runs of sorted values separated by more than ``gap``.

    Returns the number of clusters holding at least ``min_share`` of the values, and the share
    held by the largest one.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    if len(x) == 0:
        return 0, 0.0
    breaks = np.flatnonzero(np.diff(x) > gap) + 1
    sizes = np.diff(np.r_[0, breaks, len(x)])
    return int(np.sum(sizes >= min_share * len(x))), float(sizes.max() / len(x))
