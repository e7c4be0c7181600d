from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from populace.cli.bench import parts, rows_of


def test_rows_are_found_in_any_result_shape() -> None:
    assert rows_of({"machine": {"cpus": 2}, "rows": [{"n": 1}]}) == [{"n": 1}]
    assert rows_of({"results": {"table": [{"n": 2}]}}) == [{"n": 2}]
    assert rows_of([{"n": 3}]) == [{"n": 3}]
    assert rows_of({"machine": {}}) == []


def test_bench_runs_named_parts_and_prints_one_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "toy.py").write_text(
        "import json, sys, pathlib\n"
        "rows = [{'n': 10 if '--quick' in sys.argv else 1000, 'agent_steps_per_s': 1.5e6}]\n"
        "pathlib.Path(__file__).with_name('results').joinpath('toy.json').write_text(json.dumps({'rows': rows}))\n"
    )
    (tmp_path / "broken.py").write_text("raise SystemExit(3)\n")
    assert set(parts(tmp_path)) == {"toy", "broken"}
    env = {"POPULACE_BENCHMARKS": str(tmp_path), "COLUMNS": "200"}
    import os

    done = subprocess.run([sys.executable, "-m", "populace", "bench", "toy", "--quick"], capture_output=True,
                          text=True, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    assert "n=10" in done.stdout and "agent_steps_per_s=1.5e+06" in done.stdout
    assert json.loads((tmp_path / "results" / "toy.json").read_text())["rows"][0]["n"] == 10
    failed = subprocess.run([sys.executable, "-m", "populace", "bench", "broken"], capture_output=True, text=True,
                            env={**os.environ, **env})
    assert failed.returncode == 2 and "benchmark(s) failed: broken" in failed.stderr
    unknown = subprocess.run([sys.executable, "-m", "populace", "bench", "nope"], capture_output=True, text=True,
                             env={**os.environ, **env})
    assert unknown.returncode == 2 and "unknown benchmark 'nope'" in unknown.stderr
