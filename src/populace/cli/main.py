"""The ``populace`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from populace.cli.console import (
    Actors,
    Address,
    ExecutorName,
    Overrides,
    RunId,
    RunsDir,
    console,
    drive,
    err,
    make_executor,
    run_path,
    runs_root,
    warn,
)
from populace.errors import PopulaceError, RunFailedError
from populace.outputs import write_output

app = typer.Typer(
    name="populace", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Generative agent-based simulation: run, inspect and resume simulations.",
)

DEFAULT_SCENARIO = "misinformation-mixed"

def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("populace")
        except PackageNotFoundError:
            from populace import __version__ as number
        console.print(f"populace {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    pass


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
    seeds: Annotated[int | None, typer.Option("--seeds", help="an experiment: this many seeds, from the "
                                                              "scenario's (see docs/experiments.md)")] = None,
    sweep: Annotated[list[str] | None, typer.Option("--sweep", help="an experiment over key.path=v1,v2,... "
                                                                    "(repeated: every combination)")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="with --seeds or --sweep: runs at a time "
                                                                  "(default: the CPU cores)")] = None,
    compare: Annotated[str | None, typer.Option("--compare", help="with --sweep: the baseline cell, "
                                                                  "e.g. herd=0")] = None,
) -> None:
    """Run a scenario (default: the built-in default scenario) and record it under runs/.

    With --seeds or --sweep, an experiment of many runs (see populace experiment)."""
    from populace.simulation import Simulation

    if seeds is not None or sweep:
        if steps is not None or actors is not None:
            raise PopulaceError("--steps and --actors are for a single run, not for --seeds or --sweep")
        from populace.cli.experiments import parse_sweep, run_experiment
        from populace.operations.experiment import Experiment

        run_experiment(Experiment(scenario or DEFAULT_SCENARIO, seeds=1 if seeds is None else seeds,
                                  grid=parse_sweep(sweep or []),
                                  overrides=set_ or [], runs_dir=runs_dir, executor=executor, jobs=jobs,
                                  address=address, baseline=compare), quiet, report)
        return
    if jobs is not None or compare is not None:
        raise PopulaceError("--jobs and --compare are for --seeds or --sweep")
    if steps is not None and steps < 1:
        raise PopulaceError(f"--steps {steps}: give a number of steps of at least 1")
    sim = Simulation.from_scenario(scenario or DEFAULT_SCENARIO, set_ or [], runs_root(runs_dir),
                                   executor=make_executor(executor, address, actors))
    warn(sim.scenario.warnings)
    drive(sim, steps, quiet, report)


@app.command()
def resume(
    run_id: RunId,
    runs_dir: RunsDir = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="change the run's budget: budget.calls=N "
                                                                 "(the one part a run may change on its way)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    executor: ExecutorName = "local",
    address: Address = None,
    actors: Actors = None,
    report: Annotated[bool, typer.Option(help="write the HTML report when the run completes")] = True,
) -> None:
    """Continue a stopped or killed run from its last checkpoint."""
    from populace.runs import Run
    from populace.simulation import Simulation

    record = Run.open(Path(run_id), runs_dir)
    manifest = record.manifest()
    done, total = int(manifest.get("steps_done") or 0), int(manifest.get("steps") or 0)
    if manifest.get("status") == "completed" and done >= total:
        console.print(f"run {record.id} is complete ({done}/{total} steps); nothing to resume", soft_wrap=True)
        return
    sim = Simulation.resume(record.path, executor=make_executor(executor, address, actors), overrides=set_ or [])
    if sim.steps_done:
        console.print(f"resuming {sim.path} after step {sim.steps_done}")
    drive(sim, None, quiet, report)


@app.command("list")
def list_(
    world: Annotated[str | None, typer.Argument(help="a world to describe: actions, operations, metrics, "
                                                    "scenarios")] = None,
    long: Annotated[bool, typer.Option("--long", help="every world's actions and every scenario's details")] = False,
) -> None:
    """List the worlds and their built-in scenarios, one line each; details with WORLD or --long."""
    from populace.scenario import builtin_scenarios, load_scenario
    from populace.world import worlds

    if world is not None:
        _describe_world(world)
        return
    if not long:
        by_world: dict[str, list[str]] = {}
        for name, path in builtin_scenarios().items():
            try:
                by_world.setdefault(load_scenario(path).world.type, []).append(name)
            except PopulaceError:
                by_world.setdefault("?", []).append(name)
        # scenario names wrap between names, never cut (they are what one types next); descriptions are cut
        width = max(map(len, [*worlds.names(), *by_world]), default=5)
        free = console.width - width - 10  # borders and padding of three columns
        names_width = min(max((len(", ".join(v)) for v in by_world.values()), default=9), max(20, free * 11 // 20))
        table = Table()
        table.add_column("world", no_wrap=True, width=width)
        table.add_column("scenarios", width=names_width)
        table.add_column("description", width=max(10, free - names_width), no_wrap=True, overflow="ellipsis")
        for name, cls in worlds.items():
            doc = _first_sentence(cls.__doc__ or sys.modules[cls.__module__].__doc__ or "")
            table.add_row(name, ", ".join(by_world.pop(name, [])) or "-", doc)
        for name, names in by_world.items():
            table.add_row(name, ", ".join(names), "[red]invalid or unknown world")
        console.print(table)
        console.print("details: populace list WORLD, or populace list --long")
        return
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
                              str(sc.steps), _first_sentence(sc.description))
        except PopulaceError as exc:
            scenarios.add_row(name, "?", "?", "?", f"[red]invalid: {exc}")
    console.print(scenarios)


def _describe_world(name: str) -> None:
    """One world in full: what it is, its actions, operations (interventions), observation, metrics and
    scenarios."""

    from populace.scenario import builtin_scenarios, load_scenario
    from populace.world import worlds

    cls = worlds.get(name)
    doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").replace("``", "")
    console.print(f"[bold]{name}[/]: " + " ".join(doc.strip().split("\n\n")[0].split()), soft_wrap=False)
    console.print("actions: " + ", ".join(cls.actions.names))
    operations = [f"{op}({_parameters(method)})" for op, method in cls.operations().items()]
    console.print("operations (interventions): " + escape("; ".join(operations) or "none"), highlight=False)
    if cls.observation:
        observation = Table("observation column", "kind", "meaning")
        for column in cls.observation:
            observation.add_row(column.name, column.describe(), column.meaning)
        console.print(observation)
    if cls.metric_descriptions:
        metrics = Table("metric", "meaning")
        for metric, meaning in cls.metric_descriptions.items():
            metrics.add_row(metric, meaning)
        console.print(metrics)
    scenarios = Table("scenario", "agents", "steps", "description")
    for scenario, path in builtin_scenarios().items():
        try:
            sc = load_scenario(path)
        except PopulaceError:
            continue
        if sc.world.type == name:
            scenarios.add_row(scenario, str(sc.population.size or sc.population.file), str(sc.steps),
                              _first_sentence(sc.description))
    if scenarios.row_count:
        console.print(scenarios)


def _parameters(method: Any) -> str:
    """An operation's parameters as a scenario writes them: ``value: float, share: float = 0.05``."""
    import inspect
    import typing

    try:
        hints = typing.get_type_hints(method, include_extras=True)
    except Exception:  # an annotation only a type checker can resolve: show it as written
        hints = {}
    shown = []
    for name, parameter in list(inspect.signature(method).parameters.items())[1:]:
        text = f"{name}: {_annotation(hints.get(name, parameter.annotation))}"
        if parameter.default is not inspect.Parameter.empty:
            default = parameter.default
            text += f" = {default:.3g}" if isinstance(default, float) else f" = {default!r}"
        shown.append(text)
    return ", ".join(shown)


