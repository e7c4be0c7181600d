"""A budget caps a run: it stops at a checkpoint when a cap is reached, or steps its model minds down
their fallback chains there; a larger budget lets it go on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from populace.budget import Spending, exhausted
from populace.errors import ScenarioError
from populace.report.html import render_report
from populace.runs import Run
from populace.scenario import load_scenario
from populace.simulation import Simulation


def scenario(**budget: Any) -> dict[str, Any]:
    """60 agents on the opinion world, half on an archetype mind (scripted model), half on rules."""
    data: dict[str, Any] = {
        "name": "budget", "seed": 2, "steps": 8,
        "population": {"size": 60, "attributes": {"age": {"dist": "integer", "low": 18, "high": 90}}},
        "world": {"type": "opinion", "params": {"network": {"degree": 4}}},
        "model": {"backend": "scripted", "probabilities": {"discuss": 2, "ignore": 1}},
        "minds": [{"select": "age >= 50", "type": "archetype",
                   "prompt": "Opinion {obs.opinion}, neighbour {obs.neighbour_opinion}, age {persona.age}: {options}?",
                   "bins": {"obs.opinion": [0.2, 0.4, 0.6, 0.8], "obs.neighbour_opinion": [0.2, 0.4, 0.6, 0.8],
                            "persona.age": [60, 70, 80]},
                   "options": {"discuss": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None},
                   "fallback": [{"type": "rules", "policy": "bounded_confidence", "params": {"threshold": 0.3}}]},
                  {"select": "all", "type": "rules", "policy": "bounded_confidence", "params": {"threshold": 0.3}}],
        "trace": {"checkpoint_every": 100},
    }
    if budget:
        data["budget"] = budget
    return data


def calls_per_step(sim: Simulation) -> np.ndarray:
    return sim.trace.read("steps").to_pandas()["llm_calls"].to_numpy()


def key_columns(sim: Simulation, before: int | None = None) -> Any:
    events = sim.events().to_pandas()
    if before is not None:
        events = events[events["step"] < before]
    return events[["step", "agent", "action", "outcome", "args"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def uncapped(tmp_path_factory: pytest.TempPathFactory) -> Simulation:
    return Simulation.from_scenario(load_scenario(scenario()), runs_dir=tmp_path_factory.mktemp("uncapped")).run()


def test_a_capped_run_stops_at_the_step_that_reaches_its_cap_and_resumes_with_a_larger_one(
        tmp_path: Path, uncapped: Simulation) -> None:
    spent = np.cumsum(calls_per_step(uncapped))
    assert spent[-1] > spent[2] > spent[1] > 0  # the archetype asks more groups as opinions spread
    cap = int(spent[1]) + 1  # reached during step 2: the run stops after 3 steps
    sim = Simulation.from_scenario(load_scenario(scenario(calls=cap)), runs_dir=tmp_path)
    sim.run()
    assert sim.steps_done == int(np.argmax(spent >= cap)) + 1 == 3
    record = Run.open(sim.path)  # type: ignore[arg-type]
    manifest = record.manifest()
    assert manifest["status"] == "budget_exhausted" and manifest["steps_done"] == 3
    assert manifest["budget"]["spent"]["calls"] == spent[2] >= cap
    assert f"{int(spent[2])} of {cap} model calls" in (sim.budget_stop or "")
    assert sim.trace.checkpoints() == [3]  # stopped at a checkpoint, though checkpoint_every is 100

    again = Simulation.resume(record.path).run()  # the same budget: nothing more is spent
    assert again.steps_done == 3 and again.budget_stop and record.status() == "budget_exhausted"

    larger = Simulation.resume(record.path, overrides=[f"budget.calls={int(spent[-1]) + 1}"]).run()
    assert larger.steps_done == 8 and record.status() == "completed" and larger.budget_stop is None
    assert record.scenario().budget.calls == int(spent[-1]) + 1  # type: ignore[union-attr]  # recorded
    assert key_columns(larger).equals(key_columns(uncapped))  # the pause changed nothing
    with pytest.raises(ScenarioError, match="may change only its budget"):
        Simulation.resume(record.path, overrides=["steps=20"])


def test_degrade_steps_the_model_minds_down_at_the_cap_and_back_up_with_a_larger_budget(
        tmp_path: Path, uncapped: Simulation) -> None:
    spent = np.cumsum(calls_per_step(uncapped))
    cap = int(spent[1]) + 1
    sim = Simulation.from_scenario(load_scenario(scenario(calls=cap, on_exhausted="degrade")), runs_dir=tmp_path)
    sim.run(steps=5)
    steps = sim.trace.read("steps").to_pandas()
    assert steps["llm_calls"].tolist()[:3] == calls_per_step(uncapped)[:3].tolist()
    assert steps["llm_calls"].tolist()[3:] == [0, 0]  # stepped down exactly after the step that reached the cap
    assert steps["model_decisions"].tolist()[3:] == [0, 0]
    older = int((sim.population["age"] >= 50).sum())
    assert steps["fallback_budget"].fillna(0).tolist() == [0, 0, 0, older, older]
    assert key_columns(sim, before=3).equals(key_columns(uncapped, before=3))
    events = sim.events().to_pandas()
    down = events[events["action"] == "degrade"]
    assert down["step"].tolist() == [3]
    assert json.loads(down["data"].iloc[0]) == {"cause": f"{int(spent[2])} of {cap} model calls",
                                                "minds": "minds.0: archetype -> rules"}
    assert f"{2 * older} by fallback ({2 * older} budget)" in sim.health.line()
    html = render_report(sim.path)  # type: ignore[arg-type]
    section = html[html.index('id="budget"'):html.index('id="scenario"')]
    assert "stepped down their fallback chains from step 3" in section and f"budget {2 * older}" in section
    assert f"<td class=\"num\">{cap:,}</td>" in section and "<svg" in section

    resumed = Simulation.resume(sim.path, overrides=["budget.calls=100000"]).run()  # type: ignore[arg-type]
    steps = resumed.trace.read("steps").to_pandas()
    assert steps["llm_calls"].iloc[5:].gt(0).all() and steps["fallback_budget"].iloc[5:].fillna(0).eq(0).all()
    events = resumed.events().to_pandas()
    assert events[events["action"] == "recover"]["step"].tolist() == [5]


def test_a_budget_is_validated_with_the_scenario() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario(calls=0, on_exhausted="later"))
    text = str(caught.value)
    assert "budget.calls: 0 is not accepted" in text and "budget.on_exhausted: 'later' is not accepted" in text
    with pytest.raises(ScenarioError, match="budget: give at least one limit"):
        load_scenario(scenario(on_exhausted="stop"))
    data = scenario(tokens=100, on_exhausted="degrade")
    data["minds"][0]["fallback"] = []
    with pytest.raises(ScenarioError, match="minds.0.fallback: budget.on_exhausted is degrade, but this archetype "
                                            "mind declares no fallback that asks no model"):
        load_scenario(data)


def test_spending_adds_up_steps_and_the_first_cap_reached_is_named() -> None:
    rows = [{"llm_calls": 3, "llm_tokens_in": 100, "llm_tokens_out": 20, "llm_seconds": 0.5, "wall_s": 1.0},
            {"llm_calls": float("nan"), "wall_s": 2.0}, {}]
    spent = Spending.of_steps(rows)
    assert spent == Spending(calls=3, tokens=120, model_seconds=0.5, wall_seconds=3.0)
    budget = load_scenario(scenario(tokens=200, wall_seconds=3)).budget
    reached = exhausted(budget, spent)
    assert reached is not None and reached.limit == "wall_seconds" and str(reached) == "3 of 3 wall seconds"
    assert exhausted(load_scenario(scenario(calls=4)).budget, spent) is None
