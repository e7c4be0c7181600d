"""Calibration: fit R0 and one behavioural parameter to observed weekly case counts.

Method (documented, deterministic): a coarse-to-fine grid search. Every candidate pair is
simulated with the *same* seed (common random numbers, so the error surface is not jagged by
noise), its daily ``new_cases`` summed into weeks, and scored by the normalised root-mean-square
error ``sqrt(mean((simulated - observed)^2)) / mean(observed)``. After each round the grid is
re-centred on the best pair with half the spacing. A scenario file, an override path per
parameter and the observed CSV are all it needs::

    result = calibrate(read_weekly_cases("cases.csv"), "covid",
                       {"world.params.disease.r0": (1.5, 4.0), "minds.0.params.caution": (0.0, 0.3)})
    result.best, result.error
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from populace.errors import ScenarioError
from populace.scenario import Scenario, load_scenario
from populace.simulation import Simulation

#: the daily metric that is summed into weekly cases and fitted
CASES = "new_cases"


@dataclass
class Calibration:
    """The best parameters, their fit error, the simulated weekly cases and every point tried."""

    best: dict[str, float]
    error: float
    simulated: np.ndarray
    tried: list[tuple[dict[str, float], float]] = field(default_factory=list)


def read_weekly_cases(path: str | Path) -> np.ndarray:
    """Read a CSV with a ``cases`` column (one row per week, in order)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ScenarioError(f"case file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    if not rows or "cases" not in rows[0]:
        raise ScenarioError(f"case file {str(path)!r} needs a 'cases' column with one row per week")
    try:
        return np.asarray([float(r["cases"]) for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise ScenarioError(f"case file {str(path)!r}: {exc}") from None


def weekly_cases(source: str | Path | Scenario | Mapping[str, Any], weeks: int,
                 overrides: Sequence[str] = ()) -> np.ndarray:
    """Simulate ``weeks`` weeks of a scenario and return its reported cases per week."""
    data = source.model_dump() if isinstance(source, Scenario) else source
    scenario = load_scenario(data, [*overrides, "trace.events=none"])
    scenario = scenario.model_copy(update={"steps": weeks * 7})
    metrics = Simulation(scenario).run().metrics()
    if CASES not in metrics:
        raise ScenarioError(f"calibrate: the {scenario.world.type!r} world reports no {CASES!r} metric to fit "
                            f"(its metrics: {', '.join(map(str, metrics.columns)) or 'none'})")
    daily = metrics[CASES].to_numpy()
    return daily[: weeks * 7].reshape(weeks, 7).sum(axis=1)


def fit_error(simulated: np.ndarray, observed: np.ndarray) -> float:
    """Normalised RMSE: root-mean-square error over the mean observed weekly count."""
    scale = max(float(np.mean(observed)), 1e-9)
    return float(np.sqrt(np.mean((simulated - observed) ** 2)) / scale)


def calibrate(
    observed: np.ndarray, scenario: str | Path | Mapping[str, Any], ranges: Mapping[str, tuple[float, float]],
    *, points: int = 5, rounds: int = 3, overrides: Sequence[str] = (),
) -> Calibration:
    """Fit the parameters at the override paths in ``ranges`` (low, high) by coarse-to-fine grid search."""
    if not 1 <= len(ranges) <= 2:
        raise ScenarioError("calibrate: give one or two parameters to fit")
    observed = np.asarray(observed, dtype=np.float64)
    weeks = len(observed)
    names = list(ranges)
    centre = {k: (lo + hi) / 2 for k, (lo, hi) in ranges.items()}
    half = {k: (hi - lo) / 2 for k, (lo, hi) in ranges.items()}
    tried: dict[tuple[float, ...], tuple[float, np.ndarray]] = {}
    best: tuple[float, ...] = tuple(centre[k] for k in names)
    for _ in range(rounds):
        axes = [np.clip(np.linspace(centre[k] - half[k], centre[k] + half[k], points), *ranges[k]) for k in names]
        for values in np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(names)):
            key = tuple(round(float(v), 6) for v in values)
            if key not in tried:
                sets = [f"{k}={v}" for k, v in zip(names, key, strict=True)]
                simulated = weekly_cases(scenario, weeks, [*overrides, *sets])
                tried[key] = (fit_error(simulated, observed), simulated)
        best = min(tried, key=lambda k: tried[k][0])
        centre = dict(zip(names, best, strict=True))
        half = {k: v / 2 for k, v in half.items()}
    error, simulated = tried[best]
    return Calibration(
        dict(zip(names, best, strict=True)), error, simulated,
        [(dict(zip(names, k, strict=True)), e) for k, (e, _) in tried.items()],
    )

