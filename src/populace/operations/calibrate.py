"""Calibration: fit numeric fields of any scenario to an observed series on simulated time.

A calibration names the fields to fit with their bounds (:class:`Parameter`: a policy's
parameter, a mind's weight, the activity scale, a recommender's parameter...), the observed series
(:class:`Target`: a CSV column on simulated time, compared with a metric of the run or with a
cascade curve of :mod:`populace.analysis`), a window to fit on and a later one held out. Each
candidate runs with the same ``seeds`` seeds (common random numbers, so that two candidates differ
by their values, not by their draws); the mean of those runs is its prediction, scored by the
normalised RMSE over the fit window (:func:`nrmse`). Optuna's TPE sampler, seeded, proposes the
candidates; the study lives in a journal file in the study folder, so a calibration stopped at any
point goes on where it was, and its trials can run in worker processes or Ray tasks.

A target row at time ``t`` is compared with the state at ``t``: the metric recorded by the last
step that ended at or before ``t`` (rows before the first step ends are left out), or, with
``aggregate="sum"``, the metric summed over the steps that ended since the row before (counts per
period, e.g. weekly cases from daily ``new_cases``).

What :func:`calibrate` leaves in the study folder: ``calibration.json`` (the definition),
``study.journal`` (Optuna's), ``trials.json`` (every trial: values, errors, prediction),
``fit.csv`` and ``fit.svg`` (the best candidate against the target, fit and held-out windows) and
``calibrated.yaml`` (the scenario with the best values).
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from populace.clock import duration_text, parse_duration
from populace.errors import PopulaceError, ScenarioError
from populace.operations.targets import TIME_UNITS, Measure, Target, nrmse, per_step, read_target
from populace.scenario import Scenario, data_path, load_scenario

if TYPE_CHECKING:
    import optuna

#: candidates drawn at random before the TPE sampler models the ones that scored well
STARTUP = 8
#: the files of a study folder
DEFINITION, JOURNAL, TRIALS, FIT_TABLE, FIT_PLOT, CALIBRATED = (
    "calibration.json", "study.journal", "trials.json", "fit.csv", "fit-{measure}.svg", "calibrated.yaml")


# -- what is fitted -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    """A numeric field of the scenario, by its override path, with its bounds: ``path=LOW:HIGH``,
    then ``:log`` (sampled on a log scale) and ``:int`` (whole numbers). Bounds with a unit
    (``30m:2d``) fit a duration, written back in hours."""

    path: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    duration: bool = False

    @classmethod
    def parse(cls, spec: str) -> Parameter:
        key, sep, rest = spec.partition("=")
        low, colon, rest = rest.partition(":")
        high, _, flags = rest.partition(":")
        options = {f.strip() for f in flags.split(":") if f.strip()}
        shape = "--param PATH=LOW:HIGH[:log][:int], e.g. minds.0.params.share=0.05:0.8"
        if not (sep and colon and key.strip()) or options - {"log", "int"}:
            raise ScenarioError(f"--param {spec!r} must look like {shape}")
        try:
            lo, hi = float(low), float(high)
            duration = False
        except ValueError:
            try:  # durations: 30m:2d
                lo, hi = (parse_duration(v.strip()).total_seconds() / 3600 for v in (low, high))
                duration = True
            except ValueError:
                raise ScenarioError(f"--param {spec!r}: the bounds are not numbers (nor durations such as 30m:2d); "
                                    f"write {shape}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            raise ScenarioError(f"--param {spec!r}: LOW must be below HIGH")
        if "log" in options and lo <= 0:
            raise ScenarioError(f"--param {spec!r}: a log scale needs LOW above 0")
        if "int" in options and (duration or lo != int(lo) or hi != int(hi)):
            raise ScenarioError(f"--param {spec!r}: :int needs whole-number bounds")
        return cls(key.strip(), lo, hi, "log" in options, "int" in options, duration)

    def distribution(self) -> Any:
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(self.low, self.high, log=self.log)

    def text(self, value: float) -> str:
        """The value as a scenario writes it (a duration in hours where the bounds had units)."""
        if self.integer:
            return str(int(value))
        number = f"{value:.6g}" if not self.duration else f"{value:.4f}".rstrip("0").rstrip(".")
        return f"{number}h" if self.duration else number

    def override(self, value: float) -> str:
        return f"{self.path}={self.text(value)}"

    def spec(self) -> str:
        flags = ":log" * self.log + ":int" * self.integer
        if self.duration:
            return f"{self.path}={self.text(self.low)}:{self.text(self.high)}{flags}"
        return f"{self.path}={self.low:g}:{self.high:g}{flags}"


# -- one candidate --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One candidate's runs, in plain values that cross to a worker process or a Ray task."""

    scenario: str | dict[str, Any]
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int
    measures: tuple[tuple[str, str], ...]  # (kind, name) of each measure compared
    row_steps: tuple[int, ...]  # the last step ended by each row's time
    aggregate: str = "last"


