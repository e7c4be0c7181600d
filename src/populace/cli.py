"""The ``populace`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from populace.errors import PopulaceError
from populace.outputs import write_output

app = typer.Typer(
    name="populace", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Generative agent-based simulation: run, inspect and resume simulations.",
)
console = Console()
err = Console(stderr=True)

DEFAULT_SCENARIO = "misinformation-mixed"

RunsDir = Annotated[Path | None, typer.Option("--runs-dir", help="where runs live (default: ./runs)")]
ExecutorName = Annotated[str, typer.Option("--executor", help="where minds run: local or ray")]
Address = Annotated[str | None, typer.Option("--address", help="Ray cluster address (default: start a local one)")]
Actors = Annotated[int | None, typer.Option("--actors", help="Ray actors to spread the shards over "
                                                             "(default: one per shard or region)")]
Overrides = Annotated[list[str] | None, typer.Option("--set", help="override a field: key.path=value")]


def _runs_dir(option: Path | None) -> Path:
    from populace.runs import default_runs_dir

    return option or default_runs_dir()


def _first_sentence(doc: str) -> str:
    """A docstring's first sentence (to the first period outside parentheses that ends a word), with
    double-backquoted RST literals shown as plain text."""
    text = " ".join(doc.replace("``", "").split())
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "." and depth <= 0 and (i + 1 == len(text) or text[i + 1] == " "):
            return text[: i + 1]
    return text


@app.command()
def run(
    scenario: Annotated[str | None, typer.Argument(help="built-in name or YAML file")] = None,
    set_: Overrides = None,
    runs_dir: RunsDir = None,
    steps: Annotated[int | None, typer.Option(help="stop after this many steps (resume later); at least 1")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    executor: ExecutorName = "local",
    address: Address = None,
    actors: Actors = None,
    report: Annotated[bool, typer.Option(help="write the HTML report when the run completes")] = True,
) -> None:
    """Run a scenario (default: the built-in default scenario) and record it under runs/."""
    from populace.simulation import Simulation

    if steps is not None and steps < 1:
        raise PopulaceError(f"--steps {steps}: give a number of steps of at least 1")
    sim = Simulation.from_scenario(scenario or DEFAULT_SCENARIO, set_ or [], _runs_dir(runs_dir),
                                   executor=_executor(executor, address, actors))
    _drive(sim, steps, quiet, report)


def _executor(name: str, address: str | None, actors: int | None = None) -> Any:
    from populace.execution import executors

    cls = executors.get(name)
    if name == "ray":
        from populace.execution.raycluster import RayExecutor

        return RayExecutor(address=address, actors=actors)
    if address is not None or actors is not None:
        raise PopulaceError("--address and --actors are for --executor ray")
    return cls()


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="run directory or id")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    executor: ExecutorName = "local",
    address: Address = None,
    actors: Actors = None,
    report: Annotated[bool, typer.Option(help="write the HTML report when the run completes")] = True,
) -> None:
    """Continue a stopped or killed run from its last checkpoint."""
    from populace.simulation import Simulation

    sim = Simulation.resume(Path(run_id), executor=_executor(executor, address, actors))
    if sim.steps_done:
        console.print(f"resuming {sim.path} after step {sim.steps_done}")
    _drive(sim, None, quiet, report)


def _drive(sim: Any, steps: int | None, quiet: bool, report: bool = True) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = sim.scenario.steps
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
        console=console, disable=quiet or not console.is_terminal, transient=False,
    ) as progress:
        task = progress.add_task(sim.scenario.name, total=total, completed=sim.steps_done, info="")

        def update(result: Any) -> None:
            info = " ".join(f"{k}={v:.3g}" for k, v in list(result.metrics.items())[:3])
            progress.update(task, completed=result.step + 1, info=info)

        sim.run(steps, update)
    console.print(f"run {sim.path.name if sim.path else ''}: {sim.steps_done}/{total} steps -> {sim.path}")
    _print_metrics(sim.path)
    if report and sim.path is not None and sim.steps_done >= total:
        from populace.report import write_report

        console.print(f"report: {write_report(sim.path)}", soft_wrap=True)


def _print_metrics(path: Path | None) -> None:
    if path is None:
        return
    from populace.summary import final_metrics

    final = final_metrics(path)
    if final:
        console.print("final metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in final.items()))


@app.command("list")
def list_() -> None:
    """List the registered worlds and the built-in scenarios."""
    from populace.scenario import builtin_scenarios, load_scenario
    from populace.world import worlds

    table = Table("world", "actions", "description")
    for name, cls in worlds.items():
        doc = _first_sentence(cls.__doc__ or sys.modules[cls.__module__].__doc__ or "")
        table.add_row(name, ", ".join(cls.actions.names), doc)
    console.print(table)
    scenarios = Table("scenario", "world", "agents", "steps", "description")
    for name, path in builtin_scenarios().items():
        try:
            sc = load_scenario(path)
            scenarios.add_row(name, sc.world.type, str(sc.population.size or sc.population.file),
                              str(sc.steps), sc.description.strip().splitlines()[0] if sc.description else "")
        except PopulaceError as exc:
            scenarios.add_row(name, "?", "?", "?", f"[red]invalid: {exc}")
    console.print(scenarios)


@app.command()
def validate(
    scenario: Annotated[str, typer.Argument(help="built-in name or YAML file")],
    set_: Overrides = None,
) -> None:
    """Check a scenario file and build its simulation (population, world, minds) without running it."""
    from populace.scenario import load_scenario
    from populace.simulation import Simulation

    sc = load_scenario(scenario, set_ or [])
    Simulation(sc)  # errors raised while building (population file, selectors, minds) are caught here too
    console.print(f"{scenario}: valid ({sc.world.type} world, {len(sc.minds)} mind tier(s), {sc.steps} steps)")


@app.command()
def schema(out: Annotated[Path | None, typer.Option(help="write to this file")] = None) -> None:
    """Print the scenario JSON Schema (for editors)."""
    from populace.scenario import json_schema

    text = json.dumps(json_schema(), indent=2)
    if out:
        written = write_output(out, text + "\n")
        console.print(f"wrote {written}")
    else:
        sys.stdout.write(text + "\n")


@app.command()
def runs(runs_dir: RunsDir = None) -> None:
    """List past runs with a summary."""
    from populace.runs import list_runs

    table = Table("run", "scenario", "status", "steps", "created")
    for r in list_runs(_runs_dir(runs_dir)):
        m = r.manifest()
        table.add_row(r.id, str(m.get("scenario")), r.status(),
                      f"{m.get('steps_done')}/{m.get('steps')}", str(m.get("created", "")))
    console.print(table)


@app.command()
def show(run_id: Annotated[str, typer.Argument(help="run directory or id")]) -> None:
    """Summarise a run's events: counts per action and outcome, and per step."""
    from populace.runs import Run
    from populace.summary import summarise

    r = Run.open(Path(run_id))
    summary = summarise(r.path)
    m = r.manifest()
    console.print(f"[bold]{r.id}[/] scenario={m.get('scenario')} seed={m.get('seed')} "
                  f"status={r.status()} steps={m.get('steps_done')}/{m.get('steps')}")
    for title, rows in summary.items():
        if not rows:
            continue
        table = Table(*rows[0].keys(), title=title)
        for row in rows:
            table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
        console.print(table)


#: Modules that add commands to the app (each defines ``register(app)``); absent ones are skipped.
COMMAND_MODULES = (
    "populace.llm.commands",      # replay, eval-model
    "populace.report.commands",   # report, dashboard, fork
    "populace.bench.commands",    # bench
    "populace.worlds.epidemic.commands",  # calibrate
)


def _register_commands() -> None:
    import importlib
    import importlib.util

    for name in COMMAND_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            importlib.import_module(name).register(app)


_register_commands()


def main() -> None:
    """Entry point: user errors print one line and exit 2; nothing prints a traceback for them."""
    try:
        app()
    except PopulaceError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted; `populace resume RUN` continues from the last checkpoint")
        sys.exit(130)
