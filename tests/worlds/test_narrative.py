"""The narrative world: a game master's rulings grounded in typed state, its scenes, its two scenarios."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from populace.actions import Actions
from populace.errors import ScenarioError, WorldError
from populace.events import OK, REJECTED
from populace.population import Population
from populace.scenario import load_scenario
from populace.simulation import Simulation
from populace.testing import check_world
from populace.worlds.narrative import Ledger, NarrativeWorld, RulingError, VariableSpec
from populace.worlds.narrative.ledger import parse_changes

NAMES = ["Ann", "Bob", "Cid"]
PARAMS: dict[str, Any] = {
    "premise": "A village market.", "places": ["market", "well"],
    "variables": {"coins": {"initial": "coins", "min": 0, "conserved": True},
                  "apples": {"kind": "count", "initial": 3},
                  "mood": {"min": 0, "max": 10, "initial": 5}},
    "vote": {"question": "Dig a new well?", "options": ["yes", "no"]},
}


def world(**params: Any) -> NarrativeWorld:
    population = Population({"name": np.asarray(NAMES, dtype=object), "coins": np.asarray([2, 10, 5]),
                             "goal": np.asarray(["sell apples", "buy apples", "watch"], dtype=object)})
    w = NarrativeWorld(population, {**PARAMS, **params})
    w.reset(0)
    return w


def act(agent: int, changes: list[dict[str, Any]], text: str = "I trade.", recheck: str = "none",
        tell: list[dict[str, str]] | None = None) -> Actions:
    return Actions("act", np.asarray([agent]), {
        "text": np.asarray([text], dtype=object), "ruling": np.asarray(["It happens."], dtype=object),
        "changes": np.asarray([json.dumps(changes)], dtype=object),
        "tell": np.asarray([json.dumps(tell or [])], dtype=object), "recheck": np.asarray([recheck], dtype=object)})


def transfer(source: str, to: str, variable: str, amount: float) -> dict[str, Any]:
    return {"op": "transfer", "from": source, "to": to, "variable": variable, "amount": amount}


def test_conforms_to_the_world_contract() -> None:
    check_world(world())


def test_an_invalid_transfer_is_rejected_with_its_reason_and_changes_nothing() -> None:
    w = world()
    before = {k: v.copy() for k, v in w.ledger.values.items()}
    (events,) = w.apply([act(0, [transfer("Ann", "Bob", "apples", 1), transfer("Ann", "Bob", "coins", 5)])])
    assert events.outcome.tolist() == [REJECTED]
    assert events.reason.tolist() == ["transfer 5 coins from Ann to Bob: Ann has only 2 coins"]
    assert all(np.array_equal(before[k], w.ledger.values[k]) for k in before)  # the valid first half too
    metrics = w.metrics()
    assert metrics["rulings_rejected"] == 1 and metrics["contradiction_share"] == 1 and metrics["transfers"] == 0
    assert "It came to nothing (transfer 5 coins from Ann to Bob: Ann has only 2 coins)" in w.memory[0][-1]


def test_a_valid_ruling_is_applied_and_seen_in_metrics_and_observations() -> None:
    w = world()
    ruling = [transfer("Ann", "Bob", "apples", 2), transfer("Bob", "Ann", "coins", 4),
              {"op": "set", "agent": "Bob", "variable": "mood", "value": 8}, {"op": "vote", "agent": "Cid", "option": "no"}]
    (events,) = w.apply([act(0, ruling, tell=[{"to": "Cid", "text": "Ann winks."}])])
    assert events.outcome.tolist() == [OK]
    assert w.ledger.values["apples"].tolist() == [1, 5, 3] and w.ledger.values["coins"].tolist() == [6, 6, 5]
    metrics = w.metrics()
    assert metrics["transfers"] == 2 and metrics["total_coins"] == 17 and metrics["total_apples"] == 9
    assert metrics["votes_no"] == 1 and metrics["votes_yes"] == 0 and metrics["vote_margin"] == 1
    assert metrics["contradiction_share"] == 0
    seen = w.observe(np.arange(3))
    assert seen["coins"].tolist() == [6, 6, 5] and seen["vote"].tolist() == ["", "", "no"]
    assert "Ann: I trade. It happens." in seen.row(1)["situation"] and "(to you) Ann winks." in seen.row(2)["situation"]


@pytest.mark.parametrize(("change", "reason"), [
    (transfer("Zed", "Bob", "coins", 1), "unknown agent 'Zed'"),
    (transfer("Ann", "Bob", "gold", 1), "unknown variable 'gold'"),
    (transfer("Ann", "Ann", "coins", 1), "an agent cannot transfer to itself"),
    (transfer("Ann", "Bob", "coins", -1), "the amount must be positive"),
    (transfer("Ann", "Bob", "apples", 0.5), "counts change by whole items"),
    ({"op": "set", "agent": "Ann", "variable": "coins", "value": 99}, "coins is conserved"),
    ({"op": "set", "agent": "Ann", "variable": "mood", "value": 11}, "mood must stay within [0, 10]"),
    ({"op": "move", "agent": "Ann", "place": "the moon"}, "unknown place 'the moon'"),
    ({"op": "vote", "agent": "Ann", "option": "maybe"}, "unknown option 'maybe'"),
    ({"op": "steal", "agent": "Ann"}, "changes[0]"),
])
def test_what_cannot_hold_is_named(change: dict[str, Any], reason: str) -> None:
    w = world()
    (events,) = w.apply([act(0, [change])])
    assert events.outcome.tolist() == [REJECTED] and reason in events.reason[0]


def test_transfers_need_both_parties_in_one_place() -> None:
    w = world()
    w.apply([act(0, [{"op": "move", "agent": "Bob", "place": "well"}])])
    w.set_clock(1, None)
    (events,) = w.apply([act(0, [transfer("Ann", "Bob", "apples", 1)])])
    assert events.reason.tolist() == ["transfer 1 apples from Ann to Bob: Ann is at market and Bob at well"]
    assert w.metrics()["moves"] == 1


def test_one_ruling_per_agent_and_step_and_only_in_turn() -> None:
    w = world(scenes=[{"name": "talk", "steps": 2, "turns": "in_turn", "participants": ["Bob", "Ann"]}])
    assert w.observe(np.arange(3))["acting"].tolist() == [False, True, False]
    (first,) = w.apply([act(0, [])])
    assert first.reason.tolist() == ["not Ann's turn"]
    (second,) = w.apply([act(2, [])])
    assert second.reason.tolist() == ["Cid is not in the scene 'talk'"]
    assert w.apply([act(1, [])])[0].outcome.tolist() == [OK]
    assert w.apply([act(1, [])])[0].reason.tolist() == ["Bob already acted this step"]
    w.tick()
    w.set_clock(1, None)
    assert w.observe(np.arange(3))["acting"].tolist() == [True, False, False]


def test_scenes_move_their_participants_and_say_so() -> None:
    w = world(scenes=[{"name": "morning", "steps": 1}, {"name": "at the well", "place": "well", "participants": ["Cid"]}])
    (opened,) = w.tick()
    assert opened.kind == "scene" and opened.agents.tolist() == [2] and w.ledger.place.tolist() == [0, 0, 1]


def test_rechecks_give_the_divergence_share() -> None:
    w = world()
    w.apply([act(0, [], recheck="same"), act(1, [], recheck="different"), act(2, [])])
    metrics = w.metrics()
    assert metrics["rechecks"] == 2 and metrics["divergence_share"] == 0.5 and metrics["rulings"] == 3


def test_bad_setup_is_one_line() -> None:
    with pytest.raises(WorldError, match=r"scenes\.0\.participants: unknown agent 'Zed'"):
        world(scenes=[{"name": "s", "participants": ["Zed"]}])
    with pytest.raises(ValueError, match="variable name 'name' is taken"):
        world(variables={"name": {}})
    with pytest.raises(ScenarioError, match=r"world\.params: scenes\.0\.place: unknown place 'the pub'"):
        load_scenario("town-meeting", ["world.params.scenes.0.place=the pub"])


def test_ledger_checks_without_touching_state() -> None:
    ledger = Ledger(["a", "b"], {"coins": VariableSpec(min=0, conserved=True)}, {"coins": np.asarray([1.0, 0.0])},
                    ["here"], np.zeros(2, dtype=np.int64))
    changes = parse_changes(json.dumps([transfer("a", "b", "coins", 1), transfer("a", "b", "coins", 1)]))
    assert ledger.check(changes) == "transfer 1 coins from a to b: a has only 0 coins"
    assert ledger.values["coins"].tolist() == [1.0, 0.0]
    with pytest.raises(RulingError, match="changes are not JSON"):
        parse_changes("[{")


# -- the built-in scenarios, with a scripted game master ----------------------------------------
RULINGS: dict[str, list[dict[str, Any]]] = {
    "Mara": [transfer("Mara", "Ilse", "apples", 2), transfer("Ilse", "Mara", "coins", 4)],
    "Tobin": [transfer("Tobin", "Pell", "bread", 1), transfer("Pell", "Tobin", "coins", 3)],
    "Ilse": [transfer("Ilse", "Mara", "coins", 20)],  # she has 4 left: the ledger refuses
    "Pell": [],
}
VOTES = {"Orla": "yes", "Bram": "no", "Wren": "yes", "Joss": "yes"}


def respond(prompt: str, sampling: Any, schema: Any) -> str:
    """Players say a line; the game master rules per speaker: trades in the market, votes at the meeting."""
    if schema is None:
        found = re.search(r"You are (\w+)", prompt)
        return f"I, {found.group(1) if found else 'someone'}, make my move."
    actor = re.search(r'"(\w+)" does:', prompt)
    name = actor.group(1) if actor else ""
    if name in VOTES:
        voting = "the vote" in prompt
        changes = [{"op": "vote", "agent": name, "option": VOTES[name]}] if voting else []
        return json.dumps({"happened": f"{name} speaks.", "changes": changes})
    return json.dumps({"happened": f"{name} haggles.", "changes": RULINGS.get(name, [])})


SCRIPTED = "model={backend: scripted, function: 'test_narrative:respond', retries: 0, repairs: 0}"


def test_village_market_trades_and_the_ledger_keeps_everyone_honest(tmp_path: Path) -> None:
    sim = Simulation.from_scenario(load_scenario("village-market", [SCRIPTED]), runs_dir=tmp_path)
    sim.run()
    metrics = sim.metrics().iloc[-1]
    assert metrics["transfers"] == 4  # Mara sold apples to Ilse, Tobin bread to Pell
    assert (metrics["total_coins"], metrics["total_apples"], metrics["total_bread"]) == (19, 6, 4)
    assert metrics["rulings"] == 4 and metrics["rulings_rejected"] == 1 and metrics["contradiction_share"] == 0.25
    events = sim.events().to_pandas()
    refused = events[(events.action == "act") & (events.outcome == "rejected")]
    assert refused.reason.tolist() == ["transfer 20 coins from Ilse to Mara: Ilse has only 4 coins"]
    assert isinstance(sim.world, NarrativeWorld)
    holdings = sim.world.ledger.values
    assert holdings["coins"].min() >= 0 and holdings["apples"].min() >= 0 and holdings["bread"].min() >= 0
    assert holdings["coins"].tolist() == [4, 4, 4, 7] and holdings["apples"].tolist() == [4, 0, 2, 0]


def test_town_meeting_ends_in_a_vote_with_a_winner(tmp_path: Path) -> None:
    sim = Simulation.from_scenario(load_scenario("town-meeting", [SCRIPTED]), runs_dir=tmp_path)
    sim.run()
    metrics = sim.metrics().iloc[-1]
    assert (metrics["votes_yes"], metrics["votes_no"], metrics["vote_margin"]) == (3, 1, 2)
    assert metrics["rulings"] == 6 and metrics["contradiction_share"] == 0
    assert metrics["rechecks"] == 1 and metrics["divergence_share"] == 0  # every fourth ruling, asked again
    acts = sim.events().to_pandas().query("action == 'act'")
    assert acts.groupby("step").agent.apply(list).tolist() == [[0], [1], [0, 1, 2, 3]]  # Orla, Bram, then all


def test_a_paused_meeting_resumes_to_the_same_outcome(tmp_path: Path) -> None:
    whole = Simulation.from_scenario(load_scenario("town-meeting", [SCRIPTED]), runs_dir=tmp_path / "whole")
    whole.run()
    paused = Simulation.from_scenario(load_scenario("town-meeting", [SCRIPTED]), runs_dir=tmp_path / "paused")
    paused.run(steps=2)
    assert paused.path is not None
    resumed = Simulation.resume(paused.path)
    resumed.run()
    columns = ["step", "agent", "action", "outcome", "args"]
    assert resumed.events().to_pandas()[columns].equals(whole.events().to_pandas()[columns])
    assert resumed.metrics().equals(whole.metrics())
