"""The observed series a calibration fits, and what of a run it is compared with.

A :class:`Target` is one or more CSV columns on simulated time (a numeric time column in a unit,
or timestamps), each a :class:`Measure` compared with a metric of the run or with a measure of its
largest cascade (:func:`populace.analysis.cascade_growth`); :func:`per_step` gives those measures
after each step of a run, and :func:`nrmse` scores a prediction as OASIS scores a simulated cascade.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from populace.clock import parse_duration
from populace.errors import ScenarioError
from populace.scenario import Scenario

#: cascade measures a target may name, and the column of :func:`populace.analysis.cascade_growth` each reads
CASCADE_MEASURES = {"scale": "scale", "depth": "depth", "breadth": "max_breadth"}
#: units a time column's name implies (``minute`` -> minutes), else ``time_unit`` says
TIME_UNITS = {"second": "1s", "seconds": "1s", "s": "1s", "minute": "1m", "minutes": "1m", "min": "1m", "m": "1m",
              "hour": "1h", "hours": "1h", "h": "1h", "day": "1d", "days": "1d", "d": "1d", "week": "1w",
              "weeks": "1w", "w": "1w"}
Aggregate = Literal["last", "sum"]


@dataclass(frozen=True)
class Measure:
    """One observed series, and what of a run it is compared with: a metric (``kind="metric"``)
    or a measure of the run's largest cascade (``kind="cascade"``: scale, depth or breadth)."""

    kind: Literal["metric", "cascade"]
    name: str
    column: str  # the target file's column holding it
    values: tuple[float, ...]

    @property
    def describe(self) -> str:
        return f"cascade {self.name}" if self.kind == "cascade" else f"metric {self.name!r}"


@dataclass(frozen=True)
class Target:
    """Observed series on simulated time: one or more :class:`Measure` at the same rows."""

    seconds: tuple[float, ...]  # each row's time since the clock's start, in simulated seconds
    labels: tuple[str, ...]  # each row's time as the file gives it
    measures: tuple[Measure, ...]
    source: str = ""
    aggregate: Aggregate = "last"

    @property
    def describe(self) -> str:
        what = " and ".join(m.describe for m in self.measures)
        return what + (" summed per row" if self.aggregate == "sum" else "")


