"""The shipped social scenarios, small and seeded, with rules minds: the direction of each effect."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from populace import Simulation, load_scenario


def final(sim: Simulation) -> pd.Series:
    return sim.metrics().iloc[-1]


def test_misinformation_cascades_and_a_correction_lowers_belief() -> None:
    with_correction = Simulation.from_scenario("misinformation").run()
    m = with_correction.metrics()
    assert m["cascade_scale"].iloc[0] < m["cascade_scale"].iloc[-1]
    assert m["cascade_depth"].iloc[-1] >= 2 and m["cascade_max_breadth"].iloc[-1] >= 5
    assert m["debunked"].iloc[-1] > 0.05 and m["correction_scale"].iloc[-1] >= 3
    assert m["reached"].iloc[-1] * 111 >= m["cascade_scale"].iloc[-1] - 1  # those who shared it had seen it
    assert m["correction_reached"].iloc[5] == 0 < m["correction_reached"].iloc[-1]
    events = with_correction.events().to_pandas()
    assert (events[events.action == "interview"].outcome == "ok").sum() > 50  # the closing survey
    assert not events.reason.fillna("").str.contains("unknown action").any()  # the policy keeps to world.actions

    scenario = load_scenario("misinformation")
    scenario.interventions = [iv for iv in scenario.interventions if iv.args.get("topic") != "correction"]
    without = Simulation(scenario).run()
    assert final(without)["debunked"] == 0
    assert final(with_correction)["believing"] < final(without)["believing"] - 0.1


def test_herding_up_treated_comments_end_higher_than_down_treated() -> None:
    m = final(Simulation.from_scenario("herd-effect", ["population.size=150", "steps=30"]).run())
    assert m["herd_up_score"] > m["herd_control_score"] > m["herd_down_score"]
    assert m["herd_up_score"] - m["herd_down_score"] > 2  # far more than the single treatment vote each way
    assert 0 < m["herd_disagreement"] < 0.5


def test_echo_chambers_polarize_and_opposing_views_do_not() -> None:
    small = ["population.size=250"]
    echo = Simulation.from_scenario("polarization", small).run().metrics()
    opposing = Simulation.from_scenario(
        "polarization", [*small, "world.params.recommender.type=opposing_views"]).run().metrics()
    assert echo["stance_bimodality"].iloc[-1] > opposing["stance_bimodality"].iloc[-1] + 0.2
    assert echo["stance_bimodality"].iloc[-1] > echo["stance_bimodality"].iloc[0]
    assert echo["stance_extremes"].iloc[-1] > echo["stance_extremes"].iloc[0] + 0.2
    assert opposing["stance_variance"].iloc[-1] < opposing["stance_variance"].iloc[0]


def test_a_resumed_run_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    overrides = ["population.size=100", "steps=12", "trace.checkpoint_every=5"]
    full = Simulation.from_scenario("herd-effect", overrides).run().metrics()
    first = Simulation.from_scenario("herd-effect", overrides, runs_dir=tmp_path)
    first.run(steps=7)
    assert first.path is not None
    resumed = Simulation.resume(first.path).run().metrics()
    pd.testing.assert_frame_equal(full, resumed)
