"""Comparisons: the metrics of several groups of runs (single runs, an experiment's cells, a fork
ensemble's base and fork) side by side, with their spread over seeds and their difference to a
baseline group.

Each metric is one chart over simulated time: a line per group (the mean over its runs) in a band
(the 95 % t-interval of that mean). At the compared step (each run's last by default), every group
is tested against the baseline with Welch's t-test: the difference of the means and its 95 %
interval. The HTML is one self-contained file, like the run report (same styles and plots).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from populace.analysis.ensembles import at_step, difference_series, differences, metric_series, summarise
from populace.errors import PopulaceError
from populace.outputs import write_output
from populace.report.plots import TimeAxis, band_svg
from populace.runs import Run

COMPARE_FILE = "compare.html"


@dataclass(frozen=True)
class Group:
    """Runs taken together (the seeds of one setting), under one label; ``note`` says what they are."""

    label: str
    runs: tuple[Path, ...]
    note: str = ""


def long_table(runs: Sequence[Path]) -> pd.DataFrame:
    """The metrics of ``runs`` in long form: ``run, seed, step, time, metric, value`` (a fork drawn
    afresh after its fork step has that draw's number as its seed)."""
    frames = []
    for path in runs:
        manifest = Run(path).manifest()
        seed = manifest.get("reseed") if manifest.get("reseed") is not None else manifest.get("seed")
        frame = metric_series(path)
        frame.insert(0, "run", path.name)
        frame.insert(1, "seed", int(seed) if seed is not None else -1)
        frames.append(frame)
    if not frames:
        return pd.DataFrame({"run": pd.Series(dtype=object), "seed": pd.Series(dtype="int64"),
                             "step": pd.Series(dtype="int64"), "time": pd.Series(dtype="datetime64[ms]"),
                             "metric": pd.Series(dtype=object), "value": pd.Series(dtype="float64")})
    return pd.concat(frames, ignore_index=True)


@dataclass
class Comparison:
    """Groups of runs measured side by side (see the module's notes)."""

    title: str
    groups: list[Group]
    table: pd.DataFrame  # group, run, seed, step, time, metric, value
    baseline: str | None = None
    step: int | None = None
    mark: int | None = None  # a step to mark on every chart (a fork step)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # group, step, time, metric, n, mean, ...
    finals: pd.DataFrame = field(default_factory=pd.DataFrame)  # group, metric, n, mean, ... at the compared step
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)  # group vs baseline per metric
    over_time: pd.DataFrame = field(default_factory=pd.DataFrame)  # the same at every step
    constant: dict[str, float] = field(default_factory=dict)  # metrics that never change, in any run

    def __post_init__(self) -> None:
        labels = [g.label for g in self.groups]
        if len(set(labels)) != len(labels):
            raise PopulaceError(f"two groups share a label: {', '.join(labels)}")
        if self.baseline is not None and self.baseline not in labels:
            raise PopulaceError(f"--baseline {self.baseline!r}: not one of {', '.join(labels)}")
        t = self.table
        self.constant = _constant(t)
        self.summary = summarise(t, ["group", "step", "time", "metric"])
        chosen = at_step(t, self.step)
        self.finals = summarise(chosen, ["group", "metric"])
        if self.baseline is not None:
            self.differences = differences(t, "group", self.baseline, self.step)
            self.over_time = difference_series(self.summary, "group", self.baseline)
        order = {label: i for i, label in enumerate(labels)}
        for name in ("summary", "finals"):
            frame = getattr(self, name)
            if len(frame):
                setattr(self, name, frame.sort_values(
                    "group", key=lambda s: s.map(order), kind="stable").reset_index(drop=True))

    @property
    def metrics(self) -> list[str]:
        """The metrics that change somewhere, in the order first recorded."""
        return [m for m in pd.unique(self.table["metric"]) if m not in self.constant]


def compare(groups: Sequence[Group], baseline: str | None = None, step: int | None = None,
            title: str = "comparison", mark: int | None = None) -> Comparison:
    """Read every group's runs and measure them side by side; ``baseline``: the label the others are
    tested against (default: the first group, where there are several); ``step``: the step compared
    (default: each run's last)."""
    if not groups:
        raise PopulaceError("give at least one run or experiment to compare")
    frames = []
    for group in groups:
        frame = long_table(group.runs)
        frame.insert(0, "group", group.label)
        frames.append(frame)
    if baseline is None and len(groups) > 1:
        baseline = groups[0].label
    return Comparison(title, list(groups), pd.concat(frames, ignore_index=True), baseline, step, mark)


def _constant(table: pd.DataFrame) -> dict[str, float]:
    """Metrics whose value is the same at every step of every run (or never a number)."""
    if table.empty:
        return {}
    spread = table.groupby("metric", sort=False)["value"].agg(["min", "max"])
    same = spread[(spread["min"] == spread["max"]) | spread["min"].isna()]
    return {str(m): float(v) for m, v in same["min"].items()}


def _time_axis(table: pd.DataFrame) -> tuple[TimeAxis | None, bool]:
    """The x-axis of a comparison: simulated time from the runs' steps and times, and whether every
    run shares one clock (then the steps can be numbered on top)."""
    axes = {}
    for run, rows in table.drop_duplicates(["run", "step"]).groupby("run", sort=False):
        axes[run] = TimeAxis.of(rows["step"].to_numpy(), rows["time"].to_numpy())
    known = [a for a in axes.values() if a is not None]
    if not known:
        return None, False
    return known[0], all(a == known[0] for a in axes.values())


