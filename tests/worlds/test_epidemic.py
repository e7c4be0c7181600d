from __future__ import annotations

import asyncio
import math
from typing import Any

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.errors import ScenarioError
from populace.minds.rules import RulesMind
from populace.simulation import StepResult
from populace.testing import check_world
from populace.worlds.epidemic import EpidemicWorld
from populace.worlds.epidemic.census import AGE_GROUPS, CensusConfig, synthesize
from populace.worlds.epidemic.disease import DEAD, INFECTIOUS
from populace.worlds.epidemic.world import EpidemicConfig


def final_size(r0: float) -> float:
    """Root of z = 1 - exp(-r0 z) by fixed-point iteration (the homogeneous-mixing final size)."""
    z = 0.9
    for _ in range(200):
        z = 1 - math.exp(-r0 * z)
    return z


def world(n: int = 2000, **params: object) -> EpidemicWorld:
    w = EpidemicWorld(Population(size=n), params)
    w.reset(3)
    return w


def test_conforms_to_the_world_contract() -> None:
    check_world(EpidemicWorld(Population(size=1500), {"census": {"neighbourhood_size": 500}}))


def test_synthetic_census_matches_its_shares_and_never_builds_a_dense_matrix() -> None:
    cfg = CensusConfig()
    c = synthesize(200_000, cfg, np.random.default_rng(0))
    shares = np.bincount(c.age, minlength=len(AGE_GROUPS)) / c.size
    assert np.allclose(shares, np.asarray(cfg.age_shares) / sum(cfg.age_shares), atol=0.01)
    sizes = np.bincount(c.household)
    expected_mean = np.dot(cfg.household_sizes, np.arange(1, 7)) / sum(cfg.household_sizes)
    assert abs(sizes.mean() - expected_mean) < 0.05
    heads = np.r_[0, np.flatnonzero(np.diff(c.household)) + 1]
    assert (c.age[heads] >= 1).all()  # every household has an adult first member
    workers = c.occupation > 0
    assert ((c.age[workers] >= 1) & (c.age[workers] <= 3)).all()
    assert (c.workplace[workers] >= 0).all() and (c.workplace[~workers] == -1).all()
    assert abs(np.bincount(c.workplace[workers]).mean() - cfg.workplace_size) < 2
    assert c.age.dtype == np.int8 and c.household.dtype == np.int32


@pytest.mark.parametrize("r0", [1.5, 2.5])
def test_final_attack_rate_matches_the_final_size_relation_at_100k(r0: float) -> None:
    # One well-mixed community, no households or workplaces, no behaviour, no deaths: the
    # homogeneous SEIR model, whose final size solves z = 1 - exp(-r0 z) for any stage durations.
    w = world(100_000, census={"neighbourhood_size": 0}, disease={
        "r0": r0, "layer_weights": {"community": 1.0}, "initial_infected": 30, "fatality": [0.0] * 5,
    })
    for _ in range(400):
        w.tick()
        if not np.any((w.stage == 1) | (w.stage == INFECTIOUS)):
            break
    assert abs(w.metrics()["attack_rate"] - final_size(r0)) < 0.01  # tolerance: 1 percentage point


SIZE = ["population.size=20000"]


@pytest.fixture(scope="module")
def free() -> Any:
    """The covid scenario's year without interventions, at a small size."""
    return Simulation.from_scenario("covid", SIZE).run().metrics()


def test_the_policy_response_delays_and_lowers_the_peak_within_the_horizon_and_costs_jobs(free: Any) -> None:
    locked = Simulation.from_scenario("covid-lockdown", SIZE).run().metrics()
    for m in (free, locked):  # the year covers each arm's peak and most of its decline
        assert m["infectious"].iloc[-1] < 0.2 * m["infectious"].max()
    assert locked["infectious"].idxmax() > free["infectious"].idxmax() + 60
    assert locked["infectious"].max() < 0.5 * free["infectious"].max()
    assert locked["attack_rate"].iloc[-1] < free["attack_rate"].iloc[-1] - 0.15
    assert locked["unemployment"].max() > 0.2 > free["unemployment"].max()
    assert locked["lockdown"].iloc[30] == 1 and locked["lockdown"].iloc[-1] == 0
    assert locked["stimulus_paid"].iloc[-1] > 0
    assert locked["unemployment"].iloc[-1] < 0.1 * locked["unemployment"].max()  # re-hiring after reopening
    assert free["staying_home"].max() > 0.05  # agents react to the case counts they hear


def test_testing_lowers_the_peak_and_the_lockdown_delays_it(free: Any) -> None:
    testing_only = Simulation.from_scenario("covid-lockdown", [
        *SIZE, "interventions=[{at: 25d, call: testing, args: {rate: 0.1}}]"]).run().metrics()["infectious"]
    lockdown_only = Simulation.from_scenario("covid-lockdown", [
        *SIZE, "interventions=[{at: 20d, call: lockdown, args: {close: [office, service], community: 0.5}},"
        " {at: 80d, call: reopen}]"]).run().metrics()["infectious"]
    peak, peak_day = free["infectious"].max(), free["infectious"].idxmax()
    assert testing_only.max() < 0.5 * peak < 0.75 * peak < lockdown_only.max()
    assert lockdown_only.idxmax() > peak_day + 40
    assert abs(testing_only.idxmax() - peak_day) < 40


