"""Forks: an unchanged fork replays the parent exactly; a changed parameter or intervention changes the outcome."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from populace import Simulation, analysis
from populace.cli import app
from populace.errors import RunError, ScenarioError
from populace.operations.fork import fork, parse_intervention

SMALL = ["population.size=150", "steps=30", "trace.checkpoint_every=10", "trace.flush_every=4"]


@pytest.fixture(scope="module")
def opinion_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = Simulation.from_scenario("opinion", SMALL, tmp_path_factory.mktemp("runs")).run()
    assert sim.path is not None
    return sim.path


@pytest.mark.parametrize("at", [0, 10, 17, 30])
def test_unchanged_fork_reproduces_the_parent_exactly(opinion_run: Path, at: int) -> None:
    branch = fork(opinion_run, at).run()
    parent = Simulation.resume(opinion_run)  # reads the parent's trace without running it
    assert branch.events().equals(parent.trace.read("events"))
    assert branch.metrics().equals(analysis.metrics(opinion_run))
    manifest = branch.run_record.manifest() if branch.run_record else {}
    assert manifest["parent"] == {"id": opinion_run.name, "path": str(opinion_run.resolve()), "at": at}
    assert manifest["status"] == "completed" and manifest["changes"] == []


def test_fork_reuses_the_parent_trace_before_the_fork(opinion_run: Path) -> None:
    branch = fork(opinion_run, 17)
    assert branch.steps_done == 17
    assert branch.path is not None
    copied = analysis.read_arrow(branch.path, "events")
    assert pc.max(copied["step"]).as_py() == 16  # steps 0..16 come from the parent; the part spanning 17 is cut
    assert analysis.checkpoint_steps(branch.path) == [17]


def test_changed_threshold_changes_the_outcome_after_the_fork_only(opinion_run: Path) -> None:
    branch = fork(opinion_run, 10, ["minds.0.params.threshold=0.6", "minds.1.params.threshold=0.6"]).run()
    assert branch.path is not None
    parent_m, branch_m = analysis.metrics(opinion_run), analysis.metrics(branch.path)
    assert parent_m.loc[:9].equals(branch_m.loc[:9])
    # a wide confidence bound merges the clusters the narrow one keeps apart
    assert branch_m.loc[29, "clusters"] < parent_m.loc[29, "clusters"]
    assert branch_m.loc[29, "variance"] < parent_m.loc[29, "variance"] / 2
    assert json.loads((branch.path / "run.json").read_text())["changes"] == ["minds.0.params.threshold=0.6",
                                                                            "minds.1.params.threshold=0.6"]


def test_intervention_added_at_the_fork_step(opinion_run: Path) -> None:
    branch = fork(opinion_run, 12, interventions=["broadcast value=1.0 share=0.5"]).run()
    assert branch.path is not None
    ev = analysis.events(branch.path)
    broadcast = ev[ev["action"] == "broadcast"]
    assert sorted(set(broadcast["step"])) == [12]  # the scenario's own broadcast is at step 60, past the end
    assert len(broadcast) == 75
    assert analysis.metrics(branch.path).loc[12, "mean"] > analysis.metrics(opinion_run).loc[12, "mean"] + 0.1


def test_fork_errors_are_one_line(opinion_run: Path) -> None:
    with pytest.raises(RunError, match=r"--at 31: .* has 30 steps recorded; choose a step from 0 to 30"):
        fork(opinion_run, 31)
    with pytest.raises(ScenarioError, match="intervention 'broadcast value': 'value' must look like key=value"):
        parse_intervention("broadcast value", 3)
    with pytest.raises(ScenarioError, match="interventions.1.call: .*'broadcats'"):
        fork(opinion_run, 5, interventions=["broadcats value=1"])
    with pytest.raises(ScenarioError, match=r"^scenario: interventions\.1\.args\.value: 'abc' is not accepted: "
                                            "Input should be a valid number"):
        fork(opinion_run, 5, interventions=["broadcast value=abc"])
    with pytest.raises(ScenarioError, match="'broadcast' at step 30 never runs: the branch's last step is 29"):
        fork(opinion_run, 30, interventions=["broadcast value=1"])
    assert parse_intervention("ban_account agent=7 reason='spam here'", 4)["args"] == {"agent": 7, "reason": "spam here"}
    assert parse_intervention("broadcast value=0.9 share=0.1", 4) == {
        "at_step": 4, "call": "broadcast", "args": {"value": 0.9, "share": 0.1}}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("population.size=10", "population.size: a fork keeps its parent's agents"),
        ("population.attributes.age.mean=60", "population.attributes.age.mean: a fork keeps its parent's agents"),
        ("seed=3", "seed: a fork continues its parent's random streams"),
        ("minds.0.select=age > 30", "minds.0.select: a fork keeps its parent's mind tiers"),
        ("minds.1.shards=2", "minds.1.shards: a fork keeps its parent's mind tiers"),
        ("interventions=[{at: 3h, call: broadcast, args: {value: 1.0}}]",
         "interventions: 'broadcast' at step 3 is before the fork step 10, so it would never run"),
    ],
)
def test_fork_refuses_changes_it_cannot_apply(opinion_run: Path, tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        fork(opinion_run, 10, [override], runs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no branch was created


def test_fork_accepts_what_it_applies(opinion_run: Path, tmp_path: Path) -> None:
    overrides = ["population.size=150", "seed=11", "steps=40", "world.params.mu=0.3", "minds.0.params.threshold=0.4",
                 "interventions=[{at: 12h, call: broadcast, args: {value: 1.0}}]", "trace.checkpoint_every=5"]
    branch = fork(opinion_run, 10, overrides, runs_dir=tmp_path)  # size and seed as the parent's: unchanged
    assert branch.scenario.steps == 40 and branch.minds[0].params == {"threshold": 0.4}


def test_fork_command_runs_the_branch_and_writes_a_side_by_side_report(opinion_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["fork", str(opinion_run), "--at", "20", "--set",
                                      "minds.1.params.threshold=0.5", "--runs-dir", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    assert result.output.count("report: ") == 1
    (branch,) = [p for p in tmp_path.iterdir() if (p / "run.json").is_file()]
    html = (branch / "report.html").read_text(encoding="utf-8")
    assert f"fork of {opinion_run.name} at step 20 with minds.1.params.threshold=0.5" in html
    assert f"parent {opinion_run.name}" in html and "Metrics — both branches" in html
    bad = CliRunner().invoke(app, ["fork", str(opinion_run), "--at", "99"])
    assert bad.exit_code != 0


@pytest.fixture(scope="module")
def rumour_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = Simulation.from_scenario("misinformation", ["steps=12", "trace.checkpoint_every=6"],
                                   tmp_path_factory.mktemp("social")).run()
    assert sim.path is not None
    return sim.path


def test_social_fork_replays_and_a_switched_recommender_changes_the_spread(rumour_run: Path) -> None:
    same = fork(rumour_run, 6).run()
    assert same.events().equals(analysis.read_arrow(rumour_run, "events"))
    switched = fork(rumour_run, 3, ["world.params.recommender={type: random}"]).run()
    assert switched.path is not None
    ev = analysis.events(switched.path)
    assert ev.loc[ev["action"] == "set_recommender", "step"].tolist() == [3]
    parent_m, branch_m = analysis.metrics(rumour_run), analysis.metrics(switched.path)
    assert parent_m.loc[:2].equals(branch_m.loc[:2])
    assert parent_m.loc[11].to_dict() != branch_m.loc[11].to_dict()


def test_a_partitioned_run_forks_region_by_region(tmp_path: Path) -> None:
    overrides = ["population.size=6000", "steps=40", "world.partitions=3", "trace.checkpoint_every=10"]
    parent = Simulation.from_scenario("covid", overrides, runs_dir=tmp_path).run()
    assert parent.path is not None
    same = fork(parent.path, 15).run()
    assert same.metrics().equals(parent.metrics())
    locked = fork(parent.path, 15, interventions=["lockdown community=0.2"]).run()
    assert len(locked.regions) == 3
    assert locked.metrics().loc[:14].equals(parent.metrics().loc[:14])
    assert locked.metrics().loc[39, "lockdown"] == 1.0 and parent.metrics().loc[39, "lockdown"] == 0.0
    assert locked.metrics().loc[39, "unemployment"] > parent.metrics().loc[39, "unemployment"]
    cautious = fork(parent.path, 15, ["minds.0.params.caution=0.9"]).run()
    assert cautious.metrics().loc[39, "staying_home"] > parent.metrics().loc[39, "staying_home"]
    with pytest.raises(ScenarioError, match="world.partitions: a fork keeps its parent's regions"):
        fork(parent.path, 15, ["world.partitions=2"])