def _fmt(value: float, signed: bool = False) -> str:
    """A value to three significant digits (whole numbers from 100 on in full)."""
    if value is None or not np.isfinite(value):
        return "–"
    sign = "+" if signed else ""
    return f"{value:{sign},.0f}" if float(value).is_integer() and abs(value) >= 100 else f"{value:{sign}.3g}"


def _interval(low: float, high: float) -> str:
    return "" if not (np.isfinite(low) and np.isfinite(high)) else f"[{low:.3g}, {high:.3g}]"


def rows(comparison: Comparison) -> list[dict[str, str]]:
    """The comparison as table rows (metric, group, n, mean, its interval, difference to the baseline,
    its interval, p), for the terminal and the HTML page."""
    diffs = {(r["group"], r["metric"]): r for r in comparison.differences.to_dict("records")} \
        if len(comparison.differences) else {}
    out = []
    for metric in comparison.metrics:
        for r in comparison.finals[comparison.finals["metric"] == metric].to_dict("records"):
            d = diffs.get((r["group"], metric))
            row = {"metric": metric, "group": str(r["group"]), "n": str(int(r["n"])), "mean": _fmt(r["mean"]),
                   "interval": _interval(r["ci_low"], r["ci_high"]), "difference": "", "difference interval": "",
                   "p": "", "significant": ""}
            if r["group"] == comparison.baseline:
                row["difference"] = "baseline"
            elif d is not None:
                excludes = bool(d["ci_low"] > 0 or d["ci_high"] < 0)
                row.update({"difference": _fmt(d["difference"], signed=True),
                            "difference interval": _interval(d["ci_low"], d["ci_high"]),
                            "p": "–" if not np.isfinite(d["p"]) else f"{d['p']:.3g}",
                            "significant": "yes" if excludes else "no"})
            out.append(row)
    return out


def charts(comparison: Comparison) -> list[dict[str, str]]:
    """Per changing metric, a chart with a line per group (its 95 % interval shaded) and, where there
    is a baseline, a chart of each group's difference to it at every step with Welch's interval."""
    axis, shared = _time_axis(comparison.table)
    shown = axis if (axis is None or shared) else TimeAxis(axis.start, axis.step_seconds, axis.unit,
                                                           axis.unit_seconds, steps=False)

    def x_of(rows: pd.DataFrame) -> np.ndarray:
        if axis is not None and not shared and "time" in rows:  # clocks differ: each group by its own time
            times = rows["time"].to_numpy(dtype="datetime64[ms]")
            return np.asarray(((times - axis.start) / np.timedelta64(1, "ms")) / 1000.0 / axis.step_seconds)
        return rows["step"].to_numpy(dtype=float)

    slots = {g.label: i for i, g in enumerate(comparison.groups)}  # a group looks the same on every chart
    plots = []
    for metric in comparison.metrics:
        rows_ = comparison.summary[comparison.summary["metric"] == metric]
        bands = {g.label: (x_of(r), r["mean"].to_numpy(), r["ci_low"].to_numpy(), r["ci_high"].to_numpy())
                 for g in comparison.groups if len(r := rows_[rows_["group"] == g.label])}
        plots.append({"name": metric, "caption": metric,
                      "svg": band_svg(bands, metric, mark=comparison.mark, time=shown, slots=slots)})
        if comparison.baseline is None or comparison.over_time.empty or not shared:
            continue
        diffs = comparison.over_time[comparison.over_time["metric"] == metric]
        bands = {g.label: (r["step"].to_numpy(dtype=float), r["difference"].to_numpy(), r["ci_low"].to_numpy(),
                           r["ci_high"].to_numpy())
                 for g in comparison.groups if len(r := diffs[diffs["group"] == g.label])}
        if bands:
            plots.append({"name": metric, "caption": f"{metric}: difference to {comparison.baseline}",
                          "svg": band_svg(bands, f"{metric} − {comparison.baseline}", mark=comparison.mark,
                                          time=shown, level=0.0, slots=slots)})
    return plots


def render(comparison: Comparison) -> str:
    """The comparison as one self-contained HTML page."""
    from populace.report.html import environment

    chosen = "each run's last step" if comparison.step is None else f"step {comparison.step}"
    return environment().get_template("compare.html.j2").render(
        title=comparison.title, groups=[{"label": g.label, "runs": len(g.runs), "note": g.note,
                                         "seeds": ", ".join(str(s) for s in _seeds(comparison, g.label))}
                                        for g in comparison.groups],
        baseline=comparison.baseline, chosen=chosen, rows=rows(comparison), plots=charts(comparison),
        constant={k: _fmt(v) for k, v in comparison.constant.items()},
    )


def _seeds(comparison: Comparison, label: str) -> list[int]:
    table = comparison.table
    return sorted(set(table.loc[table["group"] == label, "seed"].astype(int)))


def write(comparison: Comparison, out: Path) -> Path:
    """Write the comparison's page to ``out``."""
    return write_output(out, render(comparison))
