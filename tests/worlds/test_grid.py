from __future__ import annotations

import asyncio

import numpy as np
import pytest

from populace import Simulation
from populace.actions import Actions
from populace.errors import ScenarioError
from populace.minds.rules import RulesMind
from populace.population import Population
from populace.testing import check_world
from populace.worlds.grid import GridWorld
from populace.worlds.grid.space import AGENT, SELF, WALL, Grid, render
from populace.worlds.grid.tasks import TASKS

TASK_NAMES = sorted(TASKS)


def world(n: int = 10, seed: int = 0, **params: object) -> GridWorld:
    w = GridWorld(Population(size=n), params)
    w.reset(seed)
    return w


def place(w: GridWorld, positions: list[tuple[int, int]]) -> None:
    """Put agent i at positions[i] = (x, y)."""
    g = w.grid
    g.occupant[:] = -1
    for i, (x, y) in enumerate(positions):
        g.x[i], g.y[i] = x, y
        g.occupant[y * g.width + x] = i


def move(w: GridWorld, agents: list[int], dirs: list[str]) -> np.ndarray:
    events = w.apply([Actions("move", np.asarray(agents), {"dir": np.asarray(dirs, dtype=object)})])
    return np.concatenate([e.outcome for e in events]) == "ok"


@pytest.mark.parametrize("task", TASK_NAMES)
def test_every_task_passes_check_world(task: str) -> None:
    check_world(world(task=task), steps=6)


def test_contenders_for_a_cell_lowest_id_wins_and_swaps_fail() -> None:
    w = world(4, task="foraging", width=12, height=12)
    place(w, [(5, 5), (7, 5), (3, 3), (4, 3)])
    ok = move(w, [1, 0, 2, 3], ["left", "right", "right", "left"])  # 0 and 1 both want (6, 5); 2 and 3 swap
    assert ok.tolist() == [False, True, False, False]
    assert (w.grid.x[0], w.grid.x[1]) == (6, 7)
    assert (w.grid.x[2], w.grid.x[3]) == (3, 4)


def test_a_chain_of_agents_moves_together_and_walls_block() -> None:
    w = world(4, task="foraging", width=12, height=12)
    place(w, [(3, 5), (4, 5), (5, 5), (1, 1)])
    ok = move(w, [0, 1, 2, 3], ["right", "right", "right", "up"])
    assert ok.tolist() == [True, True, True, False]  # (1, 0) is the border wall
    assert w.grid.x[:3].tolist() == [4, 5, 6]
    assert (w.grid.occupant >= 0).sum() == 4
    assert set(w.grid.occupant[w.grid.occupant >= 0].tolist()) == {0, 1, 2, 3}


def test_a_second_move_in_one_step_is_rejected() -> None:
    w = world(2, task="foraging", width=12, height=12)
    place(w, [(5, 5), (8, 8)])
    assert move(w, [0, 0], ["left", "left"]).tolist() == [True, False]
    assert w.grid.x[0] == 4


def test_view_codes_and_text_agree_and_windows_match_slicing() -> None:
    w = world(300, seed=1, task="foraging", width=40, height=30, view=7)
    obs = w.observe(np.arange(300))
    codes = w.cell_codes()
    padded = np.pad(codes, 3, constant_values=WALL)
    for i in [0, 17, 299]:
        x, y = w.grid.x[i], w.grid.y[i]
        expected = padded[y:y + 7, x:x + 7].copy()
        expected[3, 3] = SELF
        assert np.array_equal(obs["view"][i], expected)
        rows = obs["view_text"][i].split("\n")
        assert rows[3][3] == "@" and len(rows) == 7
        assert all(".WAaPFNBG@"[v] == ch for v, ch in zip(expected.ravel(), "".join(rows), strict=True))
    assert obs["view"][:, 3, 3].tolist() == [SELF] * 300


