from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from populace import Simulation, load_scenario
from populace.execution import LocalExecutor
from populace.simulation import StepResult

ray = pytest.importorskip("ray", reason="the ray extra is part of the dev install")

SHARDED = ["population.size=3000", "steps=30", "minds.0.shards=3", "minds.1.shards=2",
           "trace.checkpoint_every=10", "schedule.activity=always"]
#: an epidemic split into 3 regions: each region's part of the world and its minds live in one actor
REGIONS = ["population.size=6000", "steps=30", "world.partitions=3", "trace.checkpoint_every=10",
           "trace.events=all", "interventions=[{at: 5d, call: lockdown}, {at: 12d, call: import_cases, args: {count: 9}}]"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local Ray cluster with 2 CPUs, as CI has."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_shards_split_agents_by_id_and_each_has_its_own_stream() -> None:
    sim = Simulation(load_scenario("opinion", SHARDED))
    assert len(sim.minds) == 5
    graduates = sim.population["education"] == "graduate"
    assert set(np.unique(sim.mind_of[graduates]).tolist()) == {0, 1, 2}
    assert set(np.unique(sim.mind_of[~graduates]).tolist()) == {3, 4}
    draws = {m.rng.random() for m in sim.minds}
    assert len(draws) == 5


@pytest.mark.parametrize("scenario,overrides", [("opinion", SHARDED), ("covid", REGIONS)], ids=["minds", "regions"])
def test_ray_executor_gives_bit_identical_results(cluster: None, scenario: str, overrides: list[str]) -> None:
    from populace.execution.raycluster import RayExecutor

    local = Simulation.from_scenario(scenario, overrides, executor=LocalExecutor()).run()
    remote = Simulation.from_scenario(scenario, overrides, executor=RayExecutor()).run()
    assert remote.events().num_rows > 0
    assert remote.events().equals(local.events())
    assert remote.metrics().equals(local.metrics())


@pytest.mark.parametrize("scenario,overrides", [("opinion", SHARDED), ("covid", REGIONS)], ids=["minds", "regions"])
def test_a_worker_killed_mid_run_is_recovered_and_the_run_is_unchanged(cluster: None, scenario: str,
                                                                      overrides: list[str]) -> None:
    from populace.execution.raycluster import RayExecutor

    overrides = [*overrides, "steps=40"]
    reference = Simulation.from_scenario(scenario, overrides).run()
    executor = RayExecutor()
    sim = Simulation.from_scenario(scenario, overrides, executor=executor)
    killed: list[int] = []

    def kill_one_worker(result: StepResult) -> None:  # after step 15 (past the checkpoint at 10): SIGKILL a shard
        if result.step == 15:
            pid = ray.get(executor.actors[1].pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    sim.run(progress=kill_one_worker)
    assert killed, "no worker was killed"
    assert executor.recoveries >= 1
    assert sim.events().equals(reference.events())
    assert sim.metrics().equals(reference.metrics())


def test_a_refused_operation_in_a_region_surfaces_as_itself(cluster: None) -> None:
    from populace.errors import ScenarioError
    from populace.execution.raycluster import RayExecutor

    overrides = [*REGIONS, "steps=3", "interventions=[{at: 1d, call: stimulus, args: {amount: 5, to: pets}}]"]
    sim = Simulation.from_scenario("covid", overrides, executor=RayExecutor())
    with pytest.raises(ScenarioError, match="stimulus: to='pets' is not accepted"):
        sim.run()


def test_a_ray_run_paused_between_checkpoints_continues_from_the_workers_state(cluster: None) -> None:
    from populace.execution.raycluster import RayExecutor

    local = Simulation.from_scenario("covid", REGIONS).run()
    sim = Simulation.from_scenario("covid", REGIONS, executor=RayExecutor())
    held: list[int] = []
    sim.run(steps=7, progress=lambda _: held.append(len(sim.regions[0].minds)))
    assert held == [0] * 7  # while the workers hold the regions, the driver keeps only their ids
    assert len(sim.regions[0].minds) == 1  # the executor closed; the regions' states came back first
    sim.run()
    assert sim.metrics().equals(local.metrics())


def test_language_model_minds_in_ray_regions_keep_their_state_and_match_local(cluster: None, tmp_path: Path) -> None:
    """Archetype and generative minds (scripted backend, response cache in the run) live in the regions'
    actors: the generative agents' memories stay there between steps, and the run equals the local one."""
    from populace.execution.raycluster import RayExecutor

    play = {"J": {"action": "play", "args": {"option": "J"}}, "F": {"action": "play", "args": {"option": "F"}}}
    scenario = {
        "name": "pd-models", "seed": 3, "steps": 6,
        "population": {"size": 12, "attributes": {"player": {"dist": "constant", "value": "x"}}},
        "model": {"backend": "scripted", "probabilities": {"J": 0.3, "F": 0.7}},
        "world": {"type": "games", "partitions": 3, "params": {"rounds": 6}},
        "minds": [
            {"select": "index % 4 == 0", "type": "archetype", "prompt": "{obs.history}\nPick: {options}", "options": play},
            {"select": "index % 4 == 2", "type": "generative", "plan": False},
            {"select": "all", "type": "rules", "policy": "tit_for_tat"},
        ],
        "trace": {"checkpoint_every": 2},
    }
    local = Simulation.from_scenario(scenario, runs_dir=tmp_path / "local", executor=LocalExecutor()).run()
    remote = Simulation.from_scenario(scenario, runs_dir=tmp_path / "ray", executor=RayExecutor()).run()
    assert remote.events().equals(local.events())
    usage = remote.trace.read("steps").to_pandas()
    assert usage["generative_calls"].sum() == 18 and usage["archetype_calls"].sum() > 0  # 3 agents x 6 rounds
    assert usage["llm_calls"].sum() == local.trace.read("steps").to_pandas()["llm_calls"].sum()
    memories = [len(mind.memory.text) for region in remote.regions for mind in region.minds if hasattr(mind, "memory")]
    assert sum(memories) > 0  # the memories came back from the workers with the final checkpoint


def test_fewer_actors_than_regions_share_them_and_a_killed_one_is_rebuilt_with_all_its_regions(cluster: None) -> None:
    from populace.execution.raycluster import RayExecutor

    overrides = [*REGIONS, "steps=40"]
    reference = Simulation.from_scenario("covid", overrides).run()
    executor = RayExecutor(actors=2)
    sim = Simulation.from_scenario("covid", overrides, executor=executor)
    killed: list[int] = []

    def kill_the_first_actor(result: StepResult) -> None:  # it hosts regions 0 and 2
        if result.step == 15:
            assert executor.home == [0, 1, 0] and len(executor.actors) == 2
            pid = ray.get(executor.actors[0].pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    sim.run(progress=kill_the_first_actor)
    assert killed and executor.recoveries == 1  # both of its regions' calls saw it die; it was rebuilt once
    assert sim.events().equals(reference.events())
    assert sim.metrics().equals(reference.metrics())


RAY_PLUGIN = '''
from populace.actions import Actions
from populace.policy import policy


@policy("ray_plugin_give_right")
def give_right(obs, mind):
    givers = obs.agents[obs["wealth"] > 0]
    return [Actions("give", givers, {"to": (givers + 1) % mind.population.size})]
'''


def test_a_scenarios_plugins_are_imported_in_the_workers(cluster: None, tmp_path: Path) -> None:
    """A policy from the user's own file, in minds sharded over Ray workers: the workers import the
    plugin before unpickling their shards, and the run matches the local one."""
    from populace.execution.raycluster import RayExecutor

    (tmp_path / "populace_ray_plugin.py").write_text(RAY_PLUGIN, encoding="utf-8")
    spec = tmp_path / "plugged.yaml"
    spec.write_text(
        "name: plugged\nplugins: [populace_ray_plugin.py]\nsteps: 6\npopulation: {size: 200}\n"
        "world: {type: wealth}\nminds: [{type: rules, policy: ray_plugin_give_right, shards: 2}]\n",
        encoding="utf-8")
    local = Simulation.from_scenario(str(spec)).run()
    remote = Simulation.from_scenario(str(spec), executor=RayExecutor()).run()
    assert remote.events().num_rows > 0 and remote.events().equals(local.events())
