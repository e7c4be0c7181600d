"""The ``calibrate`` command: fit scenario parameters to observed weekly case counts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from populace.errors import ScenarioError
from populace.worlds.epidemic.calibration import calibrate, read_weekly_cases


def parse_range(spec: str) -> tuple[str, tuple[float, float]]:
    """``key.path=LOW:HIGH`` -> (key.path, (LOW, HIGH))."""
    key, sep, bounds = spec.partition("=")
    low, colon, high = bounds.partition(":")
    try:
        if not (sep and colon and key):
            raise ValueError
        lo, hi = float(low), float(high)
    except ValueError:
        raise ScenarioError(f"--fit {spec!r} must look like key.path=LOW:HIGH, e.g. world.params.disease.r0=1.5:4") \
            from None
    if hi < lo:
        raise ScenarioError(f"--fit {spec!r}: LOW must not exceed HIGH")
    return key, (lo, hi)


def calibrate_command(
    scenario: Annotated[str, typer.Argument(help="built-in name or YAML file")],
    cases: Annotated[Path, typer.Argument(help="CSV with a 'cases' column, one row per week")],
    fit: Annotated[list[str], typer.Option("--fit", help="key.path=LOW:HIGH; once or twice")],
    points: Annotated[int, typer.Option(help="grid points per parameter per round")] = 5,
    rounds: Annotated[int, typer.Option(help="rounds of grid refinement")] = 3,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="override a field: key.path=value")] = None,
) -> None:
    """Fit one or two scenario parameters to observed weekly case counts (coarse-to-fine grid search)."""
    ranges = dict(parse_range(spec) for spec in fit)
    result = calibrate(read_weekly_cases(cases), scenario, ranges, points=max(points, 2),
                       rounds=max(rounds, 1), overrides=overrides or [])
    for key, value in result.best.items():
        typer.echo(f"{key} = {value:g}")
    typer.echo(f"fit error (normalised RMSE) = {result.error:.4f} over {len(result.tried)} simulations")
    typer.echo("simulated weekly cases: " + ", ".join(f"{v:g}" for v in result.simulated))


def register(app: typer.Typer) -> None:
    """Add ``populace calibrate`` to the command-line app."""
    app.command("calibrate")(calibrate_command)
