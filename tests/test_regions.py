"""Partitioned worlds: how regions are cut, what they share, and that a partitioned run is sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from populace import Simulation, load_scenario
from populace.errors import ScenarioError
from populace.regions import RegionalWorld, apportion, regional_worlds
from populace.worlds.games.matrix import MatrixGameWorld

EPIDEMIC = ["population.size=6000", "steps=30", "trace.checkpoint_every=10", "world.partitions=3"]


def test_regions_are_runs_of_consecutive_ids_that_respect_alignment() -> None:
    cuts = RegionalWorld.split(10, 3)
    assert [c.tolist() for c in cuts] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    pairs = MatrixGameWorld.split(10, 3)  # games never cut a pair
    assert all(len(c) % 2 == 0 for c in pairs[:-1]) and np.concatenate(pairs).tolist() == list(range(10))


def test_apportion_keeps_the_total_and_follows_the_sizes() -> None:
    assert apportion(10, [1, 1, 1]).tolist() == [4, 3, 3]
    assert apportion(1, [5, 5]).tolist() == [1, 0]
    share = apportion(1000, [100, 300, 600])
    assert share.tolist() == [100, 300, 600]
    assert apportion(7, [3, 0, 4]).sum() == 7


def test_only_worlds_that_partition_accept_partitions() -> None:
    assert {"epidemic", "games"} <= set(regional_worlds())
    assert "social" not in regional_worlds()
    with pytest.raises(ScenarioError, match=r"world.partitions: the 'opinion' world is global"):
        load_scenario("opinion", ["world.partitions=2"])
    with pytest.raises(ScenarioError, match=r"minds.0.shards: a partitioned world already splits minds"):
        load_scenario("covid", ["world.partitions=2", "minds.0.shards=2"])
    with pytest.raises(ScenarioError, match="leave some empty"):
        Simulation(load_scenario("prisoners-dilemma", ["world.partitions=8"]))


def test_each_region_has_its_own_world_minds_and_stream_and_columns_reach_the_population() -> None:
    sim = Simulation(load_scenario("covid", EPIDEMIC))
    assert [len(r.agents) for r in sim.regions] == [2000, 2000, 2000]
    assert all(r.world.n_agents == 2000 and len(r.minds) == 1 for r in sim.regions)
    assert len({r.minds[0].rng.random() for r in sim.regions}) == 3
    assert len({int(r.world.census.household.max()) for r in sim.regions}) >= 2  # each region its own census
    ages = np.concatenate([r.world.population["age_group"] for r in sim.regions])
    assert (sim.population["age_group"] == ages).all()  # mind selectors can name the world's columns


def test_pairs_never_interact_so_a_partitioned_tournament_scores_exactly_as_a_whole_one() -> None:
    whole = Simulation.from_scenario("prisoners-dilemma").run()
    split = Simulation.from_scenario("prisoners-dilemma", ["world.partitions=2"]).run()
    assert split.metrics().equals(whole.metrics())
    key = ["step", "agent", "action"]
    assert split.events().to_pandas().sort_values(key).reset_index(drop=True).equals(
        whole.events().to_pandas().sort_values(key).reset_index(drop=True))


def test_partitioned_games_report_partners_by_their_run_ids() -> None:
    sim = Simulation(load_scenario("prisoners-dilemma", ["world.partitions=2"]))
    second = sim.regions[1]
    obs = second.world.observe(np.arange(len(second.agents)))
    assert (obs["partner"] == (second.agents ^ 1)).all()


@pytest.mark.parametrize("mixing,spreads", [(0.0, False), (0.3, True)])
def test_regions_meet_only_through_city_wide_mixing(mixing: float, spreads: bool) -> None:
    overrides = ["population.size=8000", "steps=60", "world.partitions=4", "world.params.disease.initial_infected=1",
                 "world.params.disease.r0=3", f"world.params.region_mixing={mixing}"]
    sim = Simulation.from_scenario("covid", overrides).run()
    infected = [int((r.world.stage > 0).sum()) for r in sim.regions]
    assert infected[0] > 100, infected  # the one seed lands in the first region, where the epidemic takes off
    if spreads:
        assert min(infected[1:]) >= 20, infected
    else:
        assert infected[1:] == [0, 0, 0]


def test_the_case_level_is_the_citys_and_metrics_are_computed_from_summed_tallies() -> None:
    sim = Simulation.from_scenario("covid", EPIDEMIC).run()
    tallies = [r.world.tallies() for r in sim.regions]
    cases = sum(t["recent_cases"] for t in tallies)
    assert cases > 0
    expected_level = int(np.searchsorted([5.0, 50.0, 200.0, 600.0], cases * 1e5 / 6000, side="right"))
    assert {r.world.case_level() for r in sim.regions} == {expected_level}
    last = sim.metrics().iloc[-1]
    assert last["attack_rate"] == pytest.approx(sum(t["ever_infected"] for t in tallies) / 6000)
    assert last["infectious"] == pytest.approx(sum(t["infectious"] for t in tallies) / 6000)


def test_imported_cases_are_shared_out_over_regions() -> None:
    overrides = [*EPIDEMIC, "steps=2", "world.params.disease.initial_infected=0", "trace.events=all",
                 "interventions=[{at: 0, call: import_cases, args: {count: 10}}]"]
    sim = Simulation.from_scenario("covid", overrides).run()
    per_region = [int((r.world.stage > 0).sum()) for r in sim.regions]
    assert sum(per_region) >= 10 and all(n >= 3 for n in per_region)
    kinds = sim.events().to_pandas()
    assert sorted(kinds[kinds["action"] == "import_cases"]["data"].tolist()) == sorted(
        f'{{"count":{k},"region":{i}}}' for i, k in enumerate([4, 3, 3]))


def test_a_paused_partitioned_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    full = Simulation.from_scenario("covid", EPIDEMIC, runs_dir=tmp_path / "a").run()
    part = Simulation.from_scenario("covid", EPIDEMIC, runs_dir=tmp_path / "b")
    part.run(steps=20)
    resumed = Simulation.resume(part.path)
    assert resumed.steps_done == 20 and len(resumed.regions) == 3
    resumed.run()
    assert resumed.metrics().equals(full.metrics())
    assert resumed.events().equals(full.events())


def test_a_checkpoint_written_before_regions_moved_still_loads() -> None:
    """Region and its orders lived in populace.regions; a run's checkpoint from then names them there."""
    import pickle
    from datetime import datetime

    from populace.execution.regions import RegionStep
    from populace.trace import unpickle

    orders = RegionStep(3, datetime(2025, 1, 1), {"regions": 2.0})
    old = pickle.dumps(orders, protocol=0).replace(b"populace.execution.regions", b"populace.regions")
    assert b"populace.regions\nRegionStep" in old
    assert unpickle(old) == orders
