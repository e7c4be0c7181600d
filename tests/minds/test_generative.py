"""Generative minds: schema-constrained decisions, memory, importance, reflection, plans, bounded prompts."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from populace.llm.base import ModelError
from populace.minds import minds
from populace.minds.generative import HOURS_SCHEMA, INSIGHTS_SCHEMA, PLAN_SCHEMA, GenerativeMind
from populace.population import Population
from populace.world import Observations, worlds

START = datetime(2025, 3, 3, 8, 0)


def answer(prompt: str, schema: Any) -> Any:
    """A scripted model: plans, insights, and a decision to give to the agent named in the feed."""
    if schema == PLAN_SCHEMA:
        return {"plan": ["work", "help a neighbour"]}
    if schema == HOURS_SCHEMA:
        return {"hours": [{"hour": h, "activity": f"activity at {h}"} for h in range(8, 18)]}
    if schema == INSIGHTS_SCHEMA:
        return {"insights": ["I am generous"]}
    match = re.search(r'Now you see: "wealth: (\d+)"', prompt)
    return {"action": "give", "args": {"to": 0}} if match and int(match.group(1)) > 0 else {"action": "nothing"}


def setup(scripted: Any, complete: Any = answer, n: int = 4, **config: Any) -> tuple[GenerativeMind, Any, Any]:
    config.setdefault("encoder", "hashing")
    population = Population({"job": np.array(["baker", "nurse", "poet", "judge"][:n], dtype=object)})
    world = worlds.get("wealth")(population, {})
    world.reset(0)
    mind = minds.get("generative")(population, world.action_space, config, rng=np.random.default_rng(0))
    assert isinstance(mind, GenerativeMind)
    model = scripted(complete=complete)
    mind.use_model(model)
    return mind, world, model


def observe(world: Any, step: int, n: int = 4) -> Observations:
    obs = world.observe(np.arange(n))
    obs.step, obs.time = step, START + timedelta(hours=step)
    return obs


def test_decisions_are_parsed_into_actions(scripted: Any) -> None:
    mind, world, model = setup(scripted, plan=False)
    decisions = asyncio.run(mind.decide(observe(world, 0, n=len(mind.population))))
    (gives,) = decisions.actions
    assert gives.name == "give" and sorted(gives.agents.tolist()) == [0, 1, 2, 3]
    assert gives.args["to"].tolist() == [0, 0, 0, 0] and not decisions.failures
    assert len(model.prompts) == 4
    assert '"oneOf"' not in model.prompts[0] and "give(to): give one unit of wealth" in model.prompts[0]
    stats = mind.stats()
    assert stats["generative_calls"] == 4 and stats["llm_calls"] == 4 and stats["generative_agents"] == 4


@pytest.mark.parametrize(("reply", "cause"), [
    ("I think I will give", "invalid_json"),
    ({"action": "steal", "args": {}}, "schema_mismatch"),
    ({"args": {}}, "schema_mismatch"),
])
def test_unparseable_output_is_a_failed_decision(scripted: Any, reply: Any, cause: str) -> None:
    def complete(prompt: str, schema: Any) -> Any:
        return reply if "agent 2" in prompt else answer(prompt, schema)

    mind, world, _ = setup(scripted, complete, plan=False)
    decisions = asyncio.run(mind.decide(observe(world, 0, n=len(mind.population))))
    (failed,) = decisions.failures
    assert failed.agents.tolist() == [2] and failed.reason.tolist() == [cause]
    assert sorted(decisions.actions[0].agents.tolist()) == [0, 1, 3]


def test_a_model_error_is_a_failed_decision_with_its_cause(scripted: Any) -> None:
    def complete(prompt: str, schema: Any) -> Any:
        if "agent 1" in prompt:
            raise ModelError("http_500", "server error")
        return answer(prompt, schema)

    mind, world, _ = setup(scripted, complete, plan=False)
    decisions = asyncio.run(mind.decide(observe(world, 0, n=len(mind.population))))
    assert decisions.failures[0].agents.tolist() == [1] and decisions.failures[0].reason.tolist() == ["http_500"]
    assert mind.stats()["generative_failed"] == 1


def test_memories_reflection_and_bounded_prompts(scripted: Any) -> None:
    mind, world, model = setup(scripted, plan=False, reflect_at=20, top_k=3)
    for step in range(12):
        world.wealth[:] = 10**15 if step % 2 else 3
        asyncio.run(mind.decide(observe(world, step)))
    kinds = [int(k) for k in mind.memory.kind[mind.memory.of(0)]]
    assert kinds.count(0) == 12 and kinds.count(1) == 12  # one observation and one action per step
    # rule importance: observation 2 + action 3 = 5 per step -> a reflection every 4 steps
    assert kinds.count(2) == 3
    assert mind.memory.text[mind.memory.recent(0, 1, "reflection")[0]] == "I am generous"
    decisions = [p for p in model.prompts if p.startswith("You are agent 0.") and "Now you see" in p]
    assert "What you have concluded: \"I am generous\"" in decisions[-1]
    assert decisions[-1].count("\n- ") == 3  # top-k memories
    assert max(len(p) for p in model.prompts) < 2000
    assert len(decisions[-1]) <= len(decisions[5]) + 300


def test_daily_plan_is_made_once_a_day_and_guides_the_hour(scripted: Any) -> None:
    mind, world, model = setup(scripted, n=2)
    asyncio.run(mind.decide(observe(world, 1, n=len(mind.population))))  # 09:00 on day one
    plan_calls = [p for p in model.prompts if "Outline your day" in p or "Break it into hours" in p]
    assert len(plan_calls) == 4  # outline + hours, for each of 2 agents
    assert "Your plan for this hour: \"activity at 9\"" in model.prompts[-1]
    asyncio.run(mind.decide(observe(world, 2, n=len(mind.population))))
    assert len([p for p in model.prompts if "Outline your day" in p]) == 2  # same day: no new plan
    asyncio.run(mind.decide(observe(world, 25, n=len(mind.population))))
    assert len([p for p in model.prompts if "Outline your day" in p]) == 4  # next day
    plans = mind.memory.text[mind.memory.of(0, "plan")]
    assert list(plans) == ["My plan for 03 March: work; help a neighbour", "My plan for 04 March: work; help a neighbour"]


def test_importance_rated_by_the_model_is_the_expected_rating(scripted: Any) -> None:
    mind, world, model = setup(scripted, plan=False, importance="model")
    model.backend.probabilities = lambda prompt, options: [0.0] * 8 + [1.0, 1.0]  # ratings 9 and 10 equally likely
    asyncio.run(mind.decide(observe(world, 0, n=len(mind.population))))
    assert mind.memory.importance[: len(mind.memory)].tolist() == [9.5] * 8
    assert mind.stats()["generative_calls"] == 4 + 8  # decisions + one rating per new memory


def test_checkpoint_drops_live_objects_and_keeps_memory(scripted: Any) -> None:
    import pickle

    mind, world, _ = setup(scripted, plan=False)
    asyncio.run(mind.decide(observe(world, 0, n=len(mind.population))))
    restored = pickle.loads(pickle.dumps(mind))
    assert restored._client is None and len(restored.memory) == 8
    assert json.dumps(restored.schema)  # the action schema survives


def test_default_encoder_is_semantic(scripted: Any) -> None:
    mind, world, _ = setup(scripted, n=2, plan=False, encoder="minilm")
    asyncio.run(mind.decide(observe(world, 0, n=2)))
    assert mind.memory.vectors.shape[1] == 384 and mind.encoder.name == "minilm"
    assert GenerativeMind.Config.model_validate({}).encoder == "minilm"  # type: ignore[attr-defined]


def test_a_model_that_cannot_be_used_stops_the_run(scripted: Any) -> None:
    from populace.llm.base import ModelUnavailableError

    def down(prompt: str, schema: Any) -> Any:
        raise ModelUnavailableError("connection", "model server unavailable: 127.0.0.1:9 refused")

    mind, world, _ = setup(scripted, down, plan=False)
    with pytest.raises(ModelUnavailableError, match="unavailable"):
        asyncio.run(mind.decide(observe(world, 0)))