def _annotation(hint: Any) -> str:
    """A parameter's type as a reader wants it: ``float in [0, 1]`` for an Annotated bound."""
    import inspect
    import typing

    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        bounds = {type(m).__name__.lower(): getattr(m, type(m).__name__.lower())
                  for extra in extras for m in getattr(extra, "metadata", [])}
        low, high = bounds.get("ge", bounds.get("gt")), bounds.get("le", bounds.get("lt"))
        text = _annotation(base)
        if low is not None and high is not None:
            return f"{text} in [{low:g}, {high:g}]"
        return text + (f" >= {low:g}" if low is not None else "") + (f" <= {high:g}" if high is not None else "")
    return inspect.formatannotation(hint).strip(chr(39))


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
    warn(sc.warnings)
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

    found = list_runs(runs_root(runs_dir))
    table = Table("run", "scenario", "status", "steps", "created")
    table.columns[0].no_wrap = True  # the id is what one copies: never cut; the other columns give way
    table.columns[0].min_width = max((len(r.id) for r in found), default=3)
    for r in found:
        m = r.manifest()
        table.add_row(r.id, str(m.get("scenario")), r.status(),
                      f"{m.get('steps_done')}/{m.get('steps')}", str(m.get("created", "")))
    console.print(table)


@app.command()
def snapshot(run_id: RunId, runs_dir: RunsDir = None) -> None:
    """Write the per-agent snapshots of a run recorded before they existed, from its checkpoints
    (analysis, the report's network and the dashboard's inspector read only snapshots)."""
    from populace.simulation import snapshot_checkpoints

    path = run_path(run_id, runs_dir)
    written = snapshot_checkpoints(path)
    said = f"wrote the snapshots after steps {', '.join(map(str, written))}" if written else \
        "every checkpoint already has its snapshot"
    console.print(f"run {path.name}: {said}", highlight=False, soft_wrap=True)


