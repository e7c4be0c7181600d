"""Where a benchmark writes its results: the committed ``results/<name>.json``, or for a ``--quick``
run ``results/<name>-quick.json`` beside it (ignored by git), so a quick check never replaces them."""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / "results"


def results_file(name: str, quick: bool) -> Path:
    return DIRECTORY / (f"{name}-quick.json" if quick else f"{name}.json")
