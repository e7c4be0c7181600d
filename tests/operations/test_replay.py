"""`populace replay`: a run re-run from its response cache, with no model calls, is identical."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from populace.cli import app
from populace.errors import RunError
from populace.operations.replay import replay_run
from populace.simulation import Simulation

SCENARIO = [
    "steps=6", "trace.events=all",
    "model={backend: scripted, probabilities: {give: 2, keep: 1}}",
    "minds=[{type: archetype, prompt: 'Recipient: {obs.history} Your strategy: {obs.strategy}. {options}',"
    " options: {give: {action: donate, args: {fraction: 0.5}}, keep: null}}]",
]


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    sim = Simulation.from_scenario("donor-game", SCENARIO, tmp_path / "runs").run()
    assert sim.path is not None
    steps = sim.trace.read("steps").to_pandas()
    assert steps["llm_calls"].sum() > 0
    return sim.path


def change_the_model(run: Path) -> None:
    """Edit the recorded scenario so a fresh model call would answer differently."""
    scenario = yaml.safe_load((run / "scenario.yaml").read_text())
    scenario["model"]["probabilities"] = {"give": 0, "keep": 1}
    (run / "scenario.yaml").write_text(yaml.safe_dump(scenario))


def test_replay_reproduces_the_trace_from_the_cache_alone(recorded: Path) -> None:
    change_the_model(recorded)  # answers must come from the cache, not from the (changed) model
    result = replay_run(recorded)
    assert result.identical, result.difference
    assert result.usage.calls == 0 and result.usage.cache_hits > 0
    assert result.replay != recorded and result.replay.parent == recorded.parent


def test_replay_command_says_identical_and_a_missing_entry_is_an_error_naming_the_request(recorded: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["replay", str(recorded)])
    assert done.exit_code == 0, done.output
    assert "model calls: 0" in done.output and "identical" in done.output
    shutil.rmtree(recorded / "cache")
    missing = runner.invoke(app, ["replay", str(recorded)])
    assert isinstance(missing.exception, RunError)
    message = str(missing.exception)
    assert message.startswith("replay_miss: no cached response for choose request ")
    assert "Recipient:" in message and "\n" not in message


def test_a_different_trace_is_reported_as_different(recorded: Path, tmp_path: Path) -> None:
    from populace.operations.replay import first_difference, read_table

    other = Simulation.from_scenario("donor-game", [*SCENARIO[:-2], "model={backend: scripted, probabilities: "
                                                    "{give: 1, keep: 3}}", SCENARIO[-1]], tmp_path / "other").run()
    assert other.path is not None
    difference = first_difference(read_table(recorded, "events"), read_table(other.path, "events"), "events")
    assert difference is not None and difference.startswith("events: ")
    assert first_difference(read_table(recorded, "events"), read_table(recorded, "events"), "events") is None


def test_show_totals_the_runs_model_usage(recorded: Path) -> None:
    shown = CliRunner().invoke(app, ["show", str(recorded)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    usage = shown.output.split("model usage")[1]
    assert "calls" in usage and "cache_hits" in usage and "cache_hit_rate" in usage


def test_requests_that_failed_in_the_original_fail_again_and_the_replay_is_identical(tmp_path: Path) -> None:
    """Plans that failed in the original were never cached: the replay misses them, fails them the
    same way, and its trace is the original's."""
    spec = tmp_path / "failing-plans.yaml"
    spec.write_text(
        "name: failing-plans\nseed: 3\nsteps: 4\npopulation: {size: 12, attributes: {x: {dist: constant, value: 1}}}\n"
        "world: {type: opinion}\n"
        "model: {backend: scripted, responses: {'': '{\"action\": \"nothing\"}'}, probabilities: {discuss: 2, ignore: 1}}\n"
        "minds:\n  - {select: 'index < 3', type: generative}\n"
        "  - {select: all, type: archetype, prompt: 'Your opinion: {obs.opinion}. {options}?',\n"
        "     bins: {obs.opinion: [0.5]}, options: {discuss: {action: discuss, args: {with: obs.neighbour}}, ignore: null}}\n",
        encoding="utf-8")
    original = Simulation.from_scenario(str(spec), runs_dir=tmp_path / "runs").run()
    assert original.path is not None
    done = CliRunner().invoke(app, ["replay", str(original.path), "--runs-dir", str(tmp_path / "replays")])
    assert done.exit_code == 0, done.output
    assert "failed, as they had in the original" in done.output and "identical" in done.output


def test_a_fork_replays_from_its_fork_step_with_its_changes(recorded: Path, tmp_path: Path) -> None:
    from populace.operations.fork import fork

    branch = fork(recorded, 3, ["minds.0.prompt='Given {obs.history}, {obs.strategy}. {options}'"]).run()
    assert branch.path is not None
    result = replay_run(branch.path, tmp_path / "replays")
    assert result.identical, result.difference  # from step 0, steps 0-2 would ask the new prompt, never cached
    assert result.start == 3 and result.usage.calls == 0 and result.usage.cache_hits > 0
    done = CliRunner().invoke(app, ["replay", branch.path.name, "--runs-dir", str(branch.path.parent)])
    assert done.exit_code == 0, done.output
    assert "a fork, from the state it was forked from at step 3" in " ".join(done.output.split())
    (branch.path / "checkpoints" / f"{3:08d}.pkl").unlink()
    with pytest.raises(RunError, match="its checkpoint of that step is gone"):
        replay_run(branch.path, tmp_path / "replays")