@app.command()
def show(run_id: RunId, runs_dir: RunsDir = None) -> None:
    """Summarise a run's events: counts per action and outcome, and per step."""
    from populace.runs import Run
    from populace.summary import run_health, summarise

    r = Run.open(Path(run_id), runs_dir)
    summary = summarise(r.path)
    m = r.manifest()
    console.print(f"[bold]{r.id}[/] scenario={m.get('scenario')} seed={m.get('seed')} "
                  f"status={r.status()} steps={m.get('steps_done')}/{m.get('steps')}")
    if m.get("error"):
        console.print(f"error: {m['error']}", highlight=False, markup=False, soft_wrap=True)
    budget: dict[str, Any] = m["budget"] if isinstance(m.get("budget"), dict) else {}
    for key in ("stopped", "degraded"):
        if budget.get(key):
            said = budget[key] if key == "stopped" else \
                f"model minds stepped down their fallback chains from step {budget.get('degraded_at')}: {budget[key]}"
            console.print(said, highlight=False, markup=False, soft_wrap=True)
    console.print(run_health(r.path).line(), highlight=False)
    for title, rows in summary.items():
        if not rows:
            continue
        table = Table(*rows[0].keys(), title=title)
        for row in rows:
            table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
        console.print(table)


@app.command()
def estimate(
    scenario: Annotated[str, typer.Argument(help="built-in name or YAML file")],
    set_: Overrides = None,
    pilot_steps: Annotated[int, typer.Option("--pilot-steps", help="steps the pilot runs")] = 5,
    keep: Annotated[bool, typer.Option("--keep", help="keep the pilot as a paused run under --runs-dir "
                                                      "(populace resume finishes it)")] = False,
    runs_dir: RunsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Predict a run's model calls, tokens and wall time per mind tier from a short pilot run."""
    from populace.operations.estimate import Interval
    from populace.operations.estimate import estimate as predict
    from populace.progress import progress

    sc = _load(scenario, set_)
    pilot = min(pilot_steps, sc.steps)
    with progress(console, f"pilot of {sc.name}", pilot, quiet=quiet) as advance:
        found = predict(sc, pilot_steps=pilot_steps, keep=runs_root(runs_dir) if keep else None,
                        progress=lambda done, total: advance(done, ""))
    pilot_time = Interval(found.pilot_seconds, found.pilot_seconds, found.pilot_seconds).text("s")
    console.print(f"estimate for {found.scenario}: {found.steps} steps, from a pilot of {found.pilot_steps} "
                  f"({pilot_time})", highlight=False)
    table = Table("mind tier", "agents", "model calls", "tokens", "model seconds")
    for tier in found.tiers:
        table.add_row(tier.tier, f"{tier.agents:,}", tier.calls.text(), tier.tokens.text(),
                      tier.model_seconds.text("s"))
    table.add_row("all", f"{sum(t.agents for t in found.tiers):,}", found.total("calls").text(),
                  found.total("tokens").text(), found.total("model_seconds").text("s"))
    console.print(table)
    console.print(f"wall time of the steps: {found.wall_seconds.text('s')}, model loading aside", highlight=False)
    console.print("(in brackets: the lowest and highest per-step rate of the pilot; the full runs checked came "
                  "within a factor of 2 of the estimate: docs/costs.md)", highlight=False, soft_wrap=True)
    if found.pilot_run is not None:
        console.print(f"pilot kept: {found.pilot_run} (`populace resume {found.pilot_run.name}` finishes it)",
                      highlight=False, soft_wrap=True)


@app.command()
def interview(
    run_id: RunId,
    question: Annotated[str, typer.Argument(help="what to ask, e.g. \"What do you think of the rumour?\"")],
    at: Annotated[int | None, typer.Option("--at", help="the step (default: the last); agents answer as of "
                                                        "the checkpoint at or before it")] = None,
    agents: Annotated[str | None, typer.Option("--agents", help="who: a query over population columns, "
                                                                "e.g. \"age > 60\" (default: all)")] = None,
    sample: Annotated[int | None, typer.Option("--sample", help="ask this many of them, drawn at random "
                                                                "(default: 10 when --agents is not given)")] = None,
    structured: Annotated[str | None, typer.Option(
        "--structured", help="a JSON schema (file, or inline JSON) the answers must fit, e.g. a 1-5 scale")] = None,
    seed: Annotated[int, typer.Option(help="seed of the --sample draw")] = 0,
    set_: Annotated[list[str] | None, typer.Option("--set", help="change the model the agents are asked with: "
                                                                 "model.key=value (e.g. model.timeout=300)")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Ask agents of a run what they think as of a step, without changing the run."""
    import yaml

    from populace.operations.interview import interview as ask
    from populace.operations.interview import summary

    model: dict[str, Any] = {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("model.") or len(key) == len("model."):
            raise PopulaceError(f"--set {item!r}: give model.key=value (changes the model the agents are asked with)")
        model[key.removeprefix("model.")] = yaml.safe_load(value)
    found = ask(run_path(run_id, runs_dir), question, at=at, agents=agents, sample=sample,
                schema=_json_schema(structured) if structured is not None else None, model=model or None, seed=seed)
    said = "" if found.step == found.at else f" (the checkpoint at or before step {found.at})"
    console.print(f"as of step {found.step}{said}, {len(found.answers)} agent(s) asked: {found.question}",
                  highlight=False, markup=False, soft_wrap=True)
    table = Table("agent", "mind", "answered from", "answer")
    for answer in found.answers:
        text = answer.answer if answer.error is None else f"(no answer: {answer.error})"
        table.add_row(str(answer.agent), answer.tier, answer.basis, escape(text or ""))
    console.print(table)
    for line in summary(found):
        console.print(line, highlight=False, markup=False)
    if found.table is not None:
        console.print(f"recorded in {found.table}", highlight=False, markup=False, soft_wrap=True)


def _json_schema(source: str) -> dict[str, Any]:
    """A JSON schema given inline or as a file; one line when it is neither."""
    text = source
    if not source.lstrip().startswith("{"):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise PopulaceError(f"--structured {source}: cannot be read: {exc.strerror or exc}") from None
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise PopulaceError(f"--structured {source}: not JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise PopulaceError(f"--structured {source}: a JSON schema is an object, e.g. "
                            '{"type": "integer", "minimum": 1, "maximum": 5}')
    return schema


def _load(scenario: str, overrides: list[str] | None) -> Any:
    """A scenario with its overrides, its warnings said."""
    from populace.scenario import load_scenario

    sc = load_scenario(scenario, overrides or [])
    warn(sc.warnings)
    return sc


#: Modules that add commands to the app (each defines ``register(app)``); absent ones are skipped.
COMMAND_MODULES = (
    "populace.cli.models",       # replay, eval-model
    "populace.cli.reports",      # report, dashboard, fork
    "populace.cli.experiments",  # experiment, compare, calibrate
    "populace.cli.bench",        # bench
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
    """Entry point: user errors print one line each (a scenario may have several) and exit 2; nothing
    prints a traceback for them."""

    try:
        app()
    except RunFailedError as exc:  # the run ran, and went wrong as a whole
        err.print(f"[red]run failed:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(1)
    except PopulaceError as exc:
        for line in str(exc).split("\n"):
            err.print(f"[red]error:[/] {escape(line)}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted; `populace resume RUN` continues from the last checkpoint")
        sys.exit(130)
