"""CLI commands ``populace experiment``, ``populace compare`` and ``populace calibrate``, and the
experiment behind ``populace run --seeds N --sweep key=v1,v2`` and ``populace fork --seeds N``."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from populace.operations.calibrate import Fit
    from populace.operations.compare import Comparison
    from populace.operations.experiment import Experiment

RunsDir = Annotated[Path | None, typer.Option(
    "--runs-dir", help="where experiments and runs live, and where a bare id is looked up "
                       "(default: $POPULACE_RUNS or ./runs)")]
Jobs = Annotated[int | None, typer.Option("--jobs", "-j", help="runs at a time (default: the CPU cores)")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]
Address = Annotated[str | None, typer.Option("--address", help="Ray cluster address (default: start a local one)")]


def parse_sweep(items: list[str]) -> dict[str, list[Any]]:
    """``--sweep key.path=v1,v2,...`` options as a grid (values read as YAML: ``a,b``, ``0.1,0.3``,
    ``[1,2],[3,4]``)."""
    import yaml

    from populace.errors import ScenarioError

    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise ScenarioError(f"--sweep {item!r} must look like key.path=v1,v2,...")
        try:
            values = yaml.safe_load(f"[{raw}]")
        except yaml.YAMLError:
            raise ScenarioError(f"--sweep {item!r}: the values are not a comma-separated list") from None
        grid[key.strip()] = values
    return grid


def experiment_folder(name: str, runs_dir: Path | None) -> Path | None:
    """A path or a name under ``runs_dir`` that is an experiment's folder, else None."""
    from populace.operations.experiment import is_experiment
    from populace.runs import default_runs_dir

    for candidate in (Path(name), (runs_dir or default_runs_dir()) / name):
        if is_experiment(candidate):
            return candidate
    return None


