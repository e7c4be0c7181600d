"""A run whose decisions come from a (scripted) language model: the report shows its answers, and a fork
replays it from the copied response cache without asking the model again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from populace import analysis
from populace.operations.fork import fork
from populace.report import write_report
from populace.scenario import load_scenario
from populace.simulation import Simulation

SCENARIO: dict[str, Any] = {
    "name": "asked", "seed": 5, "steps": 8,
    "population": {"size": 120},
    "world": {"type": "opinion", "params": {"network": {"degree": 6}}},
    "model": {"backend": "scripted", "probabilities": {"discuss": 3, "ignore": 1}, "retries": 0},
    "minds": [{"select": "all", "type": "archetype",
               "prompt": "Opinion {obs.opinion}, neighbour {obs.neighbour_opinion}: {options}?",
               "bins": {"obs.opinion": [0.5], "obs.neighbour_opinion": [0.5]},
               "options": {"discuss": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None}}],
    "trace": {"checkpoint_every": 4},
}


@pytest.fixture(scope="module")
def asked_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = Simulation.from_scenario(load_scenario(SCENARIO), runs_dir=tmp_path_factory.mktemp("runs")).run()
    assert sim.path is not None
    return sim.path


def test_report_shows_model_usage_and_answers(asked_run: Path) -> None:
    usage = analysis.model_usage(analysis.steps(asked_run))
    assert usage["calls"].sum() == 4 and usage["cache_hits"].sum() > 0  # 2 x 2 bins asked once, then cached
    html = write_report(asked_run).read_text(encoding="utf-8")
    assert "decisions from the response cache" in html
    assert "<pre>[0.75, 0.25]</pre>" in html  # the scripted model's probabilities of "discuss" and "ignore"
    assert "model calls per step" in html
    assert "Opinion 0.5" in html or "Opinion " in html.split("decisions from the response cache")[1]  # the prompt
    assert "the prompt was not kept" not in html


def test_fork_reuses_the_cache_and_replays_exactly(asked_run: Path) -> None:
    branch = fork(asked_run, 5).run()
    assert branch.path is not None and (branch.path / "cache").is_dir()
    assert branch.events().equals(analysis.read_arrow(asked_run, "events"))
    after = analysis.steps(branch.path)
    assert after.loc[after["step"] >= 5, "llm_calls"].sum() == 0  # every answer came from the copied cache


def respond(prompt: str, sampling: Any, schema: dict[str, Any] | None) -> str:
    """Generative agents keep to themselves, plan nothing and conclude nothing."""
    import json

    if schema is None or "oneOf" not in schema:
        return json.dumps({"plan": []} if schema and "plan" in schema.get("properties", {}) else
                          {"hours": []} if schema and "hours" in schema.get("properties", {}) else {"insights": []})
    return json.dumps({"action": "nothing"})


def test_dashboard_inspector_shows_a_generative_agents_memory(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from populace.report.dashboard import create_app

    scenario = load_scenario({**SCENARIO, "steps": 2, "population": {"size": 8},
                              "model": {"backend": "scripted", "function": "test_model_runs:respond", "retries": 0},
                              "minds": [{"select": "all", "type": "generative", "top_k": 2}],
                              "trace": {"checkpoint_every": 2}})
    sim = Simulation.from_scenario(scenario, runs_dir=tmp_path).run()
    assert sim.path is not None
    agent = TestClient(create_app(sim.path)).get("/api/agents/3").json()
    assert agent["memory"], "the generative mind's memory stream is read from the checkpoint"
    assert {m["kind"] for m in agent["memory"]} <= {"observation", "action", "reflection", "plan"}
    assert all(isinstance(m["text"], str) and m["text"] for m in agent["memory"])