def test_messages_reach_only_agents_within_view_next_step() -> None:
    w = world(3, task="foraging", width=20, height=20)
    place(w, [(5, 5), (6, 7), (12, 12)])
    w.apply([Actions("say", np.asarray([0]), {"text": np.asarray(["prey to the north"], dtype=object)})])
    w.tick()
    heard = w.observe(np.arange(3))["messages"]
    assert heard.tolist() == ["", "prey to the north", ""]
    w.apply([Actions("say", np.asarray([1, 0]), {"text": np.asarray(["b first", "a second"])})])
    w.tick()
    assert w.observe(np.asarray([0, 1, 2]))["messages"].tolist() == ["b first", "a second", ""]
    too_long = w.apply([Actions("say", np.asarray([0]), {"text": np.asarray(["x" * 121], dtype=object)})])
    assert too_long[0].outcome.tolist() == ["rejected"]
    w.tick()
    assert w.observe(np.arange(3))["messages"].tolist() == ["", "", ""]


def test_message_homogeneity_is_the_mean_pairwise_cosine() -> None:
    w = world(4, task="foraging", width=20, height=20)
    texts = np.asarray(["prey north", "prey north", "food south", "food south"], dtype=object)
    w.apply([Actions("say", np.arange(4), {"text": texts})])
    w.tick()
    assert w.metrics()["message_homogeneity"] == pytest.approx(1 / 3)  # 2 of 6 pairs alike, the rest orthogonal


def test_group_metrics_entropy_stillness_and_homogeneity() -> None:
    w = world(4, task="flocking", width=20, height=20, wrap=True)
    place(w, [(2, 2), (2, 8), (8, 2), (8, 8)])
    move(w, [0, 1, 2, 3], ["right"] * 4)
    say = np.asarray(["go right now"] * 3, dtype=object)
    w.apply([Actions("say", np.asarray([0, 1, 2]), {"text": say})])
    w.tick()
    m = w.metrics()
    assert m["directional_entropy"] == 0.0 and m["stillness"] == 0.0
    assert m["message_homogeneity"] == pytest.approx(1.0) and m["messages"] == 3
    assert m["alignment"] == pytest.approx(1.0)
    move(w, [0, 1, 2, 3], ["up", "down", "left", "stay"])
    w.tick()
    m = w.metrics()
    assert m["directional_entropy"] == pytest.approx(np.log(4) / np.log(5))
    assert m["stillness"] == 0.25 and m["messages"] == 0


def test_switch_only_in_synchronization_and_once_per_step() -> None:
    sync = world(3, task="synchronization")
    before = sync.task.light.copy()
    events = sync.apply([Actions("switch", np.asarray([0, 0, 2]), {})])
    assert events[0].outcome.tolist() == ["ok", "rejected", "ok"]
    assert (sync.task.light != before).tolist() == [True, False, True]
    other = world(3, task="pursuit")
    assert other.apply([Actions("switch", np.asarray([0]), {})])[0].outcome.tolist() == ["rejected"]


def test_prey_is_caught_when_its_four_sides_are_blocked() -> None:
    w = world(4, task="pursuit", width=10, height=10)
    prey = int(w.task.prey[0])
    py, px = divmod(prey, 10)
    sides = [(px, py - 1), (px, py + 1), (px - 1, py), (px + 1, py)]
    place(w, [s for s in sides if w.grid.terrain[s[1], s[0]] != WALL])
    w.tick()
    assert w.metrics()["score"] == 1.0
    assert int(w.task.prey[0]) != prey


def test_too_many_agents_for_the_grid_is_one_clear_error() -> None:
    with pytest.raises(ScenarioError, match="do not fit"):
        world(200, task="foraging", width=10, height=10)


@pytest.mark.parametrize("wrap", [False, True])
def test_grid_moves_thousands_of_agents_consistently(wrap: bool) -> None:
    g = Grid(200, 200, 20_000, wrap=wrap)
    rng = np.random.default_rng(0)
    g.scatter(rng, g.terrain.ravel() == 0)
    solid = np.zeros(200 * 200, dtype=bool)
    for _ in range(5):
        g.move(np.arange(20_000), rng.integers(0, 5, 20_000), solid)
        occupied = np.flatnonzero(g.occupant >= 0)
        assert len(occupied) == 20_000  # nobody lost, nobody doubled
        assert np.array_equal(g.cells[g.occupant[occupied]], occupied)
        assert (g.terrain.ravel()[g.cells] != WALL).all()