#: a candidate's prediction: per seed, per measure, per target row
Runs = list[list[list[float]]]


def simulate(candidate: Candidate) -> Runs:
    """A candidate's prediction per seed, per measure, at each target row."""
    out = []
    rows = np.asarray(candidate.row_steps, dtype=np.int64)
    # a cascade is read from the events; metrics need none kept (the dynamics are the same)
    events = "all" if any(kind == "cascade" for kind, _ in candidate.measures) else "none"
    for seed in candidate.seeds:
        scenario = load_scenario(candidate.scenario, [*candidate.overrides, f"steps={candidate.steps}",
                                                      f"seed={seed}", f"trace.events={events}"])
        curves = per_step(scenario, candidate.measures)
        if candidate.aggregate == "sum":
            totals = np.concatenate([np.zeros((len(curves), 1)), np.cumsum(curves, axis=1)], axis=1)
            before = np.concatenate([[-1], rows[:-1]])
            out.append((totals[:, rows + 1] - totals[:, before + 1]).tolist())
        else:
            out.append(curves[:, rows].tolist())
    return out


def _simulate_or_fail(candidate: Candidate) -> tuple[Runs | None, str]:
    """:func:`simulate`, its error returned as one line (an exception might not cross processes)."""
    try:
        return simulate(candidate), ""
    except PopulaceError as exc:
        lines = str(exc).strip().splitlines()
        return None, lines[0] if lines else type(exc).__name__


# -- the study ------------------------------------------------------------------------------------
@dataclass
class Fit:
    """The best candidate: its values, its errors on the fit and held-out windows (the mean over
    the measures, and each measure's), and the table of its prediction against the target
    (``measure, time, seconds, target, simulated, low, high, window``)."""

    best: dict[str, float]
    train_error: float
    holdout_error: float
    errors: dict[str, tuple[float, float]]  # each measure's (fit, held-out) error
    table: pd.DataFrame
    trials: int
    failed: int
    folder: Path
    resumed: int = 0  # trials done before this call
    notes: list[str] = field(default_factory=list)


