"""Experiments: a scenario crossed with seeds and a parameter grid, every run a normal run directory,
run in parallel (local processes or Ray tasks) and resumable, with its results over seeds as tables.

An experiment's folder, ``<runs>/<name>/``::

    experiment.json      what was asked (the definition), its cells and runs, its status
    c0-seed3/ ...        one run directory per cell and seed (``seed3`` without a grid)
    results.parquet      run, cell, <grid keys>, seed, step, time, metric, value
    summary.parquet      per cell, step and metric: n, mean, std and the 95 % t-interval over seeds
    comparison.parquet   per cell and metric: Welch's test against the baseline cell at a step
    report.html          one chart per metric, a band over seeds per cell

Running an experiment again (same name and definition) skips its finished runs and resumes the
others from their last checkpoint, so a killed experiment loses at most each run's steps since its
last checkpoint. A fork ensemble (:meth:`Experiment.fork`) is an experiment too: the parent's
continuation (``base``) and the changed branch (``fork``), each over seeds drawn afresh after the
fork step; the two cells use different seeds, so they are independent samples, as Welch's test
assumes.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from populace.analysis.ensembles import differences, summarise
from populace.errors import PopulaceError, RunError, ScenarioError
from populace.operations.compare import Comparison, Group, long_table, write
from populace.operations.jobs import SKIPPED, Job, execute, finished
from populace.runs import Run, default_runs_dir
from populace.scenario import load_scenario

MANIFEST_FILE = "experiment.json"
RESULTS, SUMMARY, COMPARISON, REPORT = "results.parquet", "summary.parquet", "comparison.parquet", "report.html"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.=-]*$"

#: ``progress(finished, total, note)``: called once before the first run and after every run
Progress = Callable[[int, int, str], None]


class CompareSpec(BaseModel):
    """Which cell the others are tested against, and at which step."""

    model_config = ConfigDict(extra="forbid")
    baseline: str | None = Field(None, description="a cell's label (e.g. 'herd=0') or its key=value parameters")
    step: int | None = Field(None, ge=0, description="the step whose values are compared (default: each run's last)")


class ExperimentSpec(BaseModel):
    """An experiment file: a scenario with overrides, seeds, a parameter grid and how to run it."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, pattern=NAME, description="the experiment's folder under the runs directory "
                                                             "(default: the file's name)")
    scenario: str = Field(description="built-in scenario name, or a YAML file relative to this file")
    set: list[str] = Field(default_factory=list, description="overrides for every run: key.path=value")
    seeds: int | list[int] = Field(5, description="N (the scenario's seed and the N-1 after it) or a list of seeds")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="key.path: [values]; every combination "
                                                                         "is a cell")
    executor: Literal["local", "ray"] = Field("local", description="local processes, or Ray tasks")
    jobs: int | None = Field(None, ge=1, description="runs at a time (default: the CPU cores)")
    address: str | None = Field(None, description="Ray cluster address (default: start a local one)")
    compare: CompareSpec = Field(default_factory=CompareSpec)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int) and value < 1:
            raise ValueError("give at least 1 seed")
        if isinstance(value, list) and (not value or len(set(value)) != len(value) or min(value) < 0):
            raise ValueError("give a list of distinct seeds of at least 0")
        return value

    @field_validator("grid")
    @classmethod
    def _grid(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not key or "=" in key:
                raise ValueError(f"{key!r} is not a key.path")
            if not values:
                raise ValueError(f"{key}: give at least one value")
        return value


@dataclass(frozen=True)
class Cell:
    """One combination of the grid's values (or one side of a fork ensemble), run over its seeds."""

    label: str
    params: dict[str, Any]
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]
    interventions: tuple[str, ...] = ()
    prefix: str = ""

    def run_id(self, seed: int) -> str:
        return f"{self.prefix}seed{seed}"


@dataclass
class Results:
    """An experiment's tables (see the module's notes) and where they are."""

    path: Path
    results: pd.DataFrame
    summary: pd.DataFrame
    comparison: pd.DataFrame
    report: Path | None = None
    outcomes: dict[str, str] = field(default_factory=dict)  # run id -> what happened to it in this call

    @property
    def failed(self) -> dict[str, str]:
        """The runs that failed in this call, with the reason (running the experiment again resumes them)."""
        return {run: outcome.removeprefix("failed: ") for run, outcome in self.outcomes.items()
                if outcome.startswith("failed")}


