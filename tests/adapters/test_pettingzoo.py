"""The PettingZoo Parallel adapter, checked with PettingZoo's own API and seed tests."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import parallel_api_test, parallel_seed_test

from populace import Population
from populace.adapters.pettingzoo import WorldParallelEnv
from populace.world import Observations, worlds
from populace.worlds.commons import CommonsWorld
from populace.worlds.debate import DebateWorld
from populace.worlds.games.donor import DonorWorld
from populace.worlds.games.matrix import MatrixGameWorld


def games(n: int = 4, **params: object) -> WorldParallelEnv:
    return WorldParallelEnv(MatrixGameWorld(Population(size=n), params), reward="score", max_steps=10)


def test_games_pass_the_parallel_api_test() -> None:
    env = games()
    assert env.possible_agents == ["agent_0", "agent_1", "agent_2", "agent_3"]
    assert env.action_space("agent_0") == spaces.Discrete(2)
    assert env.decode(0) == ("play", {"option": "J"}) and env.decode(1) == ("play", {"option": "F"})
    parallel_api_test(env, num_cycles=50)


def test_games_pass_the_parallel_seed_test() -> None:
    parallel_seed_test(games)


def test_rewards_are_the_exact_payoffs_and_the_episode_truncates_after_ten_rounds() -> None:
    env = games(2)
    observations, infos = env.reset(seed=3)
    assert "history" in infos["agent_0"]["text"]
    totals = dict.fromkeys(env.agents, 0.0)
    for round_ in range(10):  # agent 0 always defects; agent 1 plays tit-for-tat
        their_last = int(observations["agent_1"][env.columns.index("their_last")])
        action = {"agent_0": 1, "agent_1": 0 if round_ == 0 else their_last}
        observations, rewards, terminations, truncations, infos = env.step(action)
        for agent, reward in rewards.items():
            totals[agent] += reward
    assert totals == {"agent_0": 55.0, "agent_1": 45.0}
    assert all(truncations.values()) and not any(terminations.values()) and env.agents == []


@pytest.mark.parametrize("make", [
    lambda: WorldParallelEnv(CommonsWorld(Population(size=5)), reward="my_total", max_steps=9),
    lambda: WorldParallelEnv(DebateWorld(Population(size=6), {"group_size": 3}), max_steps=3),
    lambda: WorldParallelEnv(DonorWorld(Population(size=6), {"punishment": True}), max_steps=12,
                             reward="resources"),
])
def test_any_world_with_continuous_or_text_actions_passes_the_api_test(make: object) -> None:
    env = make()  # type: ignore[operator]
    assert isinstance(env.action_space(env.possible_agents[0]), spaces.Dict)
    parallel_api_test(env, num_cycles=30)


def test_text_arguments_are_left_out_unless_fixed_and_termination_follows_the_world() -> None:
    world = CommonsWorld(Population(size=2), {"talk_turns": 1})
    env = WorldParallelEnv(world, fixed_args={"text": "ok"}, done=lambda w: w.phase == "over")
    assert env.action_space("agent_0")["action"] == spaces.Discrete(2)
    env.reset(seed=0)
    harvest = {"action": 0, "harvest.tons": np.float64(60.0)}
    _, _, terminations, _, _ = env.step({"agent_0": harvest, "agent_1": harvest})
    assert all(terminations.values()) and env.agents == []  # 120 tons asked of 100: the lake collapsed
    without = WorldParallelEnv(CommonsWorld(Population(size=2)))
    assert without.action_space("agent_0")["action"] == spaces.Discrete(1)


def test_rejected_actions_are_reported_in_infos() -> None:
    env = WorldParallelEnv(CommonsWorld(Population(size=2), {"talk_turns": 1}), fixed_args={"text": "hi"})
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"agent_0": {"action": 1, "harvest.tons": np.float64(1.0)}})
    assert infos["agent_0"]["rejected"] == "it is the harvest phase; talk after the harvest"


def test_array_valued_observation_columns_are_flattened() -> None:
    class Windows(MatrixGameWorld):
        def observe(self, agent_ids: np.ndarray) -> Observations:
            obs = super().observe(agent_ids)
            obs.columns["view"] = np.zeros((len(agent_ids), 3, 3), dtype=np.int8) + agent_ids[:, None, None]
            return obs

    env = WorldParallelEnv(Windows(Population(size=2)), columns=["round", "view"], max_steps=2)
    observations, _ = env.reset(seed=0)
    assert env.observation_space("agent_1").shape == (10,)
    assert observations["agent_1"].tolist() == [1.0] + [1.0] * 9
    parallel_api_test(env, num_cycles=5)


@pytest.mark.parametrize(("name", "params"), [
    *((name, {}) for name in worlds.names()),
    ("grid", {"task": "flocking", "text": False, "view": 3}), ("social", {"mode": "reddit", "feed": {"size": 4}}),
    ("town", {"facts": [{"key": "news", "text": "The bakery closes.", "keywords": ["bakery"]}]}),
    ("narrative", {"variables": {"coins": {"kind": "count", "initial": 2}}}),
])
def test_the_declared_observation_gives_the_spaces_observing_would(name: str, params: dict[str, object]) -> None:
    world = worlds.get(name)(Population(size=12), params)
    texts = {arg: "x" for spec in world.action_space for arg, a in spec.args.items() if a.kind == "str"}
    env = WorldParallelEnv(world, fixed_args=texts)
    declared = env._declared_columns(None, True)
    assert declared is not None  # every built-in world declares its observation
    assert declared == env._probed_columns(None, True)
    assert env.observation_space(env.possible_agents[0]).shape == (declared[2],)
