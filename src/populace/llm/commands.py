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
    run_id: Annotated[str, typer.Argument(help="run directory or id")],
    runs_dir: Annotated[Path | None, typer.Option("--runs-dir", help="where the replay run goes "
                                                  "(default: beside the original)")] = None,
) -> None:
    """Re-run a run from its response cache with no model calls, and compare the two traces."""
    from populace.llm.replay import replay_run

    result = replay_run(Path(run_id), runs_dir)
    usage = result.usage
    console.print(f"replayed {result.steps} steps of {result.original.name} -> {result.replay}")
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
    """Measure persona-conditioned decisions: AUC of P(yes), position bias, JSON validity, cost."""
    from populace.llm.fidelity import evaluate_similarity, run_evaluation, similarity_scorer

    spec: dict[str, Any] = {"backend": backend, "concurrency": concurrency}
    for key, value in (("model", model), ("base_url", base_url), ("api_key_env", api_key_env),
                       ("threads", threads)):
        if value is not None:
            spec[key] = value
    figures = {backend if model is None else f"{backend}:{model}": run_evaluation(spec, limit=limit)}
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
    auc = next(iter(figures.values()))["auc"]
    if not math.isnan(auc) and auc < 0.6:
        console.print(f"[yellow]AUC {auc:.2f} is near chance: do not read this model's yes/no choices as "
                      "persona-driven behaviour[/]")
    if out is not None:
        written = write_output(out, json.dumps(figures, indent=2) + "\n")
        console.print(f"wrote {written}")


def _cell(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}"