def test_cautious_agents_stay_home_as_cases_rise_and_the_sick_isolate() -> None:
    w = world(4000)
    mind = RulesMind(w.population, w.action_space, {"policy": "epidemic_cautious", "params": {"caution": 0.3}})

    def shares(level: int) -> dict[str, float]:
        w.recent_cases.extend([0] * 7)
        assert isinstance(w.config, EpidemicConfig)
        thresholds = w.config.behaviour.case_thresholds
        w.recent_cases[-1] = int(thresholds[level - 1] * w.n_agents / 1e5) + 1 if level else 0
        obs = w.observe(w.population.ids)
        assert obs["case_level"][0] == level
        decided = asyncio.run(mind.decide(obs)).actions
        return {a.name: len(a) / w.n_agents for a in decided}

    assert shares(0).get("stay_home", 0) == 0
    assert shares(2)["stay_home"] < shares(4)["stay_home"]
    sick = np.flatnonzero(w.stage == INFECTIOUS)
    w.symptomatic[sick] = True
    w.tested[sick[:1]] = True
    decided = {a.name: set(a.agents.tolist()) for a in asyncio.run(mind.decide(w.observe(sick))).actions}
    assert int(sick[0]) in decided["isolate"]


def test_dead_agents_cannot_act_and_the_tested_are_quarantined() -> None:
    w = world(500)
    w.stage[:2] = [DEAD, INFECTIOUS]
    w.tested[1] = True
    events = w.apply([Actions("go_out", np.array([0, 1, 2])), Actions("isolate", np.array([0]))])
    reasons = {(e.kind, int(a)): r for e in events if e.reason is not None
               for a, r in zip(e.agents, e.reason, strict=True)}
    assert reasons[("go_out", 0)] == "has died"
    assert reasons[("go_out", 1)] == "in quarantine after a positive test"
    assert reasons[("isolate", 0)] == "has died"


def test_closed_workplaces_cost_income_then_jobs() -> None:
    w = world(3000, livelihood={"job_loss_after": 3, "rehire_rate": 0.0})
    before = w.metrics()
    w.tick()
    working_income = w.metrics()["income_per_worker"]
    w.lockdown(close=["service"], community=1.0)
    for _ in range(5):
        w.tick()
    service = w.census.occupation == 3
    assert w.metrics()["income_per_worker"] < working_income
    assert not w.money.employed[service].any() and w.money.employed[w.census.occupation == 1].all()
    assert before["unemployment"] == 0 < w.metrics()["unemployment"]
    paid = w.stimulus(500, to="unemployed")
    assert paid.data["recipients"][0] == int(service.sum())


def test_operations_reject_bad_arguments_with_one_line() -> None:
    w = world(200)
    with pytest.raises(ScenarioError, match="unknown sector 'farms'"):
        w.lockdown(close=["farms"])
    with pytest.raises(ScenarioError, match="expected 'adults' or 'unemployed'"):
        w.stimulus(10, to="everyone")


ARCHETYPE_PROMPT = (
    "You are aged {obs.age_group} and work in {obs.occupation}. Reported cases in your city are "
    "{obs.case_level}. Symptoms: {obs.symptoms}. What do you do today? Options: {options}."
)
ARCHETYPE_BINS = {
    "obs.age_group": {"edges": [0.5, 1.5, 2.5, 3.5], "labels": ["0-17", "18-29", "30-49", "50-64", "65+"]},
    "obs.occupation": {"edges": [0.5, 1.5, 2.5], "labels": ["no job", "essential work", "office work", "services"]},
    "obs.case_level": {"edges": [0.5, 1.5, 2.5, 3.5], "labels": ["none", "low", "moderate", "high", "very high"]},
}


def test_an_archetype_mind_decides_for_groups_and_its_choices_shape_the_epidemic() -> None:
    import yaml

    from populace import load_scenario
    from populace.scenario import builtin_scenarios

    def run(choice: str) -> tuple[Any, Any]:
        data = yaml.safe_load(builtin_scenarios()["covid"].read_text())
        data.update(steps=40, model={"backend": "scripted", "probabilities": {choice: 1}})
        data["population"]["size"] = 5000
        data["minds"] = [{"select": "all", "type": "archetype", "prompt": ARCHETYPE_PROMPT,
                          "bins": ARCHETYPE_BINS, "options": ["go_out", "stay_home", "isolate"]}]
        sim = Simulation(load_scenario(data)).run()
        return sim.metrics(), sim.trace.read("steps").to_pandas()

    out_metrics, out_steps = run("go_out")
    home_metrics, _ = run("stay_home")
    assert out_metrics["staying_home"].max() == 0 and home_metrics["staying_home"].iloc[-1] > 0.99
    assert home_metrics["attack_rate"].iloc[-1] < out_metrics["attack_rate"].iloc[-1]
    assert home_metrics["income_per_worker"].iloc[-1] < out_metrics["income_per_worker"].iloc[-1]
    calls = out_steps["archetype_calls"]
    assert 0 < calls.max() <= 5 * 4 * 5 * 2  # one call per group: age x occupation x case level x symptoms


def test_covid_regions_scenario_the_outbreak_starts_in_one_region_and_reaches_the_rest() -> None:
    sim = Simulation.from_scenario("covid-regions", ["population.size=12000", "steps=120"])
    first: dict[int, int] = {}  # the day each region counts 20 infections

    def watch(result: StepResult) -> None:
        for region in sim.regions:
            if region.index not in first and int((region.world.stage > 0).sum()) >= 20:
                first[region.index] = result.step

    sim.run(progress=watch)
    assert sorted(first) == [0, 1, 2, 3]
    assert min(first[i] for i in (1, 2, 3)) >= first[0] + 15  # the others only through city-wide mixing
    assert all((region.world.stage > 0).mean() > 0.3 for region in sim.regions)
