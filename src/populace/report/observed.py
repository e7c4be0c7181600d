"""The report's comparison of a run with the observed series its scenario names (``observed:``):
per metric, the error over the rows a calibration fitted and over the rows it held out, and a plot
of both curves on simulated time.

A row at simulated time ``t`` after the start is compared with the state after step
``floor(t / step) - 1`` (the step that ends at ``t``), as ``populace calibrate`` compares them; rows
before the first step ends, or after the run's last step, are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from populace.clock import duration_text
from populace.errors import PopulaceError
from populace.operations.targets import nrmse, read_target
from populace.report.plots import TimeAxis, line_svg
from populace.runs import Run


def observed_section(run: Run, metrics: pd.DataFrame, axis: TimeAxis | None) -> dict[str, Any] | None:
    """The section's rows and plots, or None where the scenario names no observed series; a file
    that cannot be read is said in the section, not raised."""
    try:
        scenario = run.scenario()
    except PopulaceError:
        return None
    spec = scenario.observed
    if spec is None:
        return None
    clock = scenario.clock.clock()
    step = clock.step.total_seconds()
    fitted = spec.fitted.total_seconds() if spec.fitted is not None else None
    try:
        target = read_target(scenario.resolve(spec.file), metrics=[f"{m}={c}" for m, c in spec.metrics.items()],
                             time_column=spec.time_column, time_unit=spec.time_unit, start=clock.start)
    except PopulaceError as exc:
        return {"file": spec.file, "error": str(exc), "rows": []}
    seconds = np.asarray(target.seconds)
    row_step = np.floor(seconds / step + 1e-9).astype(np.int64) - 1
    rows: list[dict[str, Any]] = []
    for measure in target.measures:
        if measure.name not in metrics:
            rows.append({"metric": measure.name, "column": measure.column, "note": "the run has no such metric"})
            continue
        series = metrics[measure.name]
        steps = series.index.to_numpy(dtype=np.int64)
        usable = (row_step >= 0) & (row_step <= (steps.max() if len(steps) else -1))
        observed = np.asarray(measure.values)[usable]
        simulated = series.reindex(row_step[usable]).ffill().to_numpy(dtype=np.float64)
        train = np.ones(len(observed), bool) if fitted is None else seconds[usable] <= fitted + 1e-9
        rows.append({
            "metric": measure.name, "column": measure.column,
            "fitted_rows": int(train.sum()), "fitted_nrmse": _score(simulated[train], observed[train]),
            "held_rows": int((~train).sum()), "held_nrmse": _score(simulated[~train], observed[~train]),
            "svg": line_svg({"this run": (steps, series.to_numpy()), f"observed ({measure.column})":
                             (row_step[usable], observed)}, measure.name, time=axis,
                            mark=None if fitted is None else fitted / step - 1),
        })
    return {"file": spec.file, "fitted": None if spec.fitted is None else duration_text(spec.fitted), "rows": rows,
            "error": None}


def _score(simulated: np.ndarray, observed: np.ndarray) -> float | None:
    return nrmse(simulated, observed) if len(observed) else None
