"""Archetype minds: grouping by the fields the prompt uses, one call per group, per-agent sampling."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from populace.actions import ActionSpace, ActionSpec, Arg
from populace.errors import PopulaceError
from populace.llm.base import ModelError
from populace.minds import minds
from populace.minds.archetype import ArchetypeMind
from populace.population import Population
from populace.scenario import load_scenario
from populace.simulation import Simulation
from populace.world import Observations

SPACE = ActionSpace(
    ActionSpec("post", {"topic": Arg.text()}),
    ActionSpec("discuss", {"with": Arg.agent()}),
)


def make_mind(population: Population, scripted_model: Any, seed: int = 0, **config: Any) -> ArchetypeMind:
    mind = minds.get("archetype")(population, SPACE, config, rng=np.random.default_rng(seed))
    assert isinstance(mind, ArchetypeMind)
    mind.use_model(scripted_model)
    return mind


def population(n: int, seed: int = 0) -> Population:
    rng = np.random.default_rng(seed)
    return Population({
        "gender": rng.choice(["f", "m"], n).astype(object),
        "age": rng.integers(18, 90, n),
        "unused": rng.random(n),
    })


def observe(n: int, seed: int = 1) -> Observations:
    rng = np.random.default_rng(seed)
    return Observations(np.arange(n), {"opinion": rng.random(n), "neighbour": rng.integers(0, n, n)})


CONFIG: dict[str, Any] = {
    "prompt": "You are {persona.gender}. Your opinion is {obs.opinion}. Options: {options}.",
    "bins": {"obs.opinion": [0.5]},
    "options": {"speak": {"action": "post", "args": {"topic": "news"}},
                "talk": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None},
}


def test_groups_by_exactly_the_fields_the_prompt_uses(scripted: Any) -> None:
    model = scripted()
    mind = make_mind(population(500), model, **CONFIG)
    decisions = asyncio.run(mind.decide(observe(500)))
    assert len(model.prompts) == 4  # gender (2) x opinion bin (2); age and `unused` play no part
    assert sorted(model.prompts) == sorted(
        f'You are "{g}". Your opinion is {b}. Options: speak, talk, ignore.'
        for g in "fm" for b in ("below 0.5", "0.5 or more")
    )
    assert sum(len(a) for a in decisions.actions) <= 500 and not decisions.failures
    stats = mind.stats()
    assert stats["archetype_calls"] == 4 and stats["archetype_groups"] == 4 and stats["archetype_agents"] == 500
    assert stats["llm_calls"] == 4
    asyncio.run(mind.decide(observe(500)))
    assert mind.stats()["llm_calls"] == 8  # cumulative; the simulation records each step's increase


def test_each_agent_samples_its_groups_distribution(scripted: Any) -> None:
    def choose(prompt: str, options: Any) -> list[float]:
        return [0.0, 0.8, 0.2] if '"f"' in prompt else [0.5, 0.0, 0.5]

    pop = population(40_000)
    obs = observe(40_000)
    decisions = asyncio.run(make_mind(pop, scripted(choose), **CONFIG).decide(obs))
    by_action = {a.name: a for a in decisions.actions}
    women = pop["gender"] == "f"
    talk = by_action["discuss"]
    assert np.all(women[talk.agents])  # men never get the option with probability 0
    assert np.mean(np.isin(np.flatnonzero(women), talk.agents)) == pytest.approx(0.8, abs=0.015)
    assert np.mean(np.isin(np.flatnonzero(~women), by_action["post"].agents)) == pytest.approx(0.5, abs=0.015)
    assert np.array_equal(talk.args["with"], obs["neighbour"][talk.agents])  # obs.<col> arguments
    assert set(by_action["post"].args["topic"]) == {"news"}
    assert talk.request is not None and len(set(talk.request)) == 2  # one request per group (2 opinion bins)


def test_same_seed_same_choices_whatever_order_calls_complete(scripted: Any) -> None:
    def choose(prompt: str, options: Any) -> list[float]:
        return [0.2, 0.3, 0.5] if "below" in prompt else [0.6, 0.3, 0.1]

    def run(delay: Any) -> list[tuple[str, list[int]]]:
        mind = make_mind(population(300), scripted(choose, delay=delay), seed=5, **CONFIG)
        decisions = asyncio.run(mind.decide(observe(300)))
        return sorted((a.name, sorted(a.agents.tolist())) for a in decisions.actions)

    first_fast = run(lambda p: 0.0 if '"f"' in p else 0.02)
    first_slow = run(lambda p: 0.02 if '"f"' in p else 0.0)
    assert first_fast == first_slow
    other_seed = make_mind(population(300), scripted(choose), seed=6, **CONFIG)
    assert sorted((a.name, sorted(a.agents.tolist())) for a in asyncio.run(other_seed.decide(observe(300))).actions) \
        != first_fast


def test_a_failed_call_fails_only_its_group(scripted: Any) -> None:
    def choose(prompt: str, options: Any) -> list[float]:
        if '"m"' in prompt:
            raise ModelError("timeout", "no answer in 30 s")
        return [1.0, 0.0, 0.0]

    pop = population(200)
    mind = make_mind(pop, scripted(choose), **CONFIG)
    decisions = asyncio.run(mind.decide(observe(200)))
    (failed,) = decisions.failures
    men = np.flatnonzero(pop["gender"] == "m")
    assert np.array_equal(np.sort(failed.agents), men)
    assert set(failed.outcome) == {"failed"} and set(failed.reason) == {"timeout"}
    assert sorted(decisions.actions[0].agents.tolist()) == np.flatnonzero(pop["gender"] == "f").tolist()
    assert mind.stats()["archetype_failed"] == len(men)


def test_a_million_agents_cost_no_more_calls_than_groups(scripted: Any) -> None:
    n = 1_000_000
    rng = np.random.default_rng(3)
    pop = Population({"region": rng.choice(["north", "south", "east"], n).astype(object)})
    obs = Observations(np.arange(n), {"opinion": rng.random(n), "neighbour": rng.integers(0, n, n)})
    model = scripted(lambda prompt, options: [0.5, 0.5])
    config = {"prompt": "{persona.region} {obs.opinion}", "bins": {"obs.opinion": [0.25, 0.5, 0.75]},
              "options": {"talk": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None}}
    mind = make_mind(pop, model, **config)
    started = time.perf_counter()
    decisions = asyncio.run(mind.decide(obs))
    elapsed = time.perf_counter() - started
    assert model.usage.calls == 12 == mind.stats()["archetype_groups"]  # 3 regions x 4 bins
    assert len(decisions.actions[0]) == pytest.approx(n / 2, rel=0.01)
    assert elapsed < 20


def test_default_options_are_the_action_names(scripted: Any) -> None:
    space = ActionSpace(ActionSpec("stay"), ActionSpec("leave"))
    mind = minds.get("archetype")(population(50), space, {"prompt": "{persona.gender}: {options}?"})
    assert isinstance(mind, ArchetypeMind)
    mind.use_model(scripted(lambda p, o: [0.0, 1.0]))
    decisions = asyncio.run(mind.decide(observe(50)))
    assert [a.name for a in decisions.actions] == ["leave"] and len(decisions.actions[0]) == 50
    assert mind.labels == ["stay", "leave"]


@pytest.mark.parametrize(("config", "message"), [
    ({"prompt": "{persona.age} {obs.opinion}", "bins": {"obs.mood": [0.5]}}, "does not use"),
    ({"prompt": "{persona.__dict__}"}, "not accepted"),
    ({"prompt": "{obs.opinion}", "bins": {"obs.opinion": [0.5, 0.2]}}, "increase"),
])
def test_bad_config_is_a_validation_error(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ArchetypeMind.Config.model_validate(config)


def test_continuous_field_without_bins_and_unknown_action_are_clear_errors(scripted: Any) -> None:
    mind = make_mind(population(10), scripted(), prompt="{obs.opinion}", options=["post"])
    with pytest.raises(PopulaceError, match=r"obs\.opinion is continuous; declare bins"):
        asyncio.run(mind.decide(observe(10)))
    with pytest.raises(PopulaceError, match="unknown action 'fly'"):
        make_mind(population(10), scripted(), prompt="{obs.opinion}", options={"go": {"action": "fly"}})


def opinion_scenario(minds_list: list[dict[str, Any]], steps: int = 30) -> dict[str, Any]:
    return {
        "name": "archetype-opinion", "seed": 4, "steps": steps,
        "population": {"size": 400, "attributes": {"age": {"dist": "integer", "low": 18, "high": 80}}},
        "world": {"type": "opinion", "params": {"mu": 0.5, "network": {"degree": 8}}},
        "minds": minds_list,
    }


ARCHETYPE_DISCUSS: dict[str, Any] = {
    "type": "archetype",
    "prompt": "Your opinion: {obs.opinion} | Your neighbour's: {obs.neighbour_opinion} | {options}?",
    "bins": {"obs.opinion": [0.2, 0.4, 0.6, 0.8], "obs.neighbour_opinion": [0.2, 0.4, 0.6, 0.8]},
    "options": {"discuss": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None},
}


def same_bin_discusses(prompt: str, options: Any) -> list[float]:
    """A model that discusses only with neighbours in its own opinion bin: bounded confidence."""
    mine, theirs, _ = prompt.split(" | ")
    return [1.0, 0.0] if mine.split(": ")[1] == theirs.split(": ")[1] else [0.0, 1.0]


def test_archetype_mind_drives_opinion_clusters_end_to_end(scripted: Any) -> None:
    sim = Simulation(load_scenario(opinion_scenario([dict(ARCHETYPE_DISCUSS)])))
    model = scripted(same_bin_discusses)
    sim.minds[0].use_model(model)  # type: ignore[attr-defined]
    sim.run()
    events = sim.events().to_pandas()
    discussed = events[(events["action"] == "discuss") & (events["outcome"] == "ok")]
    assert len(discussed) > 1000
    metrics = sim.metrics()
    assert metrics["variance"].iloc[-1] < metrics["variance"].iloc[0]  # discussion pulls opinions together
    assert metrics["clusters"].iloc[-1] >= 3  # but only within bins: several clusters survive
    assert model.usage.calls <= 30 * 25  # at most 5 x 5 bin pairs per step, whatever the population


def test_missing_values_form_one_unknown_group(scripted: Any) -> None:
    pop = Population({"party": np.array(["red", None, "blue", None, "red"], dtype=object)})
    model = scripted()
    mind = make_mind(pop, model, prompt="Party {persona.party}: {options}", options=["post"])
    asyncio.run(mind.decide(observe(5)))
    assert sorted(model.prompts) == ['Party "blue": post', 'Party "red": post', "Party unknown: post"]


def test_a_model_that_cannot_be_used_stops_the_run(scripted: Any) -> None:
    from populace.llm.base import ModelUnavailableError

    def down(prompt: str, options: Any) -> list[float]:
        raise ModelUnavailableError("not_installed", "the embedded model is not installed")

    with pytest.raises(ModelUnavailableError, match="not installed"):
        asyncio.run(make_mind(population(20), scripted(down), **CONFIG).decide(observe(20)))


def test_a_continuous_persona_field_without_bins_fails_when_the_mind_is_built(scripted: Any) -> None:
    with pytest.raises(PopulaceError, match=r"persona\.unused is continuous; declare bins"):
        make_mind(population(10), scripted(), prompt="{persona.unused} {obs.opinion}",
                  bins={"obs.opinion": [0.5]}, options=["post"])
    make_mind(population(10), scripted(), prompt="{persona.unused}", bins={"persona.unused": [0.5]}, options=["post"])
