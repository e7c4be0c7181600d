"""populace calibrate: any world's numeric fields fitted to a series on simulated time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from populace.errors import ScenarioError
from populace.operations.calibrate import Parameter, calibrate, journal
from populace.operations.targets import nrmse, read_target
from populace.scenario import load_scenario
from populace.simulation import Simulation

#: the opinion world, small and fast: one mind tier, everyone active, a campaign at hour 10
OPINION = ["population.size=300", "steps=40", "trace.events=none", "schedule.activity=always",
           "minds=[{type: rules, policy: bounded_confidence, params: {threshold: 0.2}}]",
           "interventions=[{at: 10h, call: broadcast, args: {value: 0.9, share: 0.1}}]"]


def opinion_target(path: Path, *values: str, seed: int = 11) -> Path:
    """The opinion world's mean and variance of opinions, hour by hour, at the given field values."""
    scenario = load_scenario("opinion", [*OPINION, f"seed={seed}", *values])
    metrics = Simulation(scenario).run().metrics()
    path.write_text("hour,mean,variance\n" + "".join(f"{k + 1},{m},{v}\n" for k, (m, v) in
                                                      enumerate(zip(metrics["mean"], metrics["variance"], strict=True))))
    return path


def test_the_opinion_world_fitted_to_its_own_series_recovers_its_parameters(tmp_path: Path) -> None:
    # Everyone within reach (threshold 1): the variance falls at a rate set by mu, and the campaign
    # moves the mean by share x (0.9 - mean). The target is the world's own series at mu 0.1 and
    # share 0.2, from the seed every candidate runs with (common random numbers): the known values
    # score 0, so this measures the search and the whole pipeline, not the model's noise (the
    # epidemic test below fits across seeds). 30 candidates in two dimensions land within 0.02 of
    # mu and 0.05 of share (sampler seeds 0-3: mu 0.092-0.109, share 0.166-0.217).
    known = ["minds.0.params.threshold=1", "world.params.mu=0.1", "interventions.0.args.share=0.2"]
    target = opinion_target(tmp_path / "opinion.csv", *known)
    fit = calibrate("opinion", ["world.params.mu=0.02:0.5", "interventions.0.args.share=0:0.5"], target,
                    tmp_path / "study", metric=["mean", "variance"], train="30", trials=30,
                    overrides=[*OPINION, "minds.0.params.threshold=1"])
    assert abs(fit.best["world.params.mu"] - 0.1) <= 0.02
    assert abs(fit.best["interventions.0.args.share"] - 0.2) <= 0.05
    assert set(fit.errors) == {"mean", "variance"} and fit.train_error < 0.02
    assert fit.train_error == pytest.approx((fit.errors["mean"][0] + fit.errors["variance"][0]) / 2)
    table = fit.table[fit.table["measure"] == "variance"]
    assert len(table) == 40 and (table["window"] == "fit").sum() == 30
    trials = json.loads((tmp_path / "study" / "trials.json").read_text())
    errors = [t["train_nrmse"] for t in trials]
    assert len(trials) == 30 and fit.train_error == min(errors) and max(errors) > 5 * fit.train_error
    # the calibrated scenario holds the fitted values, says what was fitted, and runs
    calibrated = yaml.safe_load((tmp_path / "study" / "calibrated.yaml").read_text())
    assert calibrated["world"]["params"]["mu"] == pytest.approx(fit.best["world.params.mu"], rel=1e-5)
    assert "Calibrated: world.params.mu=" in calibrated["description"] and "opinion.csv" in calibrated["description"]
    assert load_scenario(tmp_path / "study" / "calibrated.yaml").interventions[0].args["share"] == \
        pytest.approx(fit.best["interventions.0.args.share"], rel=1e-5)
    for measure in ("mean", "variance"):
        assert (tmp_path / "study" / f"fit-{measure}.svg").read_text().lstrip().startswith("<svg")
    lines = (tmp_path / "study" / "fit.csv").read_text().splitlines()
    assert lines[0] == "measure,time,seconds,target,simulated,low,high,window" and len(lines) == 81
    # ... and names what it was fitted to, so that a run's report scores it there, held-out hours apart
    assert calibrated["observed"] == {"file": "../opinion.csv", "metrics": {"mean": "mean", "variance": "variance"},
                                      "time_column": None, "time_unit": None, "fitted": "30h"}
    run = Simulation.from_scenario(tmp_path / "study" / "calibrated.yaml", ["seed=11"], runs_dir=tmp_path / "runs")
    run.run()
    assert run.path is not None
    from populace.report.html import render_report

    section = render_report(run.path).split('id="observed"')[1].split("</table>")[0]
    fitted_rows, fitted_error, held_rows, _ = re.findall(r'<td class="num">([^<]*)</td>',
                                                         section.split("<tr><td>variance</td>")[1])[:4]
    assert (fitted_rows, held_rows) == ("30", "10") and float(fitted_error) < 0.05


