from __future__ import annotations

import asyncio

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.errors import ScenarioError
from populace.minds.rules import RulesMind
from populace.testing import check_world
from populace.worlds.economy import (
    RATE_ARGS,
    US_2023_RATES,
    US_2023_THRESHOLDS,
    Economy,
    EconomyConfig,
    EconomyWorld,
    tax,
)


def world(n: int = 50, **params: object) -> EconomyWorld:
    w = EconomyWorld(Population(size=n), params)
    w.reset(1)
    return w


def test_conforms_to_the_world_contract() -> None:
    check_world(world(40, vote_every=2))


def test_tax_follows_the_marginal_schedule() -> None:
    owed = tax(np.array([0.0, 11_000.0, 50_000.0, 1_000_000.0]), np.array(US_2023_THRESHOLDS),
               np.array(US_2023_RATES))
    by_hand_50k = 0.10 * 11_000 + 0.12 * 33_725 + 0.22 * 5_275
    by_hand_1m = by_hand_50k - 0.22 * 5_275 + 0.22 * 50_650 + 0.24 * 86_725 + 0.32 * 49_150 \
        + 0.35 * 346_875 + 0.37 * 421_875
    assert np.allclose(owed, [0.0, 1_100.0, by_hand_50k, by_hand_1m])


def test_workers_best_respond_as_the_utility_says() -> None:
    cfg = EconomyConfig()
    economy = Economy.from_config(cfg)
    median = np.array([cfg.skill_median])
    no_tax = np.zeros(7)
    assert economy.best_hours(median, no_tax, 0.0)[0] == pytest.approx(cfg.reference_hours, abs=0.5)
    # eta < 1: the substitution effect wins, so a flat tax lowers hours; a transfer lowers them too
    assert economy.best_hours(median, np.full(7, 0.3), 0.0)[0] < cfg.reference_hours - 2
    assert economy.best_hours(median, no_tax, 20_000.0)[0] < cfg.reference_hours - 2
    skills = np.array([10.0, 23.1, 60.0])
    assert np.all(np.diff(economy.best_hours(skills, no_tax, 0.0)) > 0)  # eta < 1: higher skill, more hours


def test_only_the_planner_sets_taxes_and_it_takes_effect_next_year() -> None:
    w = world()
    rates = {name: np.array([0.3, 0.3]) for name in RATE_ARGS}
    events = w.apply([Actions("set_taxes", np.array([5, 0]), rates)])
    assert [str(o) for e in events for o in e.outcome] == ["rejected", "ok"]
    assert w.rates.tolist() == US_2023_RATES
    w.tick()
    assert w.rates.tolist() == [0.3] * 7
    assert w.metrics()["top_rate"] == 0.3


def test_losing_a_vote_returns_the_baseline_schedule() -> None:
    w = world(vote_every=1)
    w.rates = np.full(7, 0.6)
    voters = np.arange(1, 50)
    w.apply([Actions("vote", voters, {"approve": voters < 10})])
    events = w.tick()
    assert any(e.kind == "planner_voted_out" for e in events)
    assert w.rates.tolist() == US_2023_RATES and w.metrics()["approval"] < 0.5


def test_utility_maximising_workers_respond_to_the_schedule() -> None:
    w = world(200)
    mind = RulesMind(w.population, w.action_space, {"policy": "tax_worker"})
    low = asyncio.run(mind.decide(w.observe(w.population.ids))).actions[0]
    w.rates = np.full(7, 0.6)
    high = asyncio.run(mind.decide(w.observe(w.population.ids))).actions[0]
    assert high.args["hours"].mean() < low.args["hours"].mean()
    assert 0 not in low.agents  # the planner does not work


def test_the_planner_beats_the_fixed_baseline_schedule() -> None:
    planned = Simulation.from_scenario("tax-planner", ["steps=40"]).run().metrics()
    fixed = Simulation.from_scenario("tax-planner", ["steps=40", "minds.0.policy=tax_planner_fixed",
                                                      "minds.0.params={}"]).run().metrics()
    assert (fixed["mean_rate"] == fixed["mean_rate"].iloc[0]).all()
    assert planned["welfare"].iloc[-10:].mean() > fixed["welfare"].iloc[-10:].mean()
    assert planned["welfare"].iloc[-1] >= fixed["welfare"].iloc[-1]
    assert planned["mean_rate"].iloc[-1] != fixed["mean_rate"].iloc[-1]
    assert 0.3 < planned["income_gini"].iloc[-1] < 0.6  # lognormal skills, sigma 0.68
    assert planned["post_tax_gini"].iloc[-1] < planned["income_gini"].iloc[-1]


def test_a_bad_schedule_gets_one_line() -> None:
    with pytest.raises(ScenarioError, match="give 7 rates between 0 and 1"):
        world().set_schedule([0.5, 2.0])


def test_votes_count_only_in_voting_years_and_not_from_the_planner() -> None:
    w = world(vote_every=2)
    events = w.apply([Actions("vote", np.array([0, 3]), {"approve": np.array([True, True])})])
    assert [r for e in events if e.reason is not None for r in e.reason] == [
        "the planner does not vote", "no vote this year"]
    w.tick()
    w.set_clock(1, None)
    events = w.apply([Actions("vote", np.array([0, 3]), {"approve": np.array([True, False])})])
    assert [str(o) for e in events for o in e.outcome] == ["rejected", "ok"]
