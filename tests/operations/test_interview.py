"""``populace interview``: agents asked after the fact, each on its mind's basis, the run unchanged."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from populace import analysis
from populace.errors import PopulaceError, RunError
from populace.minds.generative import GenerativeMind
from populace.operations.interview import GROUP_PROMPT, MEMORIES, RECORDED_ACTIONS, interview, summary
from populace.report.html import render_report
from populace.report.interviews import latest_answers
from populace.scenario import load_scenario
from populace.simulation import Simulation
from populace.trace import load_checkpoint


def respond(prompt: str, sampling: Any, schema: dict[str, Any] | None) -> str:
    """Decisions: generative agents discuss with their neighbour. Interviews: an answer that shows
    what the prompt rested on (the first memory, the group's prompt, the last recorded action)."""
    if "asked:" not in prompt:
        if schema is None or "oneOf" not in schema:
            return json.dumps({"insights": []})
        neighbour = re.search(r"neighbour: (\d+)", prompt)
        return json.dumps({"action": "discuss", "args": {"with": int(neighbour.group(1))}} if neighbour
                          else {"action": "nothing"})
    agent = int(re.search(r"agent (\d+)", prompt).group(1))  # type: ignore[union-attr]
    if schema is not None:
        return json.dumps(agent % 5 + 1)
    if "You remember:" in prompt:
        return "I remember " + json.loads(prompt.split("You remember:\n- ")[1].split("\n")[0])
    if "agents like you are asked" in prompt:
        return "my group is asked " + prompt.split("agents like you are asked: ")[1].split("\n")[0]
    actions = re.findall(r"- step (\d+): (\w+)", prompt)
    return f"last: step {actions[-1][0]} {actions[-1][1]}" if actions else "nothing yet"


SCENARIO: dict[str, Any] = {
    "name": "interviewed", "seed": 4, "steps": 6,
    "population": {"size": 60, "attributes": {"age": {"dist": "integer", "low": 18, "high": 90}}},
    "world": {"type": "opinion", "params": {"network": {"degree": 4}}},
    "model": {"backend": "scripted", "function": "test_interview:respond", "probabilities": {"discuss": 1, "ignore": 1},
              "retries": 0},
    "minds": [
        {"select": "age >= 75", "type": "generative", "encoder": "hashing", "plan": False, "top_k": 3},
        {"select": "age < 35", "type": "rules", "policy": "bounded_confidence", "params": {"threshold": 0.3}},
        {"select": "all", "type": "archetype", "prompt": "Opinion {obs.opinion}: {options}?",
         "bins": {"obs.opinion": [0.5]},
         "options": {"discuss": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None}},
    ],
    "trace": {"checkpoint_every": 3},
}


def fingerprint(run: Path) -> dict[str, str]:
    """A digest of every file of the run's trace and checkpoints."""
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for name in ("events", "steps", "metrics", "checkpoints") for p in sorted((run / name).glob("*"))}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = Simulation.from_scenario(load_scenario(SCENARIO), runs_dir=tmp_path_factory.mktemp("runs")).run()
    assert sim.path is not None
    return sim.path


def test_generative_agents_answer_from_their_own_memories_and_the_run_is_unchanged(run: Path) -> None:
    before = fingerprint(run)
    found = interview(run, "What do you think of your neighbours?", at=4, agents="age >= 75")
    assert found.step == 3  # the checkpoint at or before step 4
    state = load_checkpoint(run, 3)
    population = state["population"]
    assert [a.agent for a in found.answers] == population.select("age >= 75").tolist()
    mind = next(m for m in state["minds"] if isinstance(m, GenerativeMind))
    for answer in found.answers:
        assert (answer.tier, answer.basis, answer.error) == ("generative", MEMORIES, None)
        own = {str(mind.memory.text[r]) for r in mind.memory.of(answer.agent)}
        others = {str(t) for t in mind.memory.text[: len(mind.memory)]} - own
        cited = answer.answer.removeprefix("I remember ")  # type: ignore[union-attr]
        assert cited in own and cited not in others  # the agent's own memory, made by step 3
        assert answer.model.startswith("scripted") and answer.tokens > 0 and not answer.cached
    assert fingerprint(run) == before  # events, steps, metrics and checkpoints untouched
    table = pd.read_parquet(found.table)
    assert table.columns.tolist()[:6] == ["interview", "asked", "at", "step", "agent", "tier"]
    assert table["answer"].tolist() == [a.answer for a in found.answers]
    assert set(table["basis"]) == {MEMORIES} and set(table["question"]) == {"What do you think of your neighbours?"}

    again = interview(run, "What do you think of your neighbours?", at=4, agents="age >= 75")
    assert [a.answer for a in again.answers] == [a.answer for a in found.answers]
    assert all(a.cached for a in again.answers)  # a repeated question is answered from the cache
    assert len(latest_answers(run, limit=1000)) == 2 * len(found.answers)


