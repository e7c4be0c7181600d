"""A run tells how it went: the health figures, and the end of a run whose model decisions failed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from populace.errors import RunFailedError
from populace.health import RunHealth
from populace.llm.base import ModelError
from populace.runs import Run
from populace.scenario import load_scenario
from populace.simulation import Simulation
from populace.summary import run_health

#: what the scripted model does for agents whose id is in ``SPOILED``: ``"garbage"`` or a ModelError cause
SPOILED: dict[int, str] = {}


def respond(prompt: str, sampling: Any, schema: Any) -> str:
    """Generative agents do nothing, except those in ``SPOILED``."""
    agent = int(re.search(r"You are agent (\d+)", prompt).group(1))  # type: ignore[union-attr]
    fault = SPOILED.get(agent)
    if fault == "garbage":
        return "I would rather not say."
    if fault is not None:
        raise ModelError(fault, "injected")
    return json.dumps({"action": "nothing"})


def scenario(steps: int = 4, **model: Any) -> dict[str, Any]:
    """40 agents on the opinion world: those aged 70+ generative (ten of them), the rest on rules."""
    return {
        "name": "health", "seed": 1, "steps": steps,
        "population": {"size": 40, "attributes": {"age": {"dist": "integer", "low": 18, "high": 90}}},
        "world": {"type": "opinion", "params": {"network": {"degree": 4}}},
        "model": {"backend": "scripted", "function": "test_health:respond", "retries": 0, "repairs": 0, **model},
        "minds": [{"select": "age >= 70", "type": "generative", "encoder": "hashing", "plan": False,
                   "importance": "rule"},
                  {"select": "all", "type": "rules", "policy": "bounded_confidence", "params": {"threshold": 0.3}}],
    }


@pytest.fixture(autouse=True)
def _healthy_model() -> Any:
    SPOILED.clear()
    yield
    SPOILED.clear()


def generative_agents(sim: Simulation) -> list[int]:
    return [int(a) for a in (sim.population["age"] >= 70).nonzero()[0]]


def test_the_figures_add_up_the_step_table_and_are_kept_for_show(tmp_path: Path) -> None:
    sim = Simulation.from_scenario(load_scenario(scenario()), runs_dir=tmp_path)
    SPOILED.update({generative_agents(sim)[0]: "garbage", generative_agents(sim)[1]: "http_503"})
    sim.run()  # two failing agents of ten: the run goes on and succeeds
    steps = sim.trace.read("steps").to_pandas()
    health = sim.health
    assert health.model_decisions == steps["generative_agents"].sum() == 4 * len(generative_agents(sim))
    assert health.failed == {"invalid_json": 4, "http_503": 4}
    assert health.ok + health.rejected == (steps["ok"] + steps["rejected"]).sum() > 0
    assert health.model_calls == steps["llm_calls"].sum() > 0
    manifest = Run(sim.path).manifest()
    assert manifest["status"] == "completed" and manifest["error"] is None
    assert manifest["health"] == health.as_dict() == run_health(sim.path).as_dict()
    assert health.line().startswith(f"health: {health.model_decisions} model decisions, 8 failed "
                                    "(4 http_503, 4 invalid_json), rejected ")


def test_a_run_whose_model_decisions_mostly_failed_fails_with_its_cause_and_keeps_everything(tmp_path: Path) -> None:
    sim = Simulation.from_scenario(load_scenario(scenario()), runs_dir=tmp_path)
    agents = generative_agents(sim)
    SPOILED.update({agent: "garbage" for agent in agents[: len(agents) // 2 + 1]})  # most of them
    failed, decisions = 4 * (len(agents) // 2 + 1), 4 * len(agents)
    with pytest.raises(RunFailedError) as info:
        sim.run()
    message = str(info.value)
    assert message.startswith(f"invalid_json: {failed} of {decisions} model decisions failed ({failed} invalid_json): ")
    assert "model.schema_mode" in message and "\n" not in message
    manifest = Run(sim.path).manifest()
    assert manifest["status"] == "failed" and manifest["error"] == message
    assert manifest["steps_done"] == manifest["last_checkpoint"] == 4  # every step ran and was recorded
    events = sim.events().to_pandas()
    assert (events["outcome"] == "failed").sum() == failed and manifest["health"]["failed"] == {"invalid_json": failed}


def test_a_model_that_stops_answering_stops_the_run_checkpointed_and_resume_goes_on(tmp_path: Path) -> None:
    sim = Simulation.from_scenario(load_scenario(scenario(steps=6)), runs_dir=tmp_path)
    sim.run(steps=2)
    agents = generative_agents(sim)
    SPOILED.update({agent: "connection" for agent in agents})
    with pytest.raises(RunFailedError) as info:
        sim.run()
    assert str(info.value).startswith(f"connection: all {len(agents)} model decisions of the last step failed: "
                                      "the model server (scripted) could not be reached; ")
    assert f"The run stopped after 3/6 steps; `populace resume {sim.path}` goes on" in str(info.value)
    manifest = Run(sim.path).manifest()
    assert manifest["status"] == "failed" and manifest["steps_done"] == manifest["last_checkpoint"] == 3
    SPOILED.clear()  # the server is back
    resumed = Simulation.resume(sim.path)
    resumed.run()
    assert resumed.steps_done == 6 and Run(sim.path).manifest()["status"] == "completed"
    # the resumed run's health covers every step, the failed one included
    assert resumed.health.failed == {"connection": len(agents)} and resumed.health.model_decisions == 6 * len(agents)
    assert resumed.health.as_dict() == run_health(sim.path).as_dict()


def test_only_a_step_where_every_model_decision_went_unanswered_is_an_outage() -> None:
    assert RunHealth(5, {"connection": 5}).outage() == "connection"
    assert RunHealth(5, {"connection": 2, "timeout": 3}).outage() is None  # a busy model, not a gone one
    assert RunHealth(5, {"connection": 4}).outage() is None  # one answered: the server is up
    assert RunHealth(5, {"connection": 4, "invalid_json": 1}).outage() is None
    assert RunHealth(0, {}).outage() is None
    assert not RunHealth(4, {"invalid_json": 4}).failing()  # too few decisions to judge
    assert RunHealth(9, {"invalid_json": 5}).failing() and not RunHealth(10, {"invalid_json": 5}).failing()


def test_a_rules_only_run_says_so() -> None:
    sim = Simulation.from_scenario("wealth", ["population.size=50", "steps=3"]).run()
    assert re.fullmatch(r"health: no model decisions, rejected \d+\.\d % of [\d,]+ actions", sim.health.line())
