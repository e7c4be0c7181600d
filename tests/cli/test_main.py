from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def populace(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "populace", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, "COLUMNS": "250", **env})


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
    from populace.cli.main import DEFAULT_SCENARIO
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
        (["run", "wealth", "--steps", "-3"], "--steps -3: give a number of steps of at least 1"),
        (["run", "wealth", "--steps", "0"], "--steps 0: give a number of steps of at least 1"),
        # only building the simulation finds the unknown column: validate builds it
        (["validate", "opinion", "--set", "minds.0.select=nosuchcolumn == 1"], "no column 'nosuchcolumn'"),
        (["validate", "covid", "--set", "clock.step=1w"], "clock.step: the 'epidemic' world steps 1d at a time"),
        # an error while the simulation is built leaves no half-made run
        (["run", "opinion", "--set", "minds.0.select=nosuchcolumn == 1"], "no column 'nosuchcolumn'"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args: list[str], message: str, tmp_path: Path) -> None:
    done = populace(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert message in " ".join(done.stderr.split())
    assert len(done.stderr.strip().splitlines()) == 1
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # nothing was recorded, no half-made run


def test_schema_export(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    assert populace("schema", "--out", str(out)).returncode == 0
    assert "population" in json.loads(out.read_text())["properties"]


def test_out_files_go_into_new_directories(tmp_path: Path) -> None:
    schema = populace("schema", "--out", str(tmp_path / "new" / "dir" / "schema.json"))
    assert schema.returncode == 0, schema.stderr
    assert "population" in json.loads((tmp_path / "new" / "dir" / "schema.json").read_text())["properties"]
    figures = populace("eval-model", "scripted", "--limit", "2", "--out", str(tmp_path / "e" / "f" / "e.json"))
    assert figures.returncode == 0, figures.stderr
    assert "auc" in json.loads((tmp_path / "e" / "f" / "e.json").read_text())["scripted"]


@pytest.mark.parametrize("command", [["schema"], ["eval-model", "scripted", "--limit", "2"]])
def test_an_out_path_that_cannot_be_written_is_a_one_line_error(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    done = populace(*command, "--out", str(tmp_path / "file" / "out.json"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert f"cannot write {tmp_path / 'file' / 'out.json'}: {tmp_path / 'file'}: a file, not a directory" \
        in " ".join(done.stderr.split())
    assert (tmp_path / "file").read_text() == "x"


def test_calibrating_a_world_without_case_counts_names_its_metrics(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text("week,cases\n1,10\n2,20\n")
    done = populace("calibrate", "opinion", "--target", str(cases), "--metric", "new_cases", "--column", "cases",
                    "--aggregate", "sum", "--param", "minds.0.params.threshold=0.1:0.3", "--set", "population.size=50",
                    "--study", str(tmp_path / "study"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "the 'opinion' world reports no 'new_cases' metric to fit (its metrics: clusters, largest_cluster, " \
           "mean, variance)" in " ".join(done.stderr.split())


def test_list_shows_whole_first_sentences_without_rst_markup() -> None:
    from populace.cli.main import _first_sentence
    from populace.world import worlds

    assert _first_sentence(worlds.get("epidemic").__doc__ or "").endswith(
        "(each region its own households, workplaces and neighbourhoods; regions meet through city-wide "
        "prevalence and share the case level).")
    assert _first_sentence(worlds.get("social").__doc__ or "") == "A social-media platform (mode: twitter | reddit)."
    assert _first_sentence("Tasks (e.g. a\n  grid. Or not). More here.\n\nDetails.") == "Tasks (e.g. a grid. Or not)."
    assert _first_sentence("Version 2.5 of ``x``") == "Version 2.5 of x"
    listed = populace("list")
    assert listed.returncode == 0 and "``" not in listed.stdout


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


def test_a_bare_run_id_resolves_under_runs_dir_for_every_command_and_a_finished_run_is_not_resumed(
        tmp_path: Path) -> None:
    runs = tmp_path / "elsewhere"
    done = populace("run", "wealth", "--set", "population.size=100", "--set", "steps=6", "--runs-dir", str(runs),
                    POPULACE_PROGRESS_SECONDS="0")  # not a terminal: a plain progress line per step
    assert done.returncode == 0, done.stderr
    assert "wealth: step 3/6 (50 %), " in done.stdout and ", ETA " in done.stdout
    (run_dir,) = runs.iterdir()
    report = run_dir / "report.html"
    written = report.stat().st_mtime_ns
    for command in (["show"], ["report", "--out", str(tmp_path / "r.html")]):
        shown = populace(*command, run_dir.name, "--runs-dir", str(runs), cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
    assert (tmp_path / "r.html").is_file()
    resumed = populace("resume", run_dir.name, cwd=tmp_path, POPULACE_RUNS=str(runs))
    assert resumed.returncode == 0, resumed.stderr
    assert f"run {run_dir.name} is complete (6/6 steps); nothing to resume" in resumed.stdout
    assert report.stat().st_mtime_ns == written  # nothing was reloaded or rewritten
    missing = populace("show", run_dir.name, cwd=tmp_path)  # not under ./runs
    assert missing.returncode == 2 and "nor a run id under runs" in missing.stderr
    listed = populace("runs", "--runs-dir", str(runs), COLUMNS="50")
    assert run_dir.name in listed.stdout  # the id one copies is never cut, however narrow


def test_version_list_and_every_scenario_problem_on_its_own_line(tmp_path: Path) -> None:
    from populace.scenario import builtin_scenarios

    version = populace("--version")
    assert version.returncode == 0 and version.stdout.startswith("populace ")
    listed = populace("list", COLUMNS="80")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) < 40  # one row per world, not every action of every world
    assert all(name in listed.stdout for name in builtin_scenarios())
    opinion = populace("list", "opinion")
    assert "broadcast(value: float in [0, 1], share: float in [0, 1] = 0.05)" in opinion.stdout and "discuss" in opinion.stdout
    assert "neighbour_opinion" in opinion.stdout and "that neighbour's opinion (NaN: none met)" in opinion.stdout
    assert "create_post" in populace("list", "--long").stdout
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\nsteps: 5\npopulaton: {size: 10}\nworld: {type: opinion}\n"
                    "minds: [{select: all, policy: bounded_confidence}, {select: 'index < 3', policy: bounded_confidence}]\n"
                    "interventions: [{at: 9h, call: broadcast, args: {value: high}}]\n"
                    "model: {backend: openai, base_url: 'http://127.0.0.1:9/v1', threads: 2}\n", encoding="utf-8")
    done = populace("validate", str(spec))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert [line.split(": ")[2] for line in done.stderr.strip().splitlines()] == ["populaton"]  # schema first
    spec.write_text(spec.read_text().replace("populaton", "population"), encoding="utf-8")
    done = populace("validate", str(spec))
    lines = done.stderr.strip().splitlines()
    assert all(line.startswith("error: bad.yaml: ") for line in lines), lines
    assert [line.split(": ")[2] for line in lines] == [
        "interventions.0.args.value", "model.threads", "minds.1", "interventions.0.at"]
