"""Command-line commands for language models: ``populace replay`` and ``populace eval-model``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from populace.errors import RunError
from populace.outputs import write_output

console = Console()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``populace`` app."""
    app.command("replay")(replay)
    app.command("eval-model")(eval_model)


def replay(
    run_id: Annotated[str, typer.Argument(help="run directory, or run id under --runs-dir")],
    runs_dir: Annotated[Path | None, typer.Option("--runs-dir", help="where a bare RUN id is looked up and the "
                                                  "replay goes (default: $POPULACE_RUNS or ./runs; the replay "
                                                  "beside the original)")] = None,
) -> None:
    """Re-run a run from its response cache with no model calls, and compare the two traces."""
    from populace.cli.console import run_path
    from populace.operations.replay import replay_run

    result = replay_run(run_path(run_id, runs_dir), runs_dir)
    usage = result.usage
    if result.start:
        console.print(f"replayed steps {result.start}-{result.steps - 1} of {result.original.name}, a fork, from "
                      f"the state it was forked from at step {result.start} -> {result.replay}", soft_wrap=True)
    else:
        console.print(f"replayed {result.steps} steps of {result.original.name} -> {result.replay}", soft_wrap=True)
    console.print(f"model calls: {usage.calls}, answers from the cache: {usage.cache_hits}")
    if result.difference and result.misses:  # the cache lacks answers the original had: say which
        more = f" (and {len(result.misses) - 1} more)" if len(result.misses) > 1 else ""
        raise RunError(f"replay_miss: {result.misses[0]}{more}")
    if result.difference:
        console.print(f"[red]different[/]: {result.difference}")
        raise typer.Exit(1)
    if result.misses:
        console.print(f"{len(result.misses)} request(s) had no cached answer and failed, as they had in the original")
    console.print("[green]identical[/]: every event and metric matches the original")


def eval_model(
    backend: Annotated[str, typer.Argument(help="embedded, openai or scripted")] = "embedded",
    model: Annotated[str | None, typer.Option(help="model name (openai) or GGUF name/path (embedded)")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL")] = None,
    api_key_env: Annotated[str | None, typer.Option("--api-key-env", help="variable holding the API key")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for the embedded model")] = None,
    concurrency: Annotated[int, typer.Option(help="requests in flight at once")] = 8,
    limit: Annotated[int | None, typer.Option(help="score only this many yes/no pairs (quick check)")] = None,
    encoder: Annotated[str, typer.Option(help="sentence encoder of the similarity tier's figures")] = "minilm",
    out: Annotated[Path | None, typer.Option(help="also write the figures to this JSON file")] = None,
) -> None:
    """Measure persona-conditioned decisions: AUC of P(yes) with its interval, position bias, JSON validity, cost."""
    from populace.errors import ScenarioError
    from populace.llm.fidelity import evaluate_similarity, planned_calls, run_evaluation, similarity_scorer, verdict
    from populace.progress import progress
    from populace.scenario import unused_model_fields

    spec: dict[str, Any] = {"backend": backend, "concurrency": concurrency}
    for key, value in (("model", model), ("base_url", base_url), ("api_key_env", api_key_env),
                       ("threads", threads)):
        if value is not None:
            spec[key] = value
    unused = unused_model_fields(spec)  # e.g. --threads with the openai backend: it would be ignored
    if unused:
        raise ScenarioError(f"--{unused[0][0].replace('_', '-')}: {unused[0][1]}")
    label = backend if model is None else f"{backend}:{model}"
    with progress(console, f"eval-model {label}", planned_calls(limit), unit="model call") as advance:
        figures = {label: run_evaluation(spec, limit=limit, progress=lambda done, _planned: advance(done, ""))}
    scorer = similarity_scorer(encoder)
    if scorer is not None:
        figures["similarity tier"] = evaluate_similarity(scorer)
    table = Table("figure", *figures, title="decision fidelity on built-in persona-post pairs")
    names = list(dict.fromkeys(k for f in figures.values() for k in f))
    for name in names:
        table.add_row(name, *(_cell(f.get(name)) for f in figures.values()))
    console.print(table)
    if scorer is None:
        console.print("similarity tier: not installed in this build, so no figures beside it")
    measured = figures[label]
    judged = verdict(measured)
    line = judged
    if not math.isnan(measured["auc"]):
        matching = int(measured["matching"])
        other = int(measured["pairs"] - measured["failed_decisions"]) - matching
        line = (f"AUC {measured['auc']:.2f} (95 % interval {measured['auc_low']:.2f}-{measured['auc_high']:.2f}; "
                f"{matching} matching, {other} other pairs): {judged}")
    if judged == "persona-driven":
        console.print(line, soft_wrap=True)
    else:
        console.print(f"[yellow]{line}: do not read this model's yes/no choices as persona-driven behaviour[/]",
                      soft_wrap=True)
    if out is not None:
        written = write_output(out, json.dumps(figures, indent=2) + "\n")
        console.print(f"wrote {written}")


def _cell(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}"
