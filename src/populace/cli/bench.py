"""The ``bench`` command: runs ``benchmarks/<part>.py [--quick]`` and tabulates their JSON results.

Each benchmark script prints its own table and writes ``benchmarks/results/<part>.json``; this
command runs the parts asked for, then shows every part's rows in one table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from populace.errors import PopulaceError

console = Console()


def benchmarks_dir() -> Path:
    """The source tree's ``benchmarks/`` (or ``POPULACE_BENCHMARKS``)."""
    env = os.environ.get("POPULACE_BENCHMARKS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "benchmarks"


def parts(directory: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(directory.glob("*.py")) if not p.stem.startswith("_")}


def rows_of(result: Any) -> list[dict[str, Any]]:
    """The first list of flat records in a result file (``rows``, ``results``, ...)."""
    if isinstance(result, list) and result and all(isinstance(r, dict) for r in result):
        return result
    if isinstance(result, dict):
        for key in ("rows", "results", "table"):
            if key in result:
                found = rows_of(result[key])
                if found:
                    return found
        for value in result.values():
            found = rows_of(value)
            if found:
                return found
    return []


def bench(
    names: Annotated[list[str] | None, typer.Argument(help="parts to run (default: all)")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="small sizes, for a fast check")] = False,
    show_only: Annotated[bool, typer.Option("--show", help="print committed results without running")] = False,
) -> None:
    """Run the benchmark suite, or named parts of it, and print one table of the results."""
    directory = benchmarks_dir()
    available = parts(directory)
    if not available:
        raise PopulaceError(f"no benchmarks found in {directory}")
    chosen = names or list(available)
    for name in chosen:
        if name not in available:
            from populace.errors import UnknownNameError

            raise UnknownNameError("benchmark", name, available)
    failed = []
    for name in [] if show_only else chosen:
        console.rule(name)
        started = time.monotonic()
        args = [sys.executable, str(available[name]), *(["--quick"] if quick else [])]
        if subprocess.run(args, cwd=directory.parent).returncode != 0:
            failed.append(name)
        console.print(f"{name}: {time.monotonic() - started:.0f} s")
    table = Table("part", "result", title="populace benchmarks")
    for name in chosen:
        file = directory / "results" / f"{name}.json"
        quick_file = directory / "results" / f"{name}-quick.json"
        if quick and not show_only and quick_file.is_file():
            file = quick_file
        if not file.is_file():
            table.add_row(name, "[yellow]no results")
            continue
        rows = rows_of(json.loads(file.read_text(encoding="utf-8")))
        for row in rows:
            table.add_row(name, "  ".join(f"{k}={_fmt(v)}" for k, v in row.items() if not isinstance(v, dict | list)))
    console.print(table)
    if failed:
        raise PopulaceError(f"benchmark(s) failed: {', '.join(failed)}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
