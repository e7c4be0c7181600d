"""What every command shares: the consoles, the common options, and driving a run to its end."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from populace.errors import PopulaceError, RunFailedError

console = Console()
err = Console(stderr=True)

RunsDir = Annotated[Path | None, typer.Option("--runs-dir", help="where runs live, and where a bare RUN id is "
                                                                  "looked up (default: $POPULACE_RUNS or ./runs)")]
RunId = Annotated[str, typer.Argument(help="run directory, or run id under --runs-dir")]
ExecutorName = Annotated[str, typer.Option("--executor", help="where minds run (with --seeds or --sweep: where "
                                                             "the runs run): local or ray")]
Address = Annotated[str | None, typer.Option("--address", help="Ray cluster address (default: start a local one)")]
Actors = Annotated[int | None, typer.Option("--actors", help="Ray actors to spread the shards over "
                                                             "(default: one per shard or region)")]
Overrides = Annotated[list[str] | None, typer.Option("--set", help="override a field: key.path=value")]


def runs_root(option: Path | None) -> Path:
    from populace.runs import default_runs_dir

    return option or default_runs_dir()


def run_path(run_id: str, runs_dir: Path | None) -> Path:
    """A RUN argument as a run directory: a path to one, or an id under ``--runs-dir``."""
    from populace.runs import Run

    return Run.open(Path(run_id), runs_dir).path


def warn(lines: list[str]) -> None:
    for line in lines:
        err.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)


def make_executor(name: str, address: str | None, actors: int | None = None) -> Any:
    from populace.execution import executors

    cls = executors.get(name)
    if name == "ray":
        from populace.execution.raycluster import RayExecutor

        return RayExecutor(address=address, actors=actors)
    if address is not None or actors is not None:
        raise PopulaceError("--address and --actors are for --executor ray")
    return cls()


def drive(sim: Any, steps: int | None, quiet: bool, report: bool = True) -> None:
    from populace.progress import progress

    total = sim.scenario.steps
    with progress(console, sim.scenario.name, total, completed=sim.steps_done, quiet=quiet) as advance:

        def update(result: Any) -> None:
            advance(result.step + 1, " ".join(f"{k}={v:.3g}" for k, v in list(result.metrics.items())[:3]))

        failure: RunFailedError | None = None
        try:
            sim.run(steps, update)
        except RunFailedError as exc:  # said after the run's figures, then exit 1
            failure = exc
    console.print(f"run {sim.path.name if sim.path else ''}: {sim.steps_done}/{total} steps -> {sim.path}")
    print_metrics(sim.path)
    console.print(sim.health.line(), highlight=False, soft_wrap=True)
    if sim.budget_stop:
        console.print(sim.budget_stop, highlight=False, markup=False, soft_wrap=True)
    if report and sim.path is not None and sim.steps_done >= total:
        console.print(f"report: {write_with_progress(sim.path, quiet=quiet)}", soft_wrap=True)
    if failure is not None:
        raise failure


def print_metrics(path: Path | None) -> None:
    if path is None:
        return
    from populace.summary import final_metrics

    final = final_metrics(path)
    if final:
        console.print("final metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in final.items()))


def write_with_progress(run: Path, out: Path | None = None, *, quiet: bool = False) -> Path:
    """Write a run's report showing its stages: a bar on a terminal, elsewhere a plain line every
    few seconds (repeated while one stage runs long, so a log shows the report is being written)."""
    from populace.progress import progress
    from populace.report.html import STAGES, write_report

    now: tuple[int, str] = (0, STAGES[0])
    finished = threading.Event()
    with progress(console, "report", len(STAGES), unit="stage", quiet=quiet) as advance:
        def stage(done: int, name: str) -> None:
            nonlocal now
            now = (done, name)
            advance(done, name)

        def tick() -> None:
            while not finished.wait(1.0):
                advance(*now)

        ticker = threading.Thread(target=tick, name="populace-report-progress", daemon=True)
        ticker.start()
        try:
            return write_report(run, out, progress=stage)
        finally:
            finished.set()
            ticker.join()
