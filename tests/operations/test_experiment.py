"""Experiments: a shipped scenario over seeds and a grid, in local processes or Ray tasks with the same
results, resumed after a kill, its intervals and tests equal to ones computed by hand from the runs."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from populace import analysis
from populace.cli import app
from populace.operations.experiment import Experiment, Results
from populace.operations.jobs import finished
from populace.runs import Run

SMALL = ["population.size=100", "steps=12"]
GRID = {"minds.0.params.herd": [0, 0.6]}


@pytest.fixture(scope="module")
def herd_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Experiment, Results]:
    runs = tmp_path_factory.mktemp("sweep")
    experiment = Experiment("herd-effect", seeds=3, grid=GRID, overrides=SMALL, runs_dir=runs, jobs=1,
                            baseline="herd=0")
    return experiment, experiment.run()


def test_each_run_is_a_normal_run_and_the_tables_hold_every_run_step_and_metric(herd_sweep: tuple[Experiment, Results]) -> None:
    experiment, results = herd_sweep
    assert [c.label for c in experiment.cells] == ["herd=0", "herd=0.6"]
    ids = sorted(p.name for p in experiment.path.iterdir() if (p / "run.json").is_file())
    assert ids == ["c0-seed3", "c0-seed4", "c0-seed5", "c1-seed3", "c1-seed4", "c1-seed5"]  # herd-effect's seed is 3
    run = Run.open(experiment.path / "c1-seed4")
    assert run.status() == "completed" and run.manifest()["seed"] == 4
    assert run.scenario().minds[0].params()["params"]["herd"] == 0.6
    table = results.results
    assert list(table.columns) == ["run", "cell", "minds.0.params.herd", "seed", "step", "time", "metric", "value"]
    metrics = analysis.metrics(run.path)
    assert len(table) == 6 * metrics.size
    mine = table[table["run"] == "c1-seed4"].pivot_table(index="step", columns="metric", values="value")
    pd.testing.assert_frame_equal(mine, metrics, check_names=False, check_index_type=False)
    began = table[table["run"] == "c1-seed4"].merge(analysis.steps(run.path), on="step", suffixes=("", "_step"))
    assert len(began) == metrics.size and (began["time"] == began["time_step"]).all()  # when each step began
    for name in ("results.parquet", "summary.parquet", "comparison.parquet", "report.html"):
        assert (experiment.path / name).is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(experiment.path / "results.parquet"), table)


def test_the_summary_interval_and_the_comparison_equal_ones_computed_by_hand_from_the_runs(herd_sweep: tuple[Experiment, Results]) -> None:
    experiment, results = herd_sweep
    final = {label: [analysis.metrics(experiment.path / f"{prefix}-seed{s}")["herd_up_score"].iloc[-1]
                     for s in (3, 4, 5)] for label, prefix in (("herd=0", "c0"), ("herd=0.6", "c1"))}
    values = np.array(final["herd=0.6"])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
    summary = results.summary
    row = summary[(summary["cell"] == "herd=0.6") & (summary["metric"] == "herd_up_score")
                  & (summary["step"] == 11)].iloc[0]
    assert row["n"] == 3 and row["minds.0.params.herd"] == 0.6
    assert row["mean"] == pytest.approx(values.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((values.mean() - half, values.mean() + half))
    welch = stats.ttest_ind(values, final["herd=0"], equal_var=False)
    compared = results.comparison.set_index(["cell", "metric"]).loc[("herd=0.6", "herd_up_score")]
    assert compared["difference"] == pytest.approx(values.mean() - np.mean(final["herd=0"]))
    assert compared["p"] == pytest.approx(welch.pvalue)
    interval = welch.confidence_interval(0.95)
    assert (compared["ci_low"], compared["ci_high"]) == pytest.approx((interval.low, interval.high))


def test_the_experiment_report_draws_a_band_per_cell(herd_sweep: tuple[Experiment, Results]) -> None:
    results = herd_sweep[1]
    assert results.report is not None
    html = results.report.read_text(encoding="utf-8")
    assert "<script" not in html and "http" not in html.split("<svg")[0]  # one file, nothing fetched
    assert 'data-metric="herd_up_score"' in html and ">herd=0.6</text>" in html
    assert html.count("<pattern") >= 1  # the second cell's band is hatched, so it prints apart
    assert 'data-metric="likes"' not in html and "<th>likes</th>" in html  # never changes: one line


def test_local_processes_and_ray_tasks_give_identical_tables(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra is part of the dev install")
    tables = {}
    for executor in ("local", "ray"):
        experiment = Experiment("herd-effect", seeds=2, grid=GRID, overrides=["population.size=80", "steps=8"],
                                runs_dir=tmp_path / executor, executor=executor, jobs=2, baseline="herd=0")
        results = experiment.run(report=False)
        assert set(results.outcomes.values()) == {"done"}
        tables[executor] = results
    pd.testing.assert_frame_equal(tables["local"].results, tables["ray"].results)
    pd.testing.assert_frame_equal(tables["local"].summary, tables["ray"].summary)
    pd.testing.assert_frame_equal(tables["local"].comparison, tables["ray"].comparison)


def _steps_written(run: Path) -> int:
    parts = sorted((run / "steps").glob("*.parquet")) if (run / "steps").is_dir() else []
    return int(parts[-1].stem.split("-")[1]) + 1 if parts else 0


def test_a_killed_experiment_skips_its_finished_runs_resumes_the_others_and_ends_identical(tmp_path: Path) -> None:
    spec = {"name": "killed", "scenario": "herd-effect", "seeds": 2, "grid": GRID,
            "set": ["population.size=150", "steps=32", "trace.flush_every=2", "trace.checkpoint_every=4"]}
    file = tmp_path / "killed.yaml"
    file.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
    runs = tmp_path / "runs"
    folder = runs / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "populace", "experiment", str(file), "--runs-dir", str(runs),
                             "--jobs", "1", "-q", "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and _steps_written(folder / "c0-seed4") <= 12:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-way through the second run, after a checkpoint
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert finished(folder / "c0-seed3") and not finished(folder / "c0-seed4")
    assert not (folder / "c1-seed3").exists()
    first = (folder / "c0-seed3" / "run.json").read_bytes()

    again = CliRunner().invoke(app, ["experiment", str(file), "--runs-dir", str(runs), "--jobs", "1", "-q",
                                     "--no-report"])
    assert again.exit_code == 0, again.output
    assert "4 runs (2 run, 1 resumed, 1 finished before)" in " ".join(again.output.split())
    assert (folder / "c0-seed3" / "run.json").read_bytes() == first  # skipped: not touched

    whole = Experiment.from_file(file, tmp_path / "whole", jobs=1).run(report=False)
    resumed = Experiment.open(folder).tables()
    pd.testing.assert_frame_equal(resumed.results, whole.results)
    pd.testing.assert_frame_equal(resumed.summary, whole.summary)


def _populace(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "populace", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, "COLUMNS": "250"})


@pytest.mark.parametrize(("args", "message"), [
    (["run", "herd-effect", "--seeds", "2", "--sweep", "minds.0.params.hred=0,1"],
     "cell hred=0: herd-effect.yaml: minds.0.params.hred: unknown"),
    (["run", "herd-effect", "--sweep", "minds.0.params.herd"], "--sweep 'minds.0.params.herd' must look like "
                                                               "key.path=v1,v2,..."),
    (["run", "herd-effect", "--sweep", "minds.0.params.herd=0,1", "--compare", "herd=2"],
     "--compare 'herd=2': no such cell (cells: herd=0, herd=1)"),
    (["run", "herd-effect", "--seeds", "0"], "seeds: give at least 1 seed"),
    (["experiment", "nothing.yaml"], "experiment file 'nothing.yaml' does not exist"),
])
def test_experiment_errors_are_one_line_and_record_nothing(args: list[str], message: str, tmp_path: Path) -> None:
    done = _populace(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert message in " ".join(done.stderr.split())
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


FAILING_PLUGIN = '''
from populace.actions import Actions
from populace.errors import PopulaceError
from populace.policy import policy


@policy("experiment_refuses_41")
def refuses_41(obs, mind):
    if mind.population.size == 41:
        raise PopulaceError("this policy refuses 41 agents")
    givers = obs.agents[obs["wealth"] > 0]
    return [Actions("give", givers, {"to": (givers + 1) % mind.population.size})]
'''


def test_a_failing_run_leaves_the_others_in_the_tables_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "experiment_refusing_plugin.py").write_text(FAILING_PLUGIN, encoding="utf-8")
    (tmp_path / "refusing.yaml").write_text(
        "name: refusing\nplugins: [experiment_refusing_plugin.py]\nsteps: 4\npopulation: {size: 40}\n"
        "world: {type: wealth}\nminds: [{type: rules, policy: experiment_refuses_41}]\n", encoding="utf-8")
    experiment = Experiment(tmp_path / "refusing.yaml", seeds=2, grid={"population.size": [40, 41]},
                            runs_dir=tmp_path / "runs", jobs=1)
    results = experiment.run(report=False)
    assert results.failed == {"c1-seed0": "this policy refuses 41 agents", "c1-seed1": "this policy refuses 41 agents"}
    assert set(results.results["run"]) == {"c0-seed0", "c0-seed1"}
    done = CliRunner().invoke(app, ["experiment", str(experiment.path), "-q"])
    assert done.exit_code == 1
    assert "run failed: c1-seed0: this policy refuses 41 agents" in done.output
    assert "2 of 4 runs failed" in done.output and "(0 run, 0 resumed, 2 finished before)" in done.output


CRASHING_PLUGIN = '''
import os
import signal

from populace.actions import Actions
from populace.policy import policy


@policy("experiment_dies_at_41")
def dies_at_41(obs, mind):
    if mind.population.size == 41:
        os.kill(os.getpid(), signal.SIGKILL)  # as a crash in native code would
    givers = obs.agents[obs["wealth"] > 0]
    return [Actions("give", givers, {"to": (givers + 1) % mind.population.size})]
'''


def test_a_worker_process_that_dies_fails_its_runs_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "experiment_dying_plugin.py").write_text(CRASHING_PLUGIN, encoding="utf-8")
    (tmp_path / "dying.yaml").write_text(
        "name: dying\nplugins: [experiment_dying_plugin.py]\nsteps: 4\npopulation: {size: 40}\n"
        "world: {type: wealth}\nminds: [{type: rules, policy: experiment_dies_at_41}]\n", encoding="utf-8")
    experiment = Experiment(tmp_path / "dying.yaml", seeds=1, grid={"population.size": [40, 41]},
                            runs_dir=tmp_path / "runs", jobs=2)
    results = experiment.run(report=False)
    assert "its worker process died" in results.failed["c1-seed0"]
    assert set(results.outcomes) == {"c0-seed0", "c1-seed0"}  # every run is accounted for, none raised