def test_other_minds_answer_from_their_group_prompt_or_their_recorded_actions(run: Path) -> None:
    found = interview(run, "Will you change your mind?", at=6, sample=14, seed=1)
    assert found.step == 6 and len(found.answers) == 14
    by_tier = {a.tier: a for a in found.answers}
    assert set(by_tier) == {"generative", "rules", "archetype"}
    events = analysis.events(run)
    for answer in found.answers:
        if answer.tier == "archetype":
            assert answer.basis == GROUP_PROMPT and answer.answer.startswith('my group is asked "Opinion ')  # type: ignore[union-attr]
        if answer.tier == "rules":  # the run's model speaks for it, from what it did
            assert answer.basis == RECORDED_ACTIONS
            done = events[(events["agent"] == answer.agent) & (events["step"] < 6)]
            last = done.iloc[-1] if len(done) else None
            assert answer.answer == (f"last: step {last['step']} {last['action']}" if last is not None else "nothing yet")


def test_structured_answers_are_validated_and_counted(run: Path) -> None:
    scale = {"type": "integer", "minimum": 1, "maximum": 5}
    found = interview(run, "How sure are you, 1 to 5?", agents="age < 35", sample=6, schema=scale, record=False)
    assert found.table is None
    values = [a.value for a in found.answers]
    assert values == [a.agent % 5 + 1 for a in found.answers]
    counts = found.distribution()[""]
    assert sum(counts.values()) == len(values) and counts[1] == values.count(1)
    line = summary(found)[0]
    assert line.startswith("answers: ") and f"of {len(values)})" in line


def test_bad_requests_are_one_line_errors(run: Path) -> None:
    with pytest.raises(RunError, match="choose a step from 0 to 6"):
        interview(run, "Hello?", at=9)
    with pytest.raises(PopulaceError, match="no agent matches"):
        interview(run, "Hello?", agents="age > 200")
    with pytest.raises(PopulaceError, match="--agents"):
        interview(run, "Hello?", agents="height > 2")
    with pytest.raises(PopulaceError, match="question is empty"):
        interview(run, "  ")


def test_the_report_lists_the_answers_and_counts_structured_ones(run: Path) -> None:
    interview(run, "Rate your neighbours, 1 to 5", agents="age < 35", sample=4,
              schema={"type": "integer", "minimum": 1, "maximum": 5})
    html = render_report(run)
    section = html[html.index('id="interviews"'):html.index('id="scenario"')]
    for answer in latest_answers(run, limit=4):
        assert f"<td>{answer['answer']}</td>" in section
    assert "Rate your neighbours, 1 to 5</b>:" in section and "×" in section


def test_the_dashboards_ask_box_asks_one_agent_from_this_machine_only(run: Path) -> None:
    from fastapi.testclient import TestClient

    from populace.report.dashboard import create_app

    app = create_app(run)
    local = TestClient(app, client=("127.0.0.1", 50000))
    agent = int(load_checkpoint(run, 3)["population"].select("age >= 75")[0])
    reply = local.post(f"/api/agents/{agent}/ask", json={"question": "What do you remember?", "step": 2})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["agent"], body["at"], body["step"], body["basis"]) == (agent, 3, 3, MEMORIES)
    assert body["answer"].startswith("I remember ")
    shown = local.get(f"/api/agents/{agent}").json()["interviews"]
    assert shown[0]["question"] == "What do you remember?" and shown[0]["answer"] == body["answer"]
    asked = {"question": "Hello?"}
    assert TestClient(app, client=("10.0.0.7", 50000)).post(f"/api/agents/{agent}/ask", json=asked).status_code == 403
    assert local.post(f"/api/agents/{agent}/ask", json=asked, headers={"Origin": "http://evil.example"}).status_code == 403
    assert local.post(f"/api/agents/{agent}/ask", content=json.dumps(asked),
                      headers={"Content-Type": "text/plain"}).status_code == 415
    missing = local.post("/api/agents/9999/ask", json=asked)
    assert missing.status_code == 400 and "not in this run" in missing.json()["detail"]