def test_a_study_resumes_and_skips_its_done_trials(tmp_path: Path) -> None:
    target = opinion_target(tmp_path / "opinion.csv")
    small = [*OPINION, "steps=20"]
    args = dict(metric="variance", overrides=small, seeds=1)
    first = calibrate("opinion", ["minds.0.params.threshold=0.05:0.5"], target, tmp_path / "s", trials=3, **args)
    before = json.loads((tmp_path / "s" / "trials.json").read_text())
    # a trial begun by a call that was stopped (killed mid-trial) is neither a result nor counted
    import optuna

    optuna.load_study(study_name="calibration", storage=journal(tmp_path / "s")).ask()
    calls: list[int] = []
    second = calibrate("opinion", ["minds.0.params.threshold=0.05:0.5"], target, tmp_path / "s", trials=5,
                       progress=lambda done, total, note: calls.append(done), **args)
    after = json.loads((tmp_path / "s" / "trials.json").read_text())
    assert calls == [4, 5] and first.trials == 3 and second.trials == 5 and second.resumed == 3
    assert [t["params"] for t in after[:3]] == [t["params"] for t in before]
    assert [t["state"] for t in after] == ["complete"] * 3 + ["fail"] + ["complete"] * 2
    assert after[3]["error"] == "interrupted"
    calls.clear()
    again = calibrate("opinion", ["minds.0.params.threshold=0.05:0.5"], target, tmp_path / "s", trials=5,
                      progress=lambda done, total, note: calls.append(done), **args)
    assert calls == [] and again.best == second.best
    # other settings in the same folder are refused, not mixed in
    with pytest.raises(ScenarioError, match=r"holds a calibration with other settings \(parameters\)"):
        calibrate("opinion", ["minds.0.params.threshold=0.1:0.5"], target, tmp_path / "s", trials=5, **args)


def test_trials_in_worker_processes_match_trials_here(tmp_path: Path) -> None:
    target = opinion_target(tmp_path / "opinion.csv")
    small = [*OPINION, "steps=20"]
    for jobs in (1, 2):
        calibrate("opinion", ["minds.0.params.threshold=0.05:0.5"], target, tmp_path / f"j{jobs}", trials=2,
                  metric="variance", overrides=small, jobs=jobs)
    here, workers = (json.loads((tmp_path / f"j{j}" / "trials.json").read_text()) for j in (1, 2))
    assert [(t["params"], t["train_nrmse"]) for t in here] == [(t["params"], t["train_nrmse"]) for t in workers]


def test_weekly_cases_fit_r0_through_the_general_tool(tmp_path: Path) -> None:
    """The epidemic's weekly case counts: daily new_cases summed per week (--aggregate sum)."""
    base = ["population.size=10000", "minds.0.params.caution=0.05", "trace.events=none"]
    daily = Simulation(load_scenario("covid", [*base, "steps=63", "world.params.disease.r0=2.2"])).run().metrics()
    weekly = daily["new_cases"].to_numpy().reshape(9, 7).sum(axis=1)
    cases = tmp_path / "cases.csv"
    cases.write_text("week,cases\n" + "".join(f"{w + 1},{c}\n" for w, c in enumerate(weekly)))
    # fitted on a different seed: the model's own noise, not a replay of the same draws
    fit = calibrate("covid", ["world.params.disease.r0=1.4:3.4"], cases, tmp_path / "s", metric="new_cases",
                    column="cases", aggregate="sum", trials=10, overrides=[*base, "seed=5"])
    assert abs(fit.best["world.params.disease.r0"] - 2.2) <= 0.25
    assert fit.table["simulated"].sum() > 0 and len(fit.table) == 9
    assert nrmse(fit.table["simulated"], fit.table["target"]) == pytest.approx(fit.train_error)