def test_render_is_one_string_per_agent() -> None:
    views = np.full((2, 3, 3), AGENT, dtype=np.uint8)
    views[1, 1, 1] = SELF
    assert render(views).tolist() == ["AAA\nAAA\nAAA", "AAA\nA@A\nAAA"]


def _score(scenario: str, seeds: range, policy: str | None = None) -> list[float]:
    scores = []
    for seed in seeds:
        overrides = [f"seed={seed}"] + ([f"minds.0.policy={policy}", "minds.0.params={}"] if policy else [])
        metrics = Simulation.from_scenario(scenario, overrides).run().metrics()
        scores.append(float(metrics["score"].iloc[-1]))
    return scores


def test_swarm_pursuit_greedy_chasers_catch_the_prey_random_walkers_mostly_do_not() -> None:
    greedy, random = _score("swarm-pursuit", range(6)), _score("swarm-pursuit", range(6), "swarm_random_walk")
    assert sum(s > 0 for s in greedy) >= 4 and sum(greedy) >= 10
    assert sum(s > 0 for s in random) <= 2 and sum(greedy) >= 4 * max(sum(random), 1)


def test_swarm_foraging_foragers_deliver_more_than_random_walkers() -> None:
    forage, random = _score("swarm-foraging", range(4)), _score("swarm-foraging", range(4), "swarm_random_walk")
    assert min(forage) >= 2 and sum(forage) >= 4 * max(sum(random), 1)


def test_swarm_synchronization_lights_alternate_in_unison() -> None:
    sync, random = _score("swarm-synchronization", range(3)), _score("swarm-synchronization", range(3), "swarm_random_walk")
    assert min(sync) >= 80 and max(random) == 0


def test_swarm_flocking_aligns_far_more_than_random_walkers() -> None:
    flock, random = _score("swarm-flocking", range(3)), _score("swarm-flocking", range(3), "swarm_random_walk")
    assert min(flock) > 1.4 * max(random)
    final = Simulation.from_scenario("swarm-flocking").run().metrics()
    assert final["alignment"].iloc[-20:].mean() > 0.5


def test_swarm_transport_pushers_deliver_the_box() -> None:
    push, random = _score("swarm-transport", range(4)), _score("swarm-transport", range(4), "swarm_random_walk")
    assert sum(s > 0 for s in push) >= 3 and max(random) == 0
    metrics = Simulation.from_scenario("swarm-transport").run().metrics()
    assert metrics["delivered"].iloc[-1] == 1.0 and metrics["box_distance"].iloc[0] > 0


def test_rules_policies_decide_for_every_observed_agent() -> None:
    w = world(10, task="foraging")
    mind = RulesMind(w.population, w.action_space, {"policy": "swarm_forage"}, rng=np.random.default_rng(0))
    decisions = asyncio.run(mind.decide(w.observe(np.arange(10))))
    assert sorted(np.concatenate([a.agents for a in decisions.actions]).tolist()) == list(range(10))


def test_a_partitioned_grid_is_separate_arenas_with_metrics_averaged_over_them() -> None:
    sim = Simulation.from_scenario("swarm-foraging", ["population.size=30", "world.partitions=3", "steps=60"]).run()
    arenas = [region.world for region in sim.regions]
    assert [(w.n_agents, w.grid.width, w.grid.height) for w in arenas] == [(10, 10, 10)] * 3  # SwarmBench's setup, x3
    assert len({tuple(w.grid.cells.tolist()) for w in arenas}) == 3  # each scattered by its own stream
    last = sim.metrics().iloc[-1]
    scores = [w.task.metrics()["score"] for w in arenas]
    assert last["score"] == pytest.approx(np.mean(scores)) and min(scores) > 0  # foragers deliver in every arena
    assert last["carrying"] == pytest.approx(np.mean([w.task.metrics()["carrying"] for w in arenas]))