def run_experiment(experiment: "Experiment", quiet: bool = False, report: bool = True) -> None:
    """Run an experiment with a progress bar, then print where its tables are and its comparison."""
    from rich.markup import escape

    from populace.cli.console import console, err, warn
    from populace.operations.experiment import of_experiment
    from populace.operations.jobs import finished
    from populace.progress import progress

    warn(experiment.warnings)
    experiment.check()  # a bad grid value fails here, before a progress bar starts
    jobs = experiment.runs()
    before = sum(finished(Path(job.folder) / job.run_id) for job in jobs)
    with progress(console, experiment.name, len(jobs), completed=before, unit="run", quiet=quiet) as advance:
        results = experiment.run(lambda done, total, note: advance(done, note), report=report)
    ran = {outcome: sum(v == outcome for v in results.outcomes.values()) for outcome in ("done", "resumed")}
    console.print(f"experiment {experiment.name}: {len(jobs)} run{'s' * (len(jobs) != 1)} ({ran['done']} run, "
                  f"{ran['resumed']} resumed, {before} finished before) -> {experiment.path}", soft_wrap=True)
    console.print(f"tables: results.parquet ({len(results.results):,} rows), summary.parquet, "
                  f"comparison.parquet", soft_wrap=True)
    print_comparison(of_experiment(experiment, results))
    if results.report is not None:
        console.print(f"report: {results.report}", soft_wrap=True)
    if results.failed:  # said after the figures of the runs that finished, then exit 1
        for run, reason in results.failed.items():
            err.print(f"[red]run failed:[/] {run}: {escape(reason)}", highlight=False, soft_wrap=True)
        err.print(f"{len(results.failed)} of {len(jobs)} runs failed; the tables hold the others, and running "
                  "the experiment again resumes these", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def print_comparison(comparison: "Comparison") -> None:
    """The comparison's table at the compared step, and its constant metrics on one line."""
    from rich import box
    from rich.table import Table

    from populace.cli.console import console
    from populace.operations.compare import rows

    found = rows(comparison)
    if found:
        with_baseline = comparison.baseline is not None
        at = "each run's last step" if comparison.step is None else f"step {comparison.step}"
        sizes = {r["n"] for r in found}
        title = f"at {at}, {found[0]['n']} run{'s' * (found[0]['n'] != '1')} per group" if len(sizes) == 1 \
            else f"at {at}"
        if with_baseline:
            title += f"; bold: the difference to {comparison.baseline} excludes 0 (Welch)"
        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column("metric / group", no_wrap=True)
        table.add_column("mean [95 % interval]", justify="right", no_wrap=True)
        if with_baseline:
            table.add_column("difference [95 % interval]", justify="right", no_wrap=True)
        metric = None
        for r in found:
            if r["metric"] != metric:
                metric = r["metric"]
                table.add_row(metric, style="bold")
            difference = r["difference"] + (f" {r['difference interval']}" if r["difference interval"] else "")
            group = f"  {r['group']}" + (f" ({r['n']} runs)" if len(sizes) > 1 else "")
            table.add_row(group, f"{r['mean']} {r['interval']}", *((difference,) if with_baseline else ()),
                          style="bold" if r["significant"] == "yes" else None)
        console.print(table)
    if comparison.constant:
        console.print("the same at every step: " + ", ".join(f"{k}={v:.4g}" for k, v in comparison.constant.items()),
                      highlight=False, soft_wrap=True)


def print_fit(fit: "Fit", rows: int = 12) -> None:
    """The fitted values, the errors per window, and the fit against the target at up to ``rows`` rows."""
    import math

    from rich import box
    from rich.table import Table

    from populace.cli.console import console

    held = "" if math.isnan(fit.holdout_error) else f", {fit.holdout_error:.4f} held out"
    console.print(f"best of {fit.trials} trials ({fit.failed} failed): NRMSE {fit.train_error:.4f} on the fit "
                  f"window{held}", highlight=False, soft_wrap=True)
    if len(fit.errors) > 1:
        for name, (train, holdout) in fit.errors.items():
            said = "" if math.isnan(holdout) else f", {holdout:.4f} held out"
            console.print(f"  {name}: {train:.4f}{said}", highlight=False, soft_wrap=True)
    for key, value in fit.best.items():
        console.print(f"  {key} = {value:.6g}", highlight=False, soft_wrap=True)
    for name, frame in fit.table.groupby("measure", sort=False):
        table = Table(title=str(name) if len(fit.errors) > 1 else None, box=box.SIMPLE_HEAD, title_justify="left")
        for column in ("time", "target", "simulated", "seeds' range", "window"):
            table.add_column(column, justify="left" if column in ("time", "window") else "right")
        picked = sorted(set(range(0, len(frame), max(1, -(-len(frame) // rows)))) | {len(frame) - 1})
        for i in picked:
            r = frame.iloc[i]
            table.add_row(str(r["time"]), f"{r['target']:.4g}", f"{r['simulated']:.4g}",
                          f"{r['low']:.4g}-{r['high']:.4g}", str(r["window"]))
        console.print(table)
    for note in fit.notes:
        console.print(note, highlight=False, soft_wrap=True)
    plots = ", ".join(f"fit-{name}.svg" for name in fit.errors)
    console.print(f"study: {fit.folder} (calibrated.yaml, fit.csv, {plots}, trials.json)", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the experiment, compare and calibrate commands to the ``populace`` app."""
    from populace.cli.console import console

    @app.command()
    def calibrate(
        scenario: Annotated[str, typer.Argument(help="built-in name or YAML file")],
        param: Annotated[list[str], typer.Option("--param", help="a field to fit, PATH=LOW:HIGH[:log][:int] "
                                                                 "(bounds with units fit a duration); repeat")],
        target: Annotated[Path, typer.Option("--target", help="CSV of the observed series")],
        metric: Annotated[list[str] | None, typer.Option("--metric", help="compare the target with this metric "
                                                                          "(NAME or NAME=COLUMN); repeat")] = None,
        cascade: Annotated[list[str] | None, typer.Option("--cascade", help="or with the largest cascade's scale, "
                                                                            "depth or breadth; repeat")] = None,
        column: Annotated[str | None, typer.Option("--column", help="the target's values, for one measure "
                                                                    "(default: the metric's or measure's name)")]
        = None,
        time_column: Annotated[str | None, typer.Option("--time-column", help="the target's simulated time "
                                                                              "(default: the first column)")] = None,
        time_unit: Annotated[str | None, typer.Option("--time-unit", help="the unit of a numeric time column, "
                                                                          "e.g. 1m (default: from its name)")] = None,
        aggregate: Annotated[str, typer.Option("--aggregate", help="last: the metric at each row's time; sum: "
                                                                   "summed since the row before")] = "last",
        train: Annotated[str | None, typer.Option("--train", help="the fit window ends here: a duration from the "
                                                                  "start or a time-column value")] = None,
        holdout: Annotated[str | None, typer.Option("--holdout", help="the held-out window ends here "
                                                                      "(default: the target's end)")] = None,
        seeds: Annotated[int, typer.Option("--seeds", help="runs per candidate; their mean is compared")] = 1,
        trials: Annotated[int, typer.Option("--trials", help="candidates to try, those of a resumed study "
                                                             "included")] = 30,
        sampler_seed: Annotated[int, typer.Option("--sampler-seed", help="the seed of the TPE sampler")] = 0,
        study: Annotated[Path | None, typer.Option("--study", help="the study folder; again, it resumes "
                                                                   "(default: calibration-SCENARIO)")] = None,
        jobs: Annotated[int, typer.Option("--jobs", "-j", help="candidates at a time")] = 1,
        executor: Annotated[str, typer.Option("--executor", help="local processes or ray tasks")] = "local",
        address: Address = None,
        overrides: Annotated[list[str] | None, typer.Option("--set", help="override a field: key.path=value")]
        = None,
        quiet: Quiet = False,
    ) -> None:
        """Fit numeric fields of a scenario to an observed series (Optuna TPE; fit and held-out windows)."""
        from populace.operations.calibrate import calibrate as fit_scenario
        from populace.progress import progress

        folder = study or Path(f"calibration-{Path(scenario).stem}")
        with progress(console, f"calibrate {Path(scenario).stem}", trials, unit="trial", quiet=quiet) as advance:
            fit = fit_scenario(scenario, param, target, folder, metric=metric or [], cascade=cascade or [],
                               column=column, time_column=time_column, time_unit=time_unit, aggregate=aggregate,
                               train=train, holdout=holdout, seeds=seeds, trials=trials, seed=sampler_seed,
                               jobs=jobs, executor=executor, address=address, overrides=overrides or [],
                               progress=lambda done, total, note: advance(done, note))
        print_fit(fit)

    @app.command()
    def experiment(
        file: Annotated[str, typer.Argument(help="experiment YAML file, or an experiment's folder to resume")],
        runs_dir: RunsDir = None,
        jobs: Jobs = None,
        executor: Annotated[str | None, typer.Option("--executor", help="local processes or ray tasks "
                                                                        "(default: the file's, else local)")] = None,
        address: Address = None,
        compare: Annotated[str | None, typer.Option("--compare", help="the baseline cell, e.g. herd=0 "
                                                                     "(default: the file's compare.baseline)")] = None,
        step: Annotated[int | None, typer.Option("--step", help="compare the values at this step "
                                                               "(default: each run's last)")] = None,
        quiet: Quiet = False,
        report: Annotated[bool, typer.Option(help="write the experiment's HTML report")] = True,
    ) -> None:
        """Run an experiment: a scenario over seeds and a parameter grid, in parallel; again, it resumes."""
        from populace.operations.experiment import Experiment

        options = {"jobs": jobs, "executor": executor, "address": address, "baseline": compare, "step": step}
        folder = experiment_folder(file, runs_dir) if not Path(file).is_file() else None
        if folder is not None:
            exp = Experiment.open(folder, **options)
        else:
            if not Path(file).is_file():
                from populace.errors import ScenarioError

                raise ScenarioError(f"experiment file {file!r} does not exist (nor an experiment folder of that name)")
            exp = Experiment.from_file(file, runs_dir, **options)
        run_experiment(exp, quiet, report)

    @app.command("compare")
    def compare_(
        items: Annotated[list[str], typer.Argument(help="runs, forks, or experiment folders (their cells)",
                                                   metavar="RUN_OR_EXPERIMENT...")],
        baseline: Annotated[str | None, typer.Option("--baseline", help="the group the others are tested against "
                                                                       "(default: an experiment's, else the first)")]
        = None,
        step: Annotated[int | None, typer.Option("--step", help="compare the values at this step "
                                                               "(default: each run's last)")] = None,
        out: Annotated[Path | None, typer.Option(help="HTML file to write (default: compare.html here, or in "
                                                      "the experiment's folder)")] = None,
        runs_dir: RunsDir = None,
    ) -> None:
        """Compare runs, forks or experiment cells: bands over seeds, and the difference to a baseline."""
        from populace.operations.compare import compare, write

        groups, default_baseline, mark, title, home = _groups(items, runs_dir)
        comparison = compare(groups, baseline or default_baseline, step, title, mark)
        print_comparison(comparison)
        written = write(comparison, out or (home / "compare.html" if home else Path("compare.html")))
        console.print(f"comparison: {written}", soft_wrap=True)


def _groups(items: list[str], runs_dir: Path | None) -> tuple[list[Any], str | None, int | None, str, Path | None]:
    """The groups named on the command line: an experiment's cells, or a run each; with the default
    baseline, the step to mark, a title, and the experiment's folder where there is one."""
    from populace.operations.compare import Group
    from populace.operations.experiment import Experiment, experiment_groups
    from populace.runs import Run

    groups: list[Group] = []
    baseline: str | None = None
    mark: int | None = None
    titles: list[str] = []
    home: Path | None = None
    for item in items:
        folder = experiment_folder(item, runs_dir)
        if folder is None:
            run = Run.open(Path(item), runs_dir)
            manifest = run.manifest()
            parent = manifest.get("parent")
            note = (f"fork of {parent.get('id')} at step {parent.get('at')}: {', '.join(manifest.get('changes') or [])}"
                    if isinstance(parent, dict) else f"{manifest.get('scenario')}, seed {manifest.get('seed')}")
            groups.append(Group(run.id, (run.path,), note))
            titles.append(run.id)
            continue
        exp = Experiment.open(folder)
        cells = experiment_groups(exp)
        prefix = f"{exp.name}: " if len(items) > 1 else ""
        groups += [Group(prefix + g.label, g.runs, g.note) for g in cells]
        if exp.baseline is not None and baseline is None:
            baseline = prefix + exp.baseline.label
        if exp.definition["kind"] == "fork":
            mark = int(exp.definition["at"])
        titles.append(exp.name)
        home = folder if len(items) == 1 else None
    return groups, baseline, mark, " vs ".join(titles), home
