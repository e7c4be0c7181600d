from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def populace(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "populace", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_run_list_runs_show_validate(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = populace("run", "wealth", "--set", "population.size=200", "--set", "steps=12", "--runs-dir", str(runs))
    assert done.returncode == 0, done.stderr
    assert "final metrics: gini=" in done.stdout
    (run_dir,) = runs.iterdir()
    listed = populace("runs", "--runs-dir", str(runs))
    assert run_dir.name in listed.stdout and "completed" in listed.stdout
    shown = populace("show", str(run_dir))
    assert shown.returncode == 0, shown.stderr
    assert "give" in shown.stdout and "gini" in shown.stdout
    assert "wealth" in populace("list").stdout
    assert "valid" in populace("validate", "opinion").stdout


def test_no_argument_runs_the_default_scenario(tmp_path: Path) -> None:
    from populace.cli import DEFAULT_SCENARIO
    from populace.scenario import load_scenario

    small = ["--set", "steps=1"]
    if load_scenario(DEFAULT_SCENARIO).population.size:
        small += ["--set", "population.size=50"]
    done = populace("run", *small, cwd=tmp_path)  # the real embedded model, offline
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith(DEFAULT_SCENARIO)
    report = run_dir / "report.html"
    assert "report:" in done.stdout and "report.html" in done.stdout  # make run prints where the report is
    assert report.is_file() and "<script src=" not in report.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "welth"], "unknown scenario 'welth'; did you mean 'wealth'?"),
        (["run", "wealth", "--set", "schedule.order=chaos"], "schedule.order: 'chaos' is not accepted"),
        (["validate", "missing.yaml"], "does not exist"),
        (["resume", "no-such-run"], "is not a run directory"),
        (["show", "no-such-run"], "is not a run directory"),
        (["run", "opinion", "--set", "world.partitions=2"], "the 'opinion' world is global and cannot be partitioned"),
        (["run", "covid-regions", "--actors", "2"], "--address and --actors are for --executor ray"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args: list[str], message: str, tmp_path: Path) -> None:
    done = populace(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert message in " ".join(done.stderr.split())
    assert len(done.stderr.strip().splitlines()) == 1


def test_schema_export(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    assert populace("schema", "--out", str(out)).returncode == 0
    assert "population" in json.loads(out.read_text())["properties"]


def test_read_only_run_directory_is_a_clean_error(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    runs.chmod(0o500)
    try:
        done = populace("run", "wealth", "--set", "steps=2", "--runs-dir", str(runs))
    finally:
        runs.chmod(0o700)
    if os.geteuid() == 0:  # root ignores directory permissions; use a path under a file instead
        blocker = tmp_path / "file"
        blocker.write_text("x")
        done = populace("run", "wealth", "--set", "steps=2", "--runs-dir", str(blocker / "runs"))
    assert done.returncode == 2
    assert "cannot create run directory" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_model_server_stops_the_run_before_any_step(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = populace(
        "run", "wealth", "--set", "population.size=20", "--set", "steps=3", "--runs-dir", str(runs),
        "--set", "minds=[{type: archetype, prompt: 'You have {obs.wealth}. {options}', options: [give, keep]}]",
        "--set", "model={backend: openai, base_url: 'http://127.0.0.1:9/v1', model: m, timeout: 2, retries: 0}",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "127.0.0.1:9" in done.stderr
    (run_dir,) = runs.iterdir()
    assert not list((run_dir / "steps").glob("*.parquet"))  # not a single step ran