@dataclass
class Calibration:
    """A calibration's definition: the scenario (name, file or mapping) with its overrides, the
    parameters, the target, the windows (simulated seconds since the start), the seeds of every
    candidate and the sampler's seed."""

    scenario: str | dict[str, Any]
    parameters: list[Parameter]
    target: Target
    train: float | None = None  # the fit window ends here (default: the target's end)
    holdout: float | None = None  # the held-out window ends here (default: the target's end)
    seeds: int = 1
    seed: int = 0
    overrides: list[str] = field(default_factory=list)
    #: how the target file's time column was read, so that the calibrated scenario can name it again
    time_column: str | None = None
    time_unit: str | None = None

    def __post_init__(self) -> None:
        if not self.parameters:
            raise ScenarioError("give at least one --param PATH=LOW:HIGH to fit")
        paths = [p.path for p in self.parameters]
        if len(set(paths)) != len(paths):
            raise ScenarioError(f"--param: {next(p for p in paths if paths.count(p) > 1)!r} is given twice")
        if self.seeds < 1:
            raise ScenarioError("--seeds must be at least 1")
        base = self.load()
        self.step_seconds = base.clock.clock().step.total_seconds()
        self.base_seed = base.seed
        times = np.asarray(self.target.seconds)
        end = float(times[-1])
        self.fit_end = end if self.train is None else self.train
        self.holdout_end = (end if self.fit_end < end else self.fit_end) if self.holdout is None else self.holdout
        if self.holdout_end < self.fit_end:
            raise ScenarioError("--holdout must not end before --train")
        self.row_steps = np.floor(times / self.step_seconds + 1e-9).astype(np.int64) - 1
        used = (self.row_steps >= 0) & (times <= self.holdout_end)
        self.train_rows = used & (times <= self.fit_end)
        self.holdout_rows = used & (times > self.fit_end)
        if not self.train_rows.any():
            raise ScenarioError(f"no target row falls in the fit window (ends {_time(self.fit_end)} after the "
                                f"start; the first step ends {_time(self.step_seconds)} after it)")
        self.steps = int(self.row_steps[used].max()) + 1
        for p in self.parameters:  # each bound must make a valid scenario: one line naming the field otherwise
            for bound in (p.low, p.high):
                self.load([p.override(bound), f"steps={self.steps}"])

    def load(self, overrides: Sequence[str] = ()) -> Scenario:
        return load_scenario(self.scenario, [*self.overrides, *overrides])

    def candidate(self, values: Mapping[str, float]) -> Candidate:
        used = self.train_rows | self.holdout_rows
        overrides = (*self.overrides, *(p.override(values[p.path]) for p in self.parameters))
        return Candidate(self.scenario, overrides, tuple(self.base_seed + i for i in range(self.seeds)), self.steps,
                         tuple((m.kind, m.name) for m in self.target.measures),
                         tuple(int(s) for s in self.row_steps[used]), self.target.aggregate)

    def record(self) -> dict[str, Any]:
        """The definition as JSON (what a resumed study must match)."""
        return {"scenario": self.scenario, "overrides": list(self.overrides),
                "parameters": [asdict(p) for p in self.parameters], "target": asdict(self.target),
                "train": self.fit_end, "holdout": self.holdout_end, "seeds": self.seeds, "seed": self.seed}

    def errors(self, prediction: np.ndarray) -> dict[str, tuple[float, float]]:
        """Each measure's NRMSE on the fit and held-out windows, of a mean prediction
        ``(measures, used rows)``."""
        used = self.train_rows | self.holdout_rows
        train = self.train_rows[used]
        out = {}
        for measure, predicted in zip(self.target.measures, prediction, strict=True):
            observed = np.asarray(measure.values)[used]
            out[measure.name] = (nrmse(predicted[train], observed[train]), nrmse(predicted[~train], observed[~train]))
        return out

    # -- running --------------------------------------------------------------------------------
    def run(self, folder: str | Path, trials: int, *, jobs: int = 1, executor: str = "local",
            address: str | None = None, progress: Callable[[int, int, str], None] | None = None) -> Fit:
        """Run the study in ``folder`` until it holds ``trials`` finished trials (those of an earlier
        call count), ``jobs`` at a time; write its outputs; return the best fit."""
        folder = Path(folder)
        study, storage = self._study(folder, jobs)
        from optuna.trial import TrialState

        for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            # begun by a call that was stopped: not a result, and not counted against the budget
            storage.set_trial_user_attr(stale._trial_id, "interrupted", True)
            storage.set_trial_state_values(stale._trial_id, TrialState.FAIL)
        done = sum(1 for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
                   if not t.user_attrs.get("interrupted"))
        resumed = done
        distributions = {p.path: p.distribution() for p in self.parameters}
        pending: dict[Any, Any] = {}  # a running candidate's handle -> its trial
        with _pool(executor, max(1, jobs), address) as (submit, wait):
            while done + len(pending) < trials or pending:
                while done + len(pending) < trials and len(pending) < max(1, jobs):
                    trial = study.ask(distributions)
                    trial.set_user_attr("started", time.time())
                    pending[submit(self.candidate(trial.params))] = trial
                handle, (runs, error) = wait(list(pending))
                self._tell(study, pending.pop(handle), runs, error)
                done += 1
                if progress is not None:
                    progress(done, trials, self._best_note(study))
        return self.write(folder, study, resumed)

    def _study(self, folder: Path, jobs: int) -> tuple[optuna.Study, Any]:
        import optuna

        folder.mkdir(parents=True, exist_ok=True)
        record = self.record()
        definition = folder / DEFINITION
        if definition.is_file():
            before = json.loads(definition.read_text(encoding="utf-8"))
            changed = [key for key in record if json.loads(json.dumps(record[key])) != before.get(key)]
            if changed:
                raise ScenarioError(f"{folder} holds a calibration with other settings ({', '.join(changed)}); "
                                    "give another --study folder, or the same settings to resume it")
        else:
            definition.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        storage = journal(folder)
        sampler = optuna.samplers.TPESampler(seed=self.seed, multivariate=True, constant_liar=jobs > 1,
                                             n_startup_trials=STARTUP)
        study = optuna.create_study(study_name="calibration", storage=storage, sampler=sampler,
                                    direction="minimize", load_if_exists=True)
        return study, storage

    def _tell(self, study: optuna.Study, trial: Any, runs: Runs | None, error: str) -> None:
        from optuna.trial import TrialState

        trial.set_user_attr("seconds", round(time.time() - float(trial.user_attrs.get("started", time.time())), 3))
        if runs is None:
            trial.set_user_attr("error", error)
            study.tell(trial, state=TrialState.FAIL)
            return
        prediction = np.asarray(runs, dtype=np.float64)  # (seeds, measures, rows)
        mean = prediction.mean(axis=0)
        errors = self.errors(mean)
        holdout = _mean(e for _, e in errors.values())
        names = [m.name for m in self.target.measures]
        trial.set_user_attr("errors", {k: [_json_number(a), _json_number(b)] for k, (a, b) in errors.items()})
        trial.set_user_attr("holdout_nrmse", _json_number(holdout))
        for key, values in (("prediction", mean), ("low", prediction.min(axis=0)), ("high", prediction.max(axis=0))):
            trial.set_user_attr(key, dict(zip(names, values.round(6).tolist(), strict=True)))
        study.tell(trial, _mean(e for e, _ in errors.values()))

    @staticmethod
    def _best_note(study: optuna.Study) -> str:
        try:
            return f"best NRMSE {study.best_value:.4f}"
        except ValueError:  # no trial completed yet
            return ""

    # -- outputs --------------------------------------------------------------------------------
    def write(self, folder: Path, study: optuna.Study, resumed: int = 0) -> Fit:
        """Write every trial, the best fit's table, plot and calibrated scenario; return the fit."""
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        listed = [{"number": t.number, "state": t.state.name.lower(), "params": t.params,
                   "train_nrmse": t.value, "holdout_nrmse": t.user_attrs.get("holdout_nrmse"),
                   "errors": t.user_attrs.get("errors"), "seconds": t.user_attrs.get("seconds"),
                   "error": "interrupted" if t.user_attrs.get("interrupted") else t.user_attrs.get("error"),
                   "prediction": t.user_attrs.get("prediction")} for t in trials]
        (folder / TRIALS).write_text(json.dumps(listed, indent=1) + "\n", encoding="utf-8")
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        failed = [t for t in trials if t.state == TrialState.FAIL and not t.user_attrs.get("interrupted")]
        if not complete:
            reason = failed[-1].user_attrs.get("error") if failed else "no trial ran"
            raise PopulaceError(f"calibrate: no trial finished ({len(failed)} failed; the last: {reason})")
        best = study.best_trial
        used = self.train_rows | self.holdout_rows
        frames = [pd.DataFrame({
            "measure": m.name, "time": np.asarray(self.target.labels)[used],
            "seconds": np.asarray(self.target.seconds)[used], "target": np.asarray(m.values)[used],
            **{key: best.user_attrs[key][m.name] for key in ("prediction", "low", "high")},
            "window": np.where(self.train_rows[used], "fit", "held-out"),
        }).rename(columns={"prediction": "simulated"}) for m in self.target.measures]
        table = pd.concat(frames, ignore_index=True)
        table.to_csv(folder / FIT_TABLE, index=False)
        errors = {k: (_number(a), _number(b)) for k, (a, b) in best.user_attrs["errors"].items()}
        for measure in self.target.measures:
            plot = folder / FIT_PLOT.format(measure=measure.name)
            plot.write_text(self._plot(table[table["measure"] == measure.name], measure, errors[measure.name]),
                            encoding="utf-8")
        values = {p.path: float(best.params[p.path]) for p in self.parameters}
        self.write_scenario(folder / CALIBRATED, values, errors)
        left_out = int(np.count_nonzero(self.row_steps < 0))
        notes = [f"{left_out} target row(s) before the first step ends are left out"] if left_out else []
        return Fit(values, _number(best.value), _number(best.user_attrs.get("holdout_nrmse")), errors, table,
                   len(complete), len(failed), folder, resumed, notes)

    def _plot(self, table: pd.DataFrame, measure: Measure, errors: tuple[float, float]) -> str:
        from populace.report.plots import band_svg

        unit, size = _unit(float(table["seconds"].max()))
        x = table["seconds"].to_numpy() / size
        nan = np.full(len(x), np.nan)
        bands = {"target": (x, table["target"], nan, nan),
                 f"calibrated (mean of {self.seeds} seed{'s' * (self.seeds > 1)}, range)":
                     (x, table["simulated"], table["low"], table["high"])}
        title = f"{measure.describe}: NRMSE {errors[0]:.3f} on the fit window"
        if not math.isnan(errors[1]):
            title += f", {errors[1]:.3f} held out"
        mark = self.fit_end / size if (table["window"] == "held-out").any() else None
        return band_svg(bands, title, xlabel=f"simulated {unit} since the start", mark=mark)

    def write_scenario(self, path: Path, values: Mapping[str, float],
                       errors: Mapping[str, tuple[float, float]]) -> None:
        """The scenario with the fitted values, its description saying what was fitted and how well."""
        scenario = self.load([p.override(values[p.path]) for p in self.parameters])
        fitted = ", ".join(f"{p.path}={p.text(values[p.path])}" for p in self.parameters)
        fit = ", ".join(f"{name} {a:.3f}" for name, (a, _) in errors.items())
        note = (f"Calibrated: {fitted}, fitted to {self.target.describe} of {Path(self.target.source).name} over "
                f"the first {_time(self.fit_end)} (NRMSE {fit}")
        if any(not math.isnan(b) for _, b in errors.values()):
            held = ", ".join(f"{name} {b:.3f}" for name, (_, b) in errors.items())
            note += f"; held out to {_time(self.holdout_end)}: {held}"
        note += ")."
        data = json.loads(scenario.model_dump_json())
        data["description"] = f"{scenario.description.strip()} {note}".strip()
        if self.target.aggregate == "last" and all(m.kind == "metric" for m in self.target.measures):
            # the report of a run of the calibrated scenario plots and scores it against what was fitted
            source = Path(self.target.source).resolve()
            data["observed"] = {
                "file": os.path.relpath(source, path.parent.resolve()),
                "metrics": {m.name: m.column for m in self.target.measures},
                "time_column": self.time_column, "time_unit": self.time_unit,
                "fitted": duration_text(timedelta(seconds=self.fit_end)),
            }
        file = scenario.population.file
        if file and not Path(file).is_absolute():  # relative paths resolve from the new file's folder
            resolved = scenario.resolve(file).resolve()
            if resolved.exists() and data_path(file, path.parent).resolve() != resolved:
                data["population"]["file"] = os.path.relpath(resolved, path.parent.resolve())
        import yaml

        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        path.write_text(yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _mean(values: Any) -> float:
    """The mean of the finite values (NaN where there are none: no held-out rows)."""
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def journal(folder: str | Path) -> Any:
    """The Optuna storage of a study folder: its journal file (safe for several processes)."""
    from optuna.storages import JournalStorage

    try:
        from optuna.storages.journal import JournalFileBackend
    except ImportError:  # optuna 3
        from optuna.storages import JournalFileStorage as JournalFileBackend
    return JournalStorage(JournalFileBackend(str(Path(folder) / JOURNAL)))


def _unit(seconds: float) -> tuple[str, float]:
    for unit, size, span in (("seconds", 1.0, 300.0), ("minutes", 60.0, 3 * 3600.0), ("hours", 3600.0, 4 * 86400.0),
                             ("days", 86400.0, 3 * 365 * 86400.0)):
        if seconds <= span:
            return unit, size
    return "weeks", 7 * 86400.0


def _time(seconds: float) -> str:
    unit, size = _unit(seconds)
    return f"{seconds / size:g} {unit}"


Outcome = tuple[Runs | None, str]  # a candidate's runs, or why it failed
Submit = Callable[[Candidate], Any]
Wait = Callable[[list[Any]], tuple[Any, Outcome]]


def _run_here(candidate: Candidate) -> Future[Outcome]:
    """A candidate run in this process, as a finished future (one at a time needs no worker)."""
    future: Future[Outcome] = Future()
    future.set_result(_simulate_or_fail(candidate))
    return future


def _first_done(handles: list[Any]) -> tuple[Any, Outcome]:
    """The first of the futures to finish (the earliest submitted of those finished)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    finished, _ = wait(handles, return_when=FIRST_COMPLETED)
    handle = next(h for h in handles if h in finished)
    try:
        return handle, handle.result()
    except Exception as exc:  # the worker died (a crash in native code, a kill)
        return handle, (None, f"its worker process died ({type(exc).__name__})")


class _pool:
    """``with _pool(executor, workers, address) as (submit, wait)``: where candidates run."""

    def __init__(self, executor: str, workers: int, address: str | None) -> None:
        if executor not in ("local", "ray"):
            raise ScenarioError(f"--executor {executor!r}: expected local or ray")
        self.executor, self.workers, self.address = executor, workers, address
        self._close: Callable[[], None] = lambda: None

    def __enter__(self) -> tuple[Submit, Wait]:
        if self.executor == "ray":
            return self._ray()
        if self.workers == 1:
            return _run_here, _first_done
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from populace.operations.jobs import _follow_parent

        # spawned, not forked, as an experiment's runs are: this process may hold threads mid-flight
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_follow_parent, initargs=(os.getpid(),))
        self._close = lambda: pool.shutdown(cancel_futures=True)
        return lambda candidate: pool.submit(_simulate_or_fail, candidate), _first_done

    def _ray(self) -> tuple[Submit, Wait]:
        from populace.execution.raycluster import _ray

        ray = _ray()
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, num_cpus=self.workers if self.address is None else None,
                         include_dashboard=False, log_to_driver=False, configure_logging=False)
            except Exception as exc:  # ConnectionError and Ray's own errors for a bad address
                raise PopulaceError(f"cannot reach the Ray cluster at {self.address or 'local'}: {exc}") from None
            self._close = ray.shutdown
        task = ray.remote(num_cpus=1)(_simulate_or_fail)

        def wait(handles: list[Any]) -> tuple[Any, Outcome]:
            (ready,), _ = ray.wait(handles, num_returns=1)
            try:
                return ready, ray.get(ready)
            except Exception as exc:  # the task's worker died
                return ready, (None, f"its Ray task died ({type(exc).__name__})")

        return task.remote, wait

    def __exit__(self, *exc: object) -> None:
        self._close()


def calibrate(scenario: str | Path | Mapping[str, Any], parameters: Sequence[str | Parameter], target: str | Path,
              folder: str | Path, *, metric: str | Sequence[str] = (), cascade: str | Sequence[str] = (),
              column: str | None = None,
              time_column: str | None = None, time_unit: str | None = None, aggregate: str = "last",
              train: str | float | None = None, holdout: str | float | None = None, seeds: int = 1,
              trials: int = 30, seed: int = 0, jobs: int = 1, executor: str = "local", address: str | None = None,
              overrides: Sequence[str] = (), progress: Callable[[int, int, str], None] | None = None) -> Fit:
    """Fit ``parameters`` (``path=LOW:HIGH[:log][:int]``) of ``scenario`` to the series in the CSV
    ``target``: one or more metrics (``NAME`` or ``NAME=COLUMN``) and cascade measures (see
    :func:`read_target`), the mean of their errors minimised; in the study folder ``folder``.
    ``train`` and ``holdout`` end the windows (durations such as ``40m``, or values of the time
    column)."""
    if aggregate not in ("last", "sum"):
        raise ScenarioError(f"--aggregate {aggregate!r}: expected last or sum")
    source: str | dict[str, Any] = dict(scenario) if isinstance(scenario, Mapping) else str(scenario)
    start = load_scenario(source, overrides).clock.start
    series = read_target(target, metrics=[metric] if isinstance(metric, str) else metric,
                         cascades=[cascade] if isinstance(cascade, str) else cascade, column=column,
                         time_column=time_column, time_unit=time_unit, start=start,
                         aggregate="sum" if aggregate == "sum" else "last")
    params = [p if isinstance(p, Parameter) else Parameter.parse(p) for p in parameters]
    unit = _row_unit(series, time_unit, time_column, target)
    calibration = Calibration(source, params, series, _until(train, unit, "--train"),
                              _until(holdout, unit, "--holdout"), seeds, seed, list(overrides), time_column,
                              time_unit)
    if trials < 1:
        raise ScenarioError("--trials must be at least 1")
    _check_measure(calibration)
    return calibration.run(folder, trials, jobs=jobs, executor=executor, address=address, progress=progress)


def _row_unit(series: Target, unit: str | None, column: str | None, path: str | Path) -> float | None:
    """Seconds per unit of the time column, where it holds numbers (a bare --train counts in it)."""
    if unit:
        return parse_duration(unit).total_seconds()
    if column is None:
        column = str(pd.read_csv(path, nrows=0).columns[0])
    implied = TIME_UNITS.get(column.strip().lower())
    return parse_duration(implied).total_seconds() if implied else None


def _until(value: str | float | None, unit: float | None, option: str) -> float | None:
    """A window's end in seconds since the start: a duration (``40m``) or a number in the time column's unit."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        if unit is None:
            raise ScenarioError(f"{option} {value!r}: give a duration such as 40m (the time column has no unit)")
        return number * unit
    try:
        return parse_duration(str(value)).total_seconds()
    except ValueError:
        raise ScenarioError(f"{option} {value!r}: expected a duration from the start (e.g. 40m, 6h, 2d) or a "
                            "value of the time column") from None


def _check_measure(calibration: Calibration) -> None:
    """Run one step at the lower bounds, so that a metric the world does not report is one line now."""
    lows = {p.path: p.low for p in calibration.parameters}
    first = calibration.candidate(lows)
    events = "all" if any(kind == "cascade" for kind, _ in first.measures) else "none"
    per_step(load_scenario(first.scenario, [*first.overrides, "steps=1", f"trace.events={events}"]), first.measures)


__all__ = ["Calibration", "Candidate", "Fit", "Parameter", "calibrate", "journal", "simulate"]
