"""Where the data files a scenario names are found: beside the user, or among the built-in scenarios."""

from __future__ import annotations

import os
from pathlib import Path


def scenarios_dir() -> Path:
    """Where the built-in scenarios live (packaged copy, else the source tree)."""
    env = os.environ.get("POPULACE_SCENARIOS")
    if env:
        return Path(env)
    packaged = Path(__file__).parent / "_scenarios"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "scenarios"


def data_path(path: str, base: Path | None = None) -> Path:
    """A data file named in a scenario: absolute, else relative to ``base`` (default: the working
    directory) where it exists there, else to the built-in scenarios folder where it exists there,
    else relative to ``base`` (so that the error names the path the user meant)."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    local = base / candidate if base is not None else candidate
    if local.exists():
        return local
    packaged = scenarios_dir() / candidate
    return packaged if packaged.exists() else local
