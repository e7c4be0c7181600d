from __future__ import annotations

import numpy as np
import pytest

from populace.population import Population
from populace.world import World
from populace.worlds.grid import GridWorld

pytest.importorskip("pettingzoo")
from pettingzoo.test import parallel_api_test

from populace.adapters.pettingzoo import WorldParallelEnv


def shared_score(world: World, ids: np.ndarray) -> np.ndarray:
    """Every agent gets the task score gained this step (a cooperative reward)."""
    assert isinstance(world, GridWorld)
    score = world.task.score
    gained = score - getattr(world, "_last_score", 0.0)
    world._last_score = score  # type: ignore[attr-defined]
    return np.full(len(ids), gained)


@pytest.mark.parametrize("task", ["pursuit", "synchronization"])
def test_grid_world_passes_pettingzoo_parallel_api_test(task: str) -> None:
    world = GridWorld(Population(size=6), {"task": task, "width": 10, "height": 10})
    env = WorldParallelEnv(world, columns=["x", "y"], reward=shared_score, max_steps=20)
    parallel_api_test(env, num_cycles=30)


def test_grid_actions_map_to_moves_and_seeded_resets_repeat() -> None:
    world = GridWorld(Population(size=4), {"task": "foraging", "width": 10, "height": 10})
    env = WorldParallelEnv(world, columns=["x", "y", "carrying"], max_steps=5)
    names = [env.decode(i)[1].get("dir", env.decode(i)[0]) for i in range(env.action_space("agent_0").n)]
    assert {"up", "down", "left", "right", "stay"} <= set(names)
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    assert all(np.array_equal(first[a], again[a]) for a in first)
    right = names.index("right")
    x0 = {a: first[a][0] for a in first}
    after, _, _, _, infos = env.step({a: right for a in env.agents})
    moved = [after[a][0] == x0[a] + 1 for a in after]
    blocked = ["rejected" in infos[a] for a in after]
    assert all(m or b for m, b in zip(moved, blocked, strict=True)) and any(moved)