def read_target(path: str | Path, *, metrics: Sequence[str] = (), cascades: Sequence[str] = (),
                column: str | None = None, time_column: str | None = None, time_unit: str | None = None,
                start: datetime | None = None, aggregate: Aggregate = "last") -> Target:
    """Read observed series from a CSV: ``time_column`` (default: the first) on simulated time, in
    ``time_unit`` (implied by its name: minute, hour, day...) or as timestamps (since ``start``).
    Each of ``metrics`` (``NAME`` or ``NAME=COLUMN``) and ``cascades`` (scale, depth, breadth) is
    read from its column: the one named, ``column`` where there is one measure, else its name."""
    if not metrics and not cascades:
        raise ScenarioError("give the target's measure: --metric NAME or --cascade scale|depth|breadth")
    for name in cascades:
        if name not in CASCADE_MEASURES:
            raise ScenarioError(f"--cascade {name!r}: expected one of {', '.join(CASCADE_MEASURES)}")
    if column is not None and len(metrics) + len(cascades) > 1:
        raise ScenarioError("--column names the values of one measure; with several, write --metric NAME=COLUMN "
                            "or name the columns after them")
    label = str(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise ScenarioError(f"target file {label!r} does not exist") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ScenarioError(f"target file {label!r} cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    if frame.empty:
        raise ScenarioError(f"target file {label!r} has no rows")
    columns = [str(c) for c in frame.columns]
    time_column = time_column or columns[0]
    if time_column not in columns:
        raise ScenarioError(f"target file {label!r} has no time column {time_column!r} (name it with "
                            f"--time-column); its columns: {', '.join(columns)}")
    wanted: list[tuple[Literal["metric", "cascade"], str, str]] = []
    for spec in metrics:
        name, _, named = spec.partition("=")
        wanted.append(("metric", name.strip(), named.strip() or column or name.strip()))
    for name in cascades:
        own = CASCADE_MEASURES[name] if CASCADE_MEASURES[name] in columns or name not in columns else name
        wanted.append(("cascade", name, column or own))
    measures = []
    for kind, name, col in wanted:
        if col not in columns:
            raise ScenarioError(f"target file {label!r} has no value column {col!r} (name it with --column or "
                                f"--metric NAME=COLUMN); its columns: {', '.join(columns)}")
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise ScenarioError(f"target file {label!r}: column {col!r} row {row + 1}: "
                                f"{frame[col].iloc[row]!r} is not a number")
        measures.append(Measure(kind, name, col, tuple(float(v) for v in values)))
    if len({m.name for m in measures}) != len(measures):
        raise ScenarioError("a measure is given twice")
    seconds = _seconds(frame[time_column], time_column, time_unit, start, label)
    if np.any(np.diff(seconds) <= 0):
        raise ScenarioError(f"target file {label!r}: the times in {time_column!r} must increase row by row")
    return Target(tuple(float(s) for s in seconds), tuple(str(v) for v in frame[time_column]), tuple(measures),
                  label, aggregate)


def _seconds(times: pd.Series, column: str, unit: str | None, start: datetime | None, label: str) -> np.ndarray:
    """A time column as simulated seconds since the start: numbers in a unit, or timestamps."""
    numbers = pd.to_numeric(times, errors="coerce")
    if not numbers.isna().any():
        unit = unit or TIME_UNITS.get(column.strip().lower())
        if unit is None:
            raise ScenarioError(f"target file {label!r}: say the unit of {column!r} with --time-unit "
                                "(e.g. 1m, 1h, 1d, 1w)")
        try:
            size = parse_duration(unit).total_seconds()
        except ValueError as exc:
            raise ScenarioError(f"--time-unit: {exc}") from None
        return numbers.to_numpy(dtype=np.float64) * size
    stamps = pd.to_datetime(times, errors="coerce", utc=True)
    if stamps.isna().any() or start is None:
        raise ScenarioError(f"target file {label!r}: {column!r} holds neither numbers nor timestamps")
    origin = pd.Timestamp(start if start.tzinfo else start.replace(tzinfo=UTC))
    return np.asarray((stamps - origin).dt.total_seconds(), dtype=np.float64)


def nrmse(simulated: Sequence[float] | np.ndarray, observed: Sequence[float] | np.ndarray) -> float:
    """Root-mean-square error over the largest observed magnitude (as OASIS scores a cascade
    against the real one); NaN for no rows."""
    s, o = np.asarray(simulated, dtype=np.float64), np.asarray(observed, dtype=np.float64)
    if not len(o):
        return math.nan
    return float(np.sqrt(np.mean((s - o) ** 2)) / max(float(np.max(np.abs(o))), 1e-12))


def per_step(scenario: Scenario, measures: Sequence[tuple[str, str]]) -> np.ndarray:
    """Run ``scenario`` once and return each ``(kind, name)`` measure after each step, as
    ``(measures, steps)``: a metric, or a measure of the run's largest cascade."""
    from populace.simulation import Simulation

    sim = Simulation(scenario).run()
    steps = scenario.steps
    metrics = sim.metrics() if any(kind == "metric" for kind, _ in measures) else None
    events = sim.events() if any(kind == "cascade" for kind, _ in measures) else None
    out = np.zeros((len(measures), steps))
    for i, (kind, name) in enumerate(measures):
        if kind == "cascade":
            out[i] = _cascade_curve(events, CASCADE_MEASURES[name], steps)
            continue
        assert metrics is not None
        if name not in metrics:
            raise ScenarioError(f"the {scenario.world.type!r} world reports no {name!r} metric to fit "
                                f"(its metrics: {', '.join(map(str, metrics.columns)) or 'none'})")
        out[i] = metrics[name].reindex(range(steps)).ffill().fillna(0.0).to_numpy(dtype=np.float64)
    return out


def _cascade_curve(events: Any, measure: str, steps: int) -> np.ndarray:
    """The largest cascade's ``measure`` after each step (0 before it starts)."""
    from populace.analysis import cascade_growth, posts_from_events
    from populace.analysis.cascades import POST_ACTIONS, SHARE_ACTIONS
    from populace.analysis.tables import parse_json_column

    frame = events.to_pandas() if hasattr(events, "to_pandas") else events
    frame = frame[frame["action"].isin([*POST_ACTIONS, *SHARE_ACTIONS])].copy()
    for column in ("args", "data"):
        frame[column] = parse_json_column(frame[column].tolist())
    growth = cascade_growth(posts_from_events(frame))
    if growth.empty:
        return np.zeros(steps)
    largest = growth.groupby("root", sort=False)["scale"].max().idxmax()
    curve = growth[growth["root"] == largest].set_index("step")[measure]
    return curve.reindex(range(steps)).ffill().fillna(0.0).to_numpy(dtype=np.float64)


__all__ = ["CASCADE_MEASURES", "TIME_UNITS", "Aggregate", "Measure", "Target", "nrmse", "per_step", "read_target"]
