"""Where and how a benchmark writes its results.

``results/<name>.json`` is committed; a ``--quick`` run writes ``results/<name>-quick.json`` beside
it (ignored by git), so a quick check never replaces it. Every file carries a ``run`` stamp: the
date, the machine and the versions of what was measured.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).resolve().parent / "results"
PACKAGES = ("populace", "numpy", "pyarrow", "duckdb", "ray", "llama-cpp-python", "httpx")


def in_fresh_process(argv: Sequence[str], cwd: Path | None = None,
                     env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh process (its imports, memory peak and CPU time its own) and
    return the JSON object it prints last; a failed process stops the benchmark with its error."""
    done = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, env=None if env is None else dict(env))
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv[1:]))} failed:\n{done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def results_file(name: str, quick: bool) -> Path:
    return DIRECTORY / (f"{name}-quick.json" if quick else f"{name}.json")


def stamp() -> dict[str, Any]:
    """When, where and with what versions this result was measured."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.machine(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "versions": versions,
    }


def write_results(out: Path, result: Any) -> None:
    """Write ``result`` as indented JSON, with the :func:`stamp` under ``run`` when it is an object."""
    if isinstance(result, dict):
        result = {"run": stamp(), **{k: v for k, v in result.items() if k != "run"}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
