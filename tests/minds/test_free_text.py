"""Free-text agents: the player tier, the translator over a typed world, and the game master's checks."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from populace.actions import ActionSpace, ActionSpec, Arg
from populace.errors import ScenarioError
from populace.llm.backends.scripted import ScriptedBackend
from populace.llm.base import Sampling
from populace.llm.client import LanguageModel
from populace.minds import minds
from populace.minds.free_text import FreeTextMind
from populace.population import Population
from populace.scenario import load_scenario
from populace.simulation import Simulation
from populace.world import worlds

#: what the traders who speak say, in the order they are asked (then "I buy" for the rest)
LINES: list[str] = []


def respond(prompt: str, sampling: Any, schema: Any) -> str:
    """Players say their line; the translator maps buying to `buy` and anything else to none."""
    if schema is None:
        return LINES.pop(0) if LINES else "I buy 5 shares at up to 150."
    said = re.search(r'It says: "([^"]*)"', prompt)
    if said and "buy" in said.group(1):
        return json.dumps({"action": "buy", "args": {"shares": 5, "limit": 150.0}})
    return json.dumps({"action": "none", "args": {"why": "no action goes fishing"}})


def mixed(steps: int = 3) -> dict[str, Any]:
    """Eight stock traders: those who talk act in free text through a translator, the rest by rules."""
    return {
        "name": "mixed", "seed": 2, "steps": steps,
        "clock": {"start": "2025-01-02T16:00:00", "step": "1d"},
        "population": {"size": 8, "attributes": {"voice": {"dist": "categorical", "values": ["talker", "quiet"],
                                                           "p": [0.5, 0.5]}}},
        "world": {"type": "stock_market", "params": {"feed": {"size": 2, "degree": 2}}},
        "model": {"backend": "scripted", "function": "test_free_text:respond", "retries": 0, "repairs": 0},
        "minds": [{"select": "voice == 'talker'", "type": "translator", "players": {"type": "player"}},
                  {"select": "all", "type": "rules", "policy": "stock_trader"}],
    }


def test_free_text_agents_trade_beside_typed_minds(tmp_path: Path) -> None:
    LINES[:] = ["I go fishing today."]
    sim = Simulation.from_scenario(load_scenario(mixed()), runs_dir=tmp_path)
    talkers = set(np.flatnonzero(sim.population["voice"] == "talker").tolist())
    assert 1 < len(talkers) < 8
    sim.run()
    events = sim.events().to_pandas()
    spoken = events[events.agent.isin(talkers)]
    buys = spoken[spoken.action == "buy"]
    assert len(buys) == 3 * len(talkers) - 1 and buys.request.notna().all()  # each linked to its translation
    assert all(json.loads(a) == {"shares": 5, "limit": 150.0} for a in buys.args)
    (unfit,) = spoken[spoken.action == "act"].itertuples()
    assert unfit.outcome == "rejected" and unfit.reason == "no action fits: no action goes fishing"
    assert json.loads(unfit.args) == {"text": "I go fishing today."}
    quiet = events[~events.agent.isin(talkers) & (events.agent >= 0)]
    assert {"buy", "sell"} <= set(quiet.action) and not (quiet.action == "act").any()
    steps = sim.trace.read("steps").to_pandas()
    assert steps["translator_calls"].sum() >= 3 * len(talkers) and steps["player_calls"].sum() == 3 * len(talkers)


def test_rechecks_count_answers_that_change_with_the_seed() -> None:
    population = Population(size=4)
    world = worlds.get("stock_market")(population, {})
    world.reset(0)
    mind = minds.get("translator")(population, world.action_space, {"recheck": 0.5}, rng=np.random.default_rng(0))
    assert isinstance(mind, FreeTextMind)

    def by_seed(prompt: str, sampling: Sampling, schema: Any) -> str:  # the model changes its mind with the seed
        if schema is None:
            return "I buy some shares."
        return json.dumps({"action": "buy", "args": {"shares": 1 + sampling.seed % 7, "limit": 100.0}})

    mind.use_model(LanguageModel(ScriptedBackend(by_seed), retries=0, repairs=0))
    decisions = asyncio.run(mind.decide(world.observe(np.arange(4))))
    assert sum(len(batch) for batch in decisions.actions) == 4
    stats = mind.stats()
    assert stats["translator_rechecks"] == 2 and stats["translator_divergent"] == 2
    assert stats["player_calls"] == 4 and stats["llm_calls"] == 4 + 4 + 2  # players, translations, rechecks


def test_a_player_needs_a_text_action_and_a_game_master_a_ruling() -> None:
    population = Population(size=2)
    wealth = worlds.get("wealth")(population, {})
    with pytest.raises(ScenarioError, match="the player mind needs an action with one text argument.*game_master.*translator"):
        minds.get("player")(population, wealth.action_space, {})
    with pytest.raises(ScenarioError, match="the game master rules through an act carrying text, ruling"):
        minds.get("game_master")(population, wealth.action_space, {})


def test_players_are_checked_when_the_scenario_loads() -> None:
    spec = mixed()
    spec["minds"][0]["players"] = {"type": "playr"}
    with pytest.raises(ScenarioError, match=r"minds\.0\.players: .*unknown mind 'playr'; did you mean 'player'"):
        load_scenario(spec)
    spec["minds"][0]["players"] = {"type": "player", "max_tokens": 0}
    with pytest.raises(ScenarioError, match=r"minds\.0\.players: .*max_tokens"):
        load_scenario(spec)
    spec["minds"][0]["players"] = {"type": "translator"}
    with pytest.raises(ScenarioError, match="would interpret free text themselves"):
        load_scenario(spec)


def test_a_player_says_one_line_within_the_limit_or_fails_with_its_cause() -> None:
    population = Population(size=3)
    world = worlds.get("narrative")(population, {})
    world.reset(0)
    lines = iter(['"I wave at everyone in the square and shout hello."\nAnd then?', "  \n ", "I nod."])
    speech = ActionSpace(ActionSpec("act", {"text": Arg.text(20)}))
    mind = minds.get("player")(population, speech, {"persona": ""})
    assert mind.limit == 20
    mind.use_model(LanguageModel(ScriptedBackend(lambda prompt, sampling, schema: next(lines)), retries=0))
    decisions = asyncio.run(mind.decide(world.observe(np.arange(3))))
    (said,) = decisions.actions
    assert said.args["text"].tolist() == ["I wave at everyone…", "I nod."] and said.agents.tolist() == [0, 2]
    (failed,) = decisions.failures
    assert failed.agents.tolist() == [1] and failed.reason.tolist() == ["empty_text"]


def test_the_game_masters_rechecks_reach_the_worlds_divergence_share() -> None:
    population = Population({"name": np.asarray(["Ann", "Bob"], dtype=object)})
    world = worlds.get("narrative")(population, {"variables": {"coins": {"initial": 5, "conserved": True}}})
    world.reset(0)

    def by_seed(prompt: str, sampling: Sampling, schema: Any) -> str:  # the amount given depends on the seed
        if schema is None:
            return "I pay my neighbour."
        giver, taker = ("Ann", "Bob") if '"Ann" does' in prompt else ("Bob", "Ann")
        return json.dumps({"happened": "A payment.", "changes": [
            {"op": "transfer", "from": giver, "to": taker, "variable": "coins", "amount": 1 + sampling.seed % 2}]})

    mind = minds.get("game_master")(population, world.action_space, {"recheck": 1.0}, rng=np.random.default_rng(0))
    mind.use_model(LanguageModel(ScriptedBackend(by_seed), retries=0, repairs=0))
    (events,) = world.apply(asyncio.run(mind.decide(world.observe(np.arange(2)))).actions)
    assert events.outcome.tolist() == ["ok", "ok"] and events.args["recheck"].tolist() == ["different"] * 2
    metrics = world.metrics()
    assert metrics["divergence_share"] == 1 and metrics["total_coins"] == 10 and metrics["transfers"] == 2
    assert mind.stats()["game_master_divergent"] == 2
