"""A failed model decision falls back down the mind's declared chain, recorded with its cause."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from populace.errors import ScenarioError
from populace.llm.base import ModelError
from populace.scenario import load_scenario
from populace.simulation import Simulation
from populace.summary import run_health

#: the ModelError cause the scripted model raises for agents with these ids (others do nothing)
FAULTS: dict[int, str] = {}


def respond(prompt: str, sampling: Any, schema: Any) -> str:
    found = re.search(r"You are agent (\d+)", prompt)
    cause = FAULTS.get(int(found.group(1))) if found else None
    if cause is not None:
        raise ModelError(cause, "injected")
    return json.dumps({"action": "nothing"})


def scenario(fallback: list[dict[str, Any]], steps: int = 4) -> dict[str, Any]:
    """40 agents on the opinion world: those aged 70+ generative, with ``fallback``; the rest on rules."""
    return {
        "name": "fallback", "seed": 1, "steps": steps,
        "population": {"size": 40, "attributes": {"age": {"dist": "integer", "low": 18, "high": 90}}},
        "world": {"type": "opinion", "params": {"network": {"degree": 4}}},
        "model": {"backend": "scripted", "function": "test_fallback:respond", "retries": 0, "repairs": 0,
                  "probabilities": {"discuss": 1, "ignore": 1}},
        "minds": [{"select": "age >= 70", "type": "generative", "encoder": "hashing", "plan": False,
                   "fallback": fallback},
                  {"select": "all", "type": "rules", "policy": "bounded_confidence", "params": {"threshold": 0.3}}],
    }


RULES = {"type": "rules", "policy": "bounded_confidence", "params": {"threshold": 0.3}}
ARCHETYPE = {"type": "archetype", "prompt": "Opinion {obs.opinion}: {options}?", "bins": {"obs.opinion": [0.5]},
             "options": {"discuss": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None}}


@pytest.fixture(autouse=True)
def _healthy_model() -> Any:
    FAULTS.clear()
    yield
    FAULTS.clear()


def test_failed_decisions_fall_back_to_the_next_mind_with_their_cause(tmp_path: Path) -> None:
    sim = Simulation.from_scenario(load_scenario(scenario([RULES])), runs_dir=tmp_path)
    older = [int(a) for a in (sim.population["age"] >= 70).nonzero()[0]]
    FAULTS.update({a: "http_500" for a in older[:4]})
    sim.run()
    events = sim.events().to_pandas()
    assert (events["outcome"] == "failed").sum() == 0  # the rules mind decided instead
    notes = events[events["action"] == "fallback"]
    assert set(notes["agent"]) == set(older[:4])
    assert {json.loads(d)["cause"] for d in notes["data"]} == {"http_500"}
    assert {json.loads(d)["mind"] for d in notes["data"]} == {"rules"}
    # each fallback decision is an agent's own action too: a spoiled agent that met a close neighbour discussed
    spoiled = events[events["agent"].isin(older[:4]) & (events["action"] == "discuss")]
    assert set(spoiled["step"]) <= set(notes["step"])
    steps = sim.trace.read("steps").to_pandas()
    assert steps["fallback_http_500"].sum() == len(notes)
    health = run_health(sim.path)  # type: ignore[arg-type]
    assert health.failures == 0 and health.fallback == {"http_500": len(notes)}
    assert f"{len(notes)} by fallback ({len(notes)} http_500)" in health.line()
    assert sim.run_record is not None and sim.run_record.status() == "completed"


def test_the_chain_is_tried_in_order_and_an_agent_all_of_it_failed_keeps_the_first_cause(tmp_path: Path) -> None:
    # the archetype fallback asks the same scripted model, which scores its options; the generative
    # prompt of agents in FAULTS fails, the archetype's (no agent id in it) does not
    sim = Simulation.from_scenario(load_scenario(scenario([ARCHETYPE, RULES])), runs_dir=tmp_path)
    older = [int(a) for a in (sim.population["age"] >= 70).nonzero()[0]]
    FAULTS.update({a: "timeout" for a in older})
    sim.run()
    events = sim.events().to_pandas()
    notes = events[events["action"] == "fallback"]
    assert len(notes) and {json.loads(d)["mind"] for d in notes["data"]} == {"archetype"}
    assert (events["outcome"] == "failed").sum() == 0

    FAULTS.clear()
    every = Simulation.from_scenario(load_scenario(scenario([ARCHETYPE], steps=2) | {
        "model": {"backend": "scripted", "function": "test_fallback:respond", "retries": 0, "repairs": 0,
                  "probabilities": {"other": 1}}}), runs_dir=tmp_path)  # archetype choices fail: invalid_choice
    FAULTS.update({a: "connection" for a in older})
    with pytest.raises(Exception, match="connection"):  # nothing stood in: the model's outage stops the run
        every.run()
    failed = every.events().to_pandas().query("outcome == 'failed'")
    assert len(failed) and set(failed["reason"]) == {"connection"}
    assert not (every.events().to_pandas()["action"] == "fallback").any()


def test_a_fallback_must_be_a_known_mind_with_valid_parameters() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario([{"type": "rulez", "policy": "x"}, {"type": "rules", "policy": "nope"}]))
    lines = str(caught.value).splitlines()
    assert any("minds.0.fallback.0.type" in line and "did you mean 'rules'" in line for line in lines)
    assert any("minds.0.fallback.1" in line and "nope" in line for line in lines)
