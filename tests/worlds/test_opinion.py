from __future__ import annotations

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.worlds.opinion import OpinionWorld

BASE = ["population.size=1500", "steps=200", "schedule.activity=always", "interventions=[]",
        "world.params.network.kind=random"]


def run(threshold: float) -> Simulation:
    return Simulation.from_scenario("opinion", [
        *BASE, f"minds.0.params.threshold={threshold}", f"minds.1.params.threshold={threshold}",
    ]).run()


def test_wide_confidence_reaches_consensus() -> None:
    m = run(0.4).metrics()
    assert m["variance"].iloc[-1] < 0.005 < m["variance"].iloc[0]
    assert m["largest_cluster"].iloc[-1] > 0.95


@pytest.mark.parametrize(("threshold", "low", "high"), [(0.1, 3, 5), (0.15, 2, 3)])
def test_narrow_confidence_fragments_into_about_one_over_2d_clusters(threshold: float, low: int, high: int) -> None:
    m = run(threshold).metrics()
    assert m["clusters"].iloc[0] == 1  # uniform opinions are one cloud, not clusters
    assert low <= m["clusters"].iloc[-1] <= high  # at most 1 / (2 d) on a sparse network
    assert m["largest_cluster"].iloc[-1] < 0.8


def test_the_scenario_splits_one_cloud_of_opinions_into_two_clusters() -> None:
    m = Simulation.from_scenario("opinion", ["population.size=1000", "trace.events=none"]).run().metrics()
    assert (m["clusters"].iloc[0], m["largest_cluster"].iloc[0]) == (1, 1.0)
    assert (m["clusters"].iloc[-100:] == 2).all()  # and they stay apart
    assert 0.5 <= m["largest_cluster"].iloc[-1] < 0.65
    assert m["variance"].iloc[-1] < 0.7 * m["variance"].iloc[0]


def test_scenario_runs_with_mixed_minds_and_its_campaign() -> None:
    sim = Simulation.from_scenario("opinion", ["population.size=600", "steps=70"]).run()
    events = sim.events().to_pandas()
    campaign = events[events.action == "broadcast"]
    assert set(campaign.step) == {60} and len(campaign) == round(0.02 * 600)
    assert (events[events.action == "discuss"].outcome == "ok").all()


def test_discussing_with_a_stranger_is_rejected() -> None:
    world = OpinionWorld(Population(size=100), {"network": {"kind": "small_world", "degree": 2, "rewire": 0}})
    world.reset(0)
    before = world.opinion.copy()
    events = world.apply([Actions("discuss", np.array([0, 0]), {"with": np.array([1, 50])})])
    (batch,) = events
    assert batch.outcome.tolist() == ["ok", "rejected"]
    assert batch.reason[1] == "not a neighbour"
    midpoint = (before[0] + before[1]) / 2
    assert world.opinion[0] == pytest.approx(midpoint) and world.opinion[1] == pytest.approx(midpoint)
    assert world.opinion[50] == before[50]
