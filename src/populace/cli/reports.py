"""CLI commands ``populace report``, ``populace dashboard`` and ``populace fork``."""

from pathlib import Path
from typing import Annotated

import typer

from populace.cli.console import Overrides, RunId, RunsDir, write_with_progress

ForkRunsDir = Annotated[Path | None, typer.Option("--runs-dir", help="where a bare RUN id is looked up and the fork "
                                                                      "is created (default: $POPULACE_RUNS or ./runs; "
                                                                      "the fork beside RUN)")]
Intervene = Annotated[list[str] | None, typer.Option(
    "--intervene", help="add an intervention at the fork step: 'operation key=value ...'")]


def register(app: typer.Typer) -> None:
    """Add the report, dashboard and fork commands to the ``populace`` app."""
    from populace.cli.console import console, run_path

    @app.command()
    def report(
        run_id: RunId,
        out: Annotated[Path | None, typer.Option(help="where to write (default: <run>/report.html)")] = None,
        runs_dir: RunsDir = None,
    ) -> None:
        """Write a self-contained HTML report of a run or an experiment (opens offline)."""
        from populace.cli.experiments import experiment_folder

        folder = experiment_folder(run_id, runs_dir)
        if folder is not None:  # an experiment's report: a band over seeds per cell
            from populace.operations.compare import write
            from populace.operations.experiment import REPORT, Experiment, of_experiment

            experiment = Experiment.open(folder)
            written = write(of_experiment(experiment, experiment.tables()), out or folder / REPORT)
            console.print(f"report: {written}", soft_wrap=True)
            return
        console.print(f"report: {write_with_progress(run_path(run_id, runs_dir), out)}", soft_wrap=True)

    @app.command()
    def dashboard(
        run_id: RunId,
        host: Annotated[str, typer.Option(help="address to bind (default: loopback only)")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
        runs_dir: RunsDir = None,
    ) -> None:
        """Serve a live, read-only dashboard of a run (in progress or finished)."""
        import uvicorn

        from populace.report.dashboard import create_app, listen
        from populace.runs import Run

        run = Run.open(Path(run_id), runs_dir)
        app_ = create_app(run.path)
        sock = listen(host, port)
        console.print(f"dashboard for {run.id}: http://{host}:{port}/  (Ctrl-C stops it)", soft_wrap=True)
        uvicorn.Server(uvicorn.Config(app_, host=host, port=port, log_level="warning")).run(sockets=[sock])

    @app.command()
    def fork(
        run_id: RunId,
        at: Annotated[int, typer.Option("--at", help="step to branch at (state after this many steps)")],
        set_: Overrides = None,
        intervene: Intervene = None,
        runs_dir: ForkRunsDir = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
        seeds: Annotated[int | None, typer.Option("--seeds", help="an ensemble: this many forks with the changes and "
                                                                  "as many without, each drawing afresh after the "
                                                                  "fork step, compared")] = None,
        jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="with --seeds: runs at a time "
                                                                      "(default: the CPU cores)")] = None,
    ) -> None:
        """Start a counterfactual from a run's state at a step, with changed parameters or interventions.

        With --seeds N, an ensemble: N forks with the changes beside N without, compared."""
        from populace.cli.console import drive
        from populace.operations.fork import fork as start_fork

        if seeds is not None:
            from populace.cli.experiments import run_experiment
            from populace.operations.experiment import Experiment

            ensemble = Experiment.fork(run_path(run_id, runs_dir), at, seeds, set_ or [], intervene or [],
                                       runs_dir=runs_dir, jobs=jobs)
            run_experiment(ensemble, quiet)
            return
        if jobs is not None:
            from populace.errors import PopulaceError

            raise PopulaceError("--jobs is for an ensemble (--seeds)")
        sim = start_fork(run_path(run_id, runs_dir), at, set_ or [], intervene or [], runs_dir)
        console.print(f"fork of {run_id} at step {at} -> {sim.path}", soft_wrap=True)
        drive(sim, None, quiet)  # prints the report's path once the branch completes
