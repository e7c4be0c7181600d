"""The GovSim fishery: harvest then talk, regrowth to capacity, collapse, and its metrics."""

from __future__ import annotations

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.testing import check_world
from populace.worlds.commons import CommonsWorld


@pytest.mark.parametrize("params", [{}, {"talk_turns": 0}, {"initial": 6, "months": 2}])
def test_conforms_to_the_world_contract(params: dict[str, object]) -> None:
    check_world(CommonsWorld(Population(size=5), params))


def fishery(*minds: dict[str, object]) -> dict[str, float]:
    overrides = ["trace.events=none"] + ([f"minds={list(minds)}"] if minds else [])
    sim = Simulation.from_scenario("fishery", overrides).run()
    return dict(sim.metrics().iloc[-1])


def test_sustainable_fishers_survive_all_twelve_months_at_full_efficiency() -> None:
    m = fishery({"type": "rules", "policy": "sustainable_harvest"})
    assert m["survival_months"] == 12 and m["collapsed"] == 0 and m["stock"] == 100
    assert m["total_gain"] == pytest.approx(600) and m["efficiency"] == pytest.approx(1.0)
    assert m["equality"] == pytest.approx(1.0) and m["over_usage"] == 0
    assert m["messages"] == 5 * 12  # one message each on the first talk turn of every month


def test_greedy_fishers_collapse_the_fishery_early() -> None:
    m = fishery({"type": "rules", "policy": "greedy_harvest"})
    # 75% of the lake is taken every month: 100 -> 25 -> 50 -> 12.5 -> 25 -> 6.25 -> 12.5 -> 3.1 < 5
    assert m["collapsed"] == 1 and m["survival_months"] == 3
    assert m["over_usage"] == 1.0 and m["efficiency"] < 0.25


def test_fishery_scenario_one_free_rider_lowers_equality_but_the_lake_survives() -> None:
    m = fishery()
    assert m["survival_months"] == 12 and m["collapsed"] == 0
    assert m["over_usage"] == pytest.approx(0.2)  # the free rider, every month
    assert 0.85 < m["equality"] < 0.95 and 0.85 < m["efficiency"] < 0.95
    assert m["stock"] == pytest.approx(800 / 9, rel=1e-3)  # the fixed point 0.1 s + 80 = s


def test_harvest_and_talk_phases_and_proportional_shares() -> None:
    world = CommonsWorld(Population(size=2), {"talk_turns": 1, "initial": 60})
    world.reset(0)
    (early,) = world.apply([Actions("say", np.array([0]), {"text": np.array(["hi"], dtype=object)})])
    assert early.reason[0] == "it is the harvest phase; talk after the harvest"
    world.apply([Actions("harvest", np.array([0, 1]), {"tons": np.array([60.0, 20.0])})])
    world.tick()  # 80 asked of 60: shared 3:1, the lake is empty and collapses
    assert world.catches[0].tolist() == [45.0, 15.0]
    assert world.collapsed and world.phase == "over"
    (late,) = world.apply([Actions("harvest", np.array([0]), {"tons": np.array([1.0])})])
    assert late.reason[0] == "the fishery has collapsed"


def test_text_observations_carry_the_discussion_and_history() -> None:
    world = CommonsWorld(Population(size=3), {"talk_turns": 1})
    world.reset(0)
    world.apply([Actions("harvest", np.arange(3), {"tons": np.array([10.0, 20.0, 5.0])})])
    world.tick()
    world.apply([Actions("say", np.array([1, 1]), {"text": np.array(["sorry", "again"], dtype=object)})])
    obs = world.observe(np.arange(3))
    assert obs["phase"][0] == "discuss" and obs["discussion"][0] == "Fisher 1: sorry"
    world.tick()
    obs = world.observe(np.arange(3))
    assert obs["phase"][0] == "harvest" and obs["stock"][0] == 100
    assert obs["history"][2] == ("Month 1: the lake held 100 tons; you caught 5, the others caught 10, 20; "
                                 "after regrowth it held 100 tons.")


def test_an_archetype_mind_fishes_through_the_text_observations() -> None:
    """A scripted model that always answers "share" takes the sustainable share; talk is skipped."""
    sim = Simulation.from_scenario("fishery", [
        "trace.events=none", "model={backend: scripted, probabilities: {share: 1, more: 0, wait: 0}}",
        "minds=[{type: archetype, prompt: '{obs.rules} {obs.history} {obs.discussion} Phase: {obs.phase}. {options}',"
        " options: {share: {action: harvest, args: {tons: obs.sustainable_share}},"
        " more: {action: harvest, args: {tons: 30}}, wait: null}}]",
    ]).run()
    m = sim.metrics().iloc[-1]
    assert m["survival_months"] == 12 and m["efficiency"] == pytest.approx(1.0)
    assert m["over_usage"] == 0