def test_target_series_are_read_on_simulated_time(tmp_path: Path) -> None:
    from datetime import datetime

    minutes = tmp_path / "m.csv"
    minutes.write_text("minute,scale,depth\n0,1,0\n1,11,1\n2,15,1\n")
    t = read_target(minutes, cascades=["scale", "depth"], metrics=["cascade_scale=scale"])
    assert t.seconds == (0.0, 60.0, 120.0)
    assert [(m.kind, m.name, m.column, m.values) for m in t.measures] == [
        ("metric", "cascade_scale", "scale", (1.0, 11.0, 15.0)), ("cascade", "scale", "scale", (1.0, 11.0, 15.0)),
        ("cascade", "depth", "depth", (0.0, 1.0, 1.0))]
    stamps = tmp_path / "s.csv"
    stamps.write_text("when,posts\n2025-01-01T09:00:00Z,3\n2025-01-01T10:30:00Z,5\n")
    t = read_target(stamps, metrics=["posts"], start=datetime(2025, 1, 1, 8))
    assert t.seconds == (3600.0, 9000.0)
    counts = tmp_path / "c.csv"
    counts.write_text("t,cases\n1,2\n2,3\n")
    assert read_target(counts, metrics=["new_cases"], column="cases", time_unit="1d").seconds == (86400.0, 172800.0)
    assert nrmse([1.0, 3.0], [2.0, 4.0]) == pytest.approx(1 / 4)
    assert np.isnan(nrmse([], []))


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: read_target(p, metrics=["scale"], time_column="hour"), "has no time column 'hour' (name it with "
                                                                      "--time-column); its columns: minute, scale"),
    (lambda p: read_target(p, metrics=["reach"]), "has no value column 'reach' (name it with --column"),
    (lambda p: read_target(p, cascades=["width"]), "--cascade 'width': expected one of scale, depth, breadth"),
    (lambda p: read_target(p), "give the target's measure: --metric NAME or --cascade scale|depth|breadth"),
    (lambda p: read_target(p, metrics=["a", "b"], column="scale"), "--column names the values of one measure"),
    (lambda p: read_target(p.with_name("none.csv"), metrics=["x"]), "does not exist"),
    (lambda p: Parameter.parse("minds.0.params.share=0.8:0.1"), "LOW must be below HIGH"),
    (lambda p: Parameter.parse("minds.0.params.share"), "must look like --param PATH=LOW:HIGH"),
    (lambda p: Parameter.parse("x=0:1:log"), "a log scale needs LOW above 0"),
    (lambda p: Parameter.parse("x=a:b"), "the bounds are not numbers"),
])
def test_bad_targets_and_parameters_are_one_line(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text("minute,scale\n0,1\n1,11\n")
    with pytest.raises(ScenarioError) as caught:
        make(path)  # type: ignore[operator]
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_parameters_take_durations_logs_and_whole_numbers() -> None:
    half_life = Parameter.parse("world.params.recommender.params.half_life=30m:2d:log")
    assert (half_life.low, half_life.high, half_life.log, half_life.duration) == (0.5, 48.0, True, True)
    assert half_life.override(1.5) == "world.params.recommender.params.half_life=1.5h"
    size = Parameter.parse("world.params.feed.size=5:40:int")
    assert size.integer and size.override(12.0) == "world.params.feed.size=12"


def test_the_command_fits_and_says_bad_input_in_one_line(tmp_path: Path) -> None:
    target = opinion_target(tmp_path / "opinion.csv")
    small = [a for s in [*OPINION, "steps=20"] for a in ("--set", s)]
    run = [sys.executable, "-m", "populace", "calibrate", "opinion", "--target", str(target), "--trials", "2",
           "--study", str(tmp_path / "s"), *small]
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([*run, "--metric", "variance", "--metric", "mean", "--param",
                           "minds.0.params.threshold=0.05:0.5"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "best of 2 trials (0 failed): NRMSE" in done.stdout and "minds.0.params.threshold = " in done.stdout
    assert "  variance: " in done.stdout and "  mean: " in done.stdout and "fit-variance.svg, fit-mean.svg" in done.stdout
    failed = subprocess.run([*run, "--study", str(tmp_path / "bad"), "--metric", "reach=variance", "--param",
                             "minds.0.params.threshold=0.05:0.5"], capture_output=True, text=True, env=env)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert "reports no 'reach' metric to fit (its metrics: clusters" in failed.stderr


@pytest.mark.parametrize(("param", "said"), [
    ("minds.0.params.threshol=0.05:0.5", "minds.0.params.threshol: unknown parameter; did you mean 'threshold'"),
    ("world.params.mu=0.1:0.9", "world.params.mu: 0.9 is not accepted"),
])
def test_a_bad_path_or_bound_is_one_line_naming_the_field(tmp_path: Path, param: str, said: str) -> None:
    target = opinion_target(tmp_path / "opinion.csv")
    with pytest.raises(ScenarioError) as caught:
        calibrate("opinion", [param], target, tmp_path / "s", metric="mean", overrides=OPINION)
    assert said in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "s").exists()  # refused before anything is written


def test_the_calibrated_scenario_finds_its_data_from_the_study_folder(tmp_path: Path) -> None:
    own = tmp_path / "mine"
    own.mkdir()
    (own / "people.csv").write_text("activity\n" + "1\n" * 60)
    scenario = {"name": "mine", "steps": 4, "population": {"file": "people.csv"}, "world": {"type": "opinion"},
                "minds": [{"type": "rules", "policy": "bounded_confidence"}]}
    (own / "mine.yaml").write_text(yaml.safe_dump(scenario))
    target = tmp_path / "t.csv"
    target.write_text("hour,variance\n1,0.08\n2,0.07\n3,0.06\n4,0.05\n")
    calibrate(own / "mine.yaml", ["minds.0.params.threshold=0.05:0.5"], target, tmp_path / "study" / "deep",
              metric="variance", trials=1)
    calibrated = yaml.safe_load((tmp_path / "study" / "deep" / "calibrated.yaml").read_text())
    assert calibrated["population"]["file"] == "../../mine/people.csv"
    assert load_scenario(tmp_path / "study" / "deep" / "calibrated.yaml").steps == 4