def _text(value: Any) -> str:
    """A grid value as a label shows it."""
    return value if isinstance(value, str) else json.dumps(value)


def _short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each key's last part (``minds.0.params.herd`` -> ``herd``) where that names it alone."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


class Experiment:
    """A scenario crossed with seeds and a parameter grid; :meth:`run` runs (or resumes) it and
    returns its :class:`Results`.

    ``seeds``: N (the scenario's seed and the N-1 after it) or a list; ``grid``: ``key.path: [values]``,
    one cell per combination; ``overrides``: ``key.path=value`` for every run; ``name``: the folder
    under ``runs_dir`` (default: the scenario's name and a digest of the definition, so the same
    experiment asked again resumes); ``executor``: ``local`` (processes) or ``ray`` (tasks), ``jobs``
    runs at a time (default: the CPU cores); ``baseline``: the cell the others are compared with
    (a label such as ``herd=0``), at ``step`` (default: each run's last).
    """

    def __init__(self, scenario: str | Path, *, seeds: int | Sequence[int] = 5,
                 grid: Mapping[str, Sequence[Any]] | None = None, overrides: Sequence[str] = (),
                 name: str | None = None, runs_dir: Path | str | None = None, executor: str = "local",
                 jobs: int | None = None, address: str | None = None, baseline: str | None = None,
                 step: int | None = None) -> None:
        source = str(Path(scenario).resolve()) if Path(scenario).is_file() else str(scenario)
        grid = {str(k): list(v) for k, v in (grid or {}).items()}
        spec = _spec({"scenario": source, "set": list(overrides), "grid": grid,
                      "seeds": seeds if isinstance(seeds, int) else list(seeds)}, "experiment")
        base = load_scenario(source, spec.set)
        seed_list = list(range(base.seed, base.seed + spec.seeds)) if isinstance(spec.seeds, int) else spec.seeds
        definition = {"kind": "sweep", "scenario": source, "overrides": spec.set, "seeds": seed_list,
                      "grid": spec.grid}
        self._setup(definition, name or f"{base.name}-{_digest(definition)}", runs_dir, executor, jobs, address,
                    baseline, step)
        self.warnings += base.warnings

    def _setup(self, definition: dict[str, Any], name: str, runs_dir: Path | str | None, executor: str,
               jobs: int | None, address: str | None, baseline: str | None, step: int | None) -> None:
        if executor not in ("local", "ray"):
            raise PopulaceError(f"executor {executor!r}: an experiment runs on local or ray")
        if jobs is not None and jobs < 1:
            raise PopulaceError(f"--jobs {jobs}: give at least 1")
        if address is not None and executor != "ray":
            raise PopulaceError("--address is for --executor ray")
        self.definition = definition
        self.name = name
        self.path = Path(runs_dir if runs_dir is not None else default_runs_dir()) / name
        self.executor, self.jobs, self.address = executor, jobs, address
        self.cells = _cells(definition)
        self.baseline = self._baseline(baseline)
        self.step = step
        self.warnings: list[str] = []

    # -- other ways to make one ------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: Path | str, runs_dir: Path | str | None = None, **changes: Any) -> Experiment:
        """An experiment file (see :class:`ExperimentSpec`); ``changes`` override its fields (e.g.
        ``jobs=2``, ``executor="ray"``, ``baseline=...``)."""
        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScenarioError(f"experiment file {str(file)!r} cannot be read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ScenarioError(f"{file.name}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
        if not isinstance(data, dict):
            raise ScenarioError(f"{file.name}: an experiment must be a mapping of fields")
        spec = _spec(data, file.name)
        scenario = spec.scenario
        local = (file.resolve().parent / scenario)
        if local.is_file():
            scenario = str(local)
        options: dict[str, Any] = {"seeds": spec.seeds, "grid": spec.grid, "overrides": spec.set,
                                   "name": spec.name or file.stem, "executor": spec.executor, "jobs": spec.jobs,
                                   "address": spec.address, "baseline": spec.compare.baseline,
                                   "step": spec.compare.step}
        options.update({k: v for k, v in changes.items() if v is not None})
        return cls(scenario, runs_dir=runs_dir, **options)

    @classmethod
    def fork(cls, parent: Path | str, at: int, seeds: int, overrides: Sequence[str] = (),
             interventions: Sequence[str] = (), *, runs_dir: Path | str | None = None, name: str | None = None,
             executor: str = "local", jobs: int | None = None, address: str | None = None,
             step: int | None = None) -> Experiment:
        """A fork ensemble of ``parent`` at step ``at``: ``seeds`` continuations with the changes
        (cell ``fork``) and ``seeds`` without (cell ``base``, the baseline), each drawing afresh after
        the fork step, the two cells with different seeds. Its folder goes beside the parent unless
        ``runs_dir`` is given."""
        from populace.operations.fork import check_fork

        run = Run.open(Path(parent))
        if seeds < 2:
            raise PopulaceError(f"--seeds {seeds}: an ensemble needs at least 2 seeds for its spread")
        check_fork(run.path, at, overrides, interventions)
        definition = {"kind": "fork", "parent": str(run.path.resolve()), "at": at, "overrides": list(overrides),
                      "interventions": list(interventions), "seeds": seeds}
        self = cls.__new__(cls)
        self._setup(definition, name or f"{run.id}-at{at}-{_digest(definition)}",
                    runs_dir if runs_dir is not None else run.path.parent, executor, jobs, address, "base", step)
        return self

    @classmethod
    def open(cls, folder: Path | str, **options: Any) -> Experiment:
        """The experiment of a folder it made (to resume it, or to read its results); ``options``:
        ``executor``, ``jobs``, ``address``, ``baseline``, ``step``."""
        folder = Path(folder)
        manifest = read_manifest(folder)
        self = cls.__new__(cls)
        stored = {"baseline": manifest.get("baseline"), "step": manifest.get("step")}
        stored.update({k: v for k, v in options.items() if v is not None})
        self._setup(manifest["definition"], folder.name, folder.parent, stored.get("executor") or "local",
                    stored.get("jobs"), stored.get("address"), stored.get("baseline"), stored.get("step"))
        return self

    # -- what it holds -----------------------------------------------------------------------------
    def _baseline(self, baseline: str | None) -> Cell | None:
        if baseline is None:
            return None
        for cell in self.cells:
            if cell.label == baseline:
                return cell
        wanted: dict[str, Any] = {}
        for item in baseline.split(","):
            key, sep, raw = item.partition("=")
            if not sep:
                break
            wanted[key.strip()] = yaml.safe_load(raw)
        short = _short_keys(list(self.definition.get("grid", {})))
        for cell in self.cells:
            named = {**cell.params, **{short[k]: v for k, v in cell.params.items() if k in short}}
            if wanted and all(k in named and named[k] == v for k, v in wanted.items()):
                return cell
        raise PopulaceError(f"--compare {baseline!r}: no such cell (cells: {', '.join(c.label for c in self.cells)})")

    @property
    def params(self) -> list[str]:
        """The grid's keys: one column each in the tables."""
        return list(self.definition.get("grid", {}))

    def runs(self) -> list[Job]:
        """Every run of the experiment, cell by cell, seed by seed."""
        d = self.definition
        return [Job(str(self.path), cell.run_id(seed), seed, cell.overrides, scenario=d.get("scenario", ""),
                    parent=d.get("parent", ""), at=int(d.get("at", 0)), interventions=cell.interventions)
                for cell in self.cells for seed in cell.seeds]

    def groups(self) -> list[tuple[Cell, list[Path]]]:
        """Each cell with its finished runs."""
        return [(cell, [self.path / cell.run_id(s) for s in cell.seeds if finished(self.path / cell.run_id(s))])
                for cell in self.cells]

    # -- running -------------------------------------------------------------------------------------
    def check(self) -> None:
        """Load every cell's scenario, so that a bad grid value fails before anything runs (one line
        per problem, naming the cell)."""
        if self.definition["kind"] != "sweep":
            return
        problems: dict[str, str] = {}  # each problem once, with the first cell that has it
        for cell in self.cells:
            try:
                load_scenario(self.definition["scenario"], [*cell.overrides, f"seed={cell.seeds[0]}"])
            except PopulaceError as exc:
                for line in str(exc).splitlines():
                    problems.setdefault(line, f"cell {cell.label}: {line}")
        if problems:
            raise ScenarioError("\n".join(problems.values()))

    def run(self, progress: Progress | None = None, *, report: bool = True) -> Results:
        """Run every run not yet finished (resuming those begun), then write and return the tables
        and, with ``report``, the HTML report. A run that fails does not stop the others: it is left
        out of the tables and named in :attr:`Results.failed`; running the experiment again resumes it."""
        self.check()
        with self._lock():
            self._write_manifest(status="running")
            jobs = self.runs()
            todo = [job for job in jobs if not finished(Path(job.folder) / job.run_id)]
            done = len(jobs) - len(todo)
            outcomes = {job.run_id: SKIPPED for job in jobs if job not in todo}
            if progress is not None:
                progress(done, len(jobs), f"{done} finished before" if done else "")
            for run_id, outcome in execute(todo, self.executor, self.jobs, self.address):
                done += 1
                outcomes[run_id] = outcome
                if progress is not None:
                    progress(done, len(jobs), f"{run_id} {outcome}")
            failed = any(v.startswith("failed") for v in outcomes.values())
            self._write_manifest(status="failed" if failed else "completed")
            results = self.tables()
            results.outcomes = outcomes
            if report:
                results.report = write_experiment_report(self, results)
        return results

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Hold the folder while running: a second process on the same experiment is refused."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            yield
            return
        with open(self.path / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RunError(f"experiment {self.path} is being run by another process") from None
            yield

    def _write_manifest(self, status: str) -> None:
        """Write ``experiment.json``; refuse a folder that holds a different experiment."""
        file = self.path / MANIFEST_FILE
        created = None
        if file.is_file():
            old = read_manifest(self.path)
            if old.get("definition") != self.definition:
                raise RunError(f"{self.path} holds another experiment (a different scenario, overrides, seeds or "
                               "grid); give this one another name, or remove that folder")
            created = old.get("created")
        data = {
            "name": self.name, "definition": self.definition, "status": status,
            "created": created or _now(), "updated": _now(),
            "baseline": self.baseline.label if self.baseline else None, "step": self.step,
            "cells": [{"label": c.label, "params": c.params, "seeds": list(c.seeds),
                       "runs": [c.run_id(s) for s in c.seeds]} for c in self.cells],
        }
        tmp = self.path / f".{MANIFEST_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, file)

    # -- tables ------------------------------------------------------------------------------------------
    def tables(self) -> Results:
        """The tables of the runs finished so far, written to the folder and returned."""
        keys = self.params
        frames = []
        for cell, runs in self.groups():
            frame = long_table(runs)
            frame.insert(1, "cell", cell.label)
            for i, key in enumerate(keys):
                frame.insert(2 + i, key, [cell.params.get(key)] * len(frame))
            frames.append(frame)
        results = pd.concat(frames, ignore_index=True) if frames else long_table([])
        for key in keys:  # a column of mixed types (numbers and text) is stored as text
            results[key] = _column(results[key])
        order = {cell.label: i for i, cell in enumerate(self.cells)}
        summary = summarise(results, ["cell", "step", "time", "metric"])
        summary = summary.sort_values(["cell", "step", "metric"], key=lambda s: s.map(order) if s.name == "cell"
                                      else s, kind="stable").reset_index(drop=True)
        by_cell = {cell.label: cell.params for cell in self.cells}
        for i, key in enumerate(keys):
            summary.insert(1 + i, key, _column(pd.Series([by_cell[c].get(key) for c in summary["cell"]],
                                                         dtype=object)))
        comparison = (differences(results, "cell", self.baseline.label, self.step)
                      if self.baseline is not None else pd.DataFrame())
        self.path.mkdir(parents=True, exist_ok=True)
        for name, frame in ((RESULTS, results), (SUMMARY, summary), (COMPARISON, comparison)):
            _write_parquet(frame, self.path / name)
        return Results(self.path, results, summary, comparison)


def _cells(definition: dict[str, Any]) -> list[Cell]:
    """The cells of a definition: the grid's combinations, or a fork ensemble's base and fork."""
    if definition["kind"] == "fork":
        n = int(definition["seeds"])
        return [Cell("base", {}, (), tuple(range(1, n + 1)), prefix="base-"),
                Cell("fork", {}, tuple(definition["overrides"]), tuple(range(n + 1, 2 * n + 1)),
                     tuple(definition["interventions"]), prefix="fork-")]
    grid: dict[str, list[Any]] = definition["grid"]
    keys = list(grid)
    short = _short_keys(keys)
    seeds = tuple(definition["seeds"])
    cells = []
    for i, values in enumerate(itertools.product(*grid.values())):
        params = dict(zip(keys, values, strict=True))
        label = ", ".join(f"{short[k]}={_text(v)}" for k, v in params.items()) or "all"
        overrides = (*definition["overrides"], *(f"{k}={json.dumps(v)}" for k, v in params.items()))
        cells.append(Cell(label, params, overrides, seeds, prefix=f"c{i}-" if keys else ""))
    return cells


def _spec(data: dict[str, Any], label: str) -> ExperimentSpec:
    """An experiment's fields, validated; every problem one line naming the field."""
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError("\n".join(
            f"{label}: {'.'.join(str(p) for p in e['loc'] if not str(p).startswith(('int', 'list['))) or label}: "
            f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )) from None


def read_manifest(folder: Path) -> dict[str, Any]:
    """An experiment folder's ``experiment.json``."""
    file = Path(folder) / MANIFEST_FILE
    if not file.is_file():
        raise RunError(f"{str(folder)!r} is not an experiment folder (no {MANIFEST_FILE})")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{file} cannot be read: {exc}") from None
    if not isinstance(data, dict) or "definition" not in data:
        raise RunError(f"{file} is not an experiment's manifest")
    return data


def is_experiment(path: Path | str) -> bool:
    return (Path(path) / MANIFEST_FILE).is_file()


def _digest(definition: Mapping[str, Any]) -> str:
    return hashlib.sha1(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _column(values: pd.Series) -> pd.Series:
    """Grid values as one Parquet column: numbers stay numbers; anything mixed becomes text."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.to_numeric(values, errors="coerce")
    if all(isinstance(v, bool) for v in present) or all(isinstance(v, str) for v in present):
        return values
    return values.map(lambda v: None if v is None else _text(v))


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    os.replace(tmp, path)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def experiment_groups(experiment: Experiment) -> list[Group]:
    """An experiment's cells as groups of their finished runs."""
    return [Group(cell.label, tuple(runs), _cell_note(experiment, cell.params, cell.label))
            for cell, runs in experiment.groups()]


def of_experiment(experiment: Experiment, results: Results) -> Comparison:
    """An experiment's cells as a comparison, from its results table."""
    table = results.results.rename(columns={"cell": "group"})[["group", "run", "seed", "step", "time", "metric",
                                                               "value"]]
    return Comparison(experiment.name, experiment_groups(experiment), table,
                      experiment.baseline.label if experiment.baseline else None, experiment.step,
                      _fork_step(experiment))


def _fork_step(experiment: Experiment) -> int | None:
    return int(experiment.definition["at"]) if experiment.definition["kind"] == "fork" else None


def _cell_note(experiment: Experiment, params: dict[str, Any], label: str) -> str:
    d = experiment.definition
    if d["kind"] == "fork":
        changes = [*d["overrides"], *(f"intervention {t!r}" for t in d["interventions"])]
        what = "the parent going on" if label == "base" else ("with " + ", ".join(changes) if changes else
                                                            "no change (a second sample of the base)")
        return f"fork of {Path(d['parent']).name} at step {d['at']}: {what}"
    return ", ".join(f"{k}={v}" for k, v in params.items())


def write_experiment_report(experiment: Experiment, results: Results | None = None) -> Path:
    """Write ``report.html`` in the experiment's folder: a band per cell on every chart (from
    ``results``, default: the experiment's tables as they stand)."""
    return write(of_experiment(experiment, results or experiment.tables()), experiment.path / REPORT)
