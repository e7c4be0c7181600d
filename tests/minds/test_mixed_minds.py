"""Rules, archetype and generative minds in one population, one run and one trace."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from populace.scenario import load_scenario
from populace.simulation import Simulation


def respond(prompt: str, sampling: Any, schema: dict[str, Any] | None) -> str:
    """Generative agents discuss with the neighbour they see when opinions are within 0.3."""
    if schema is None or "oneOf" not in schema:
        return json.dumps({"plan": []} if schema and "plan" in schema.get("properties", {}) else
                          {"hours": []} if schema and "hours" in schema.get("properties", {}) else {"insights": []})
    seen = dict(re.findall(r"(\w+): ([-\d.na]+)", prompt.split("Now you see: ")[1].split("\n")[0]))
    near = abs(float(seen["opinion"]) - float(seen["neighbour_opinion"])) < 0.3
    return json.dumps({"action": "discuss", "args": {"with": int(seen["neighbour"])}} if near else {"action": "nothing"})


SCENARIO: dict[str, Any] = {
    "name": "mixed-minds", "seed": 3, "steps": 8,
    "population": {"size": 300, "attributes": {"age": {"dist": "integer", "low": 18, "high": 90}}},
    "world": {"type": "opinion", "params": {"network": {"degree": 6}}},
    "model": {"backend": "scripted", "probabilities": {"discuss": 3, "ignore": 1},
              "function": "test_mixed_minds:respond", "retries": 0},
    "minds": [
        {"select": "age >= 80", "type": "generative", "top_k": 3, "encoder": "hashing"},
        {"select": "age < 40", "type": "rules", "policy": "bounded_confidence", "params": {"threshold": 0.3}},
        {"select": "all", "type": "archetype",
         "prompt": "Opinion {obs.opinion}, neighbour {obs.neighbour_opinion}: {options}?",
         "bins": {"obs.opinion": [0.5], "obs.neighbour_opinion": [0.5]},
         "options": {"discuss": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None}},
    ],
}


def test_three_tiers_share_one_run_and_one_trace(tmp_path: Path) -> None:
    sim = Simulation.from_scenario(load_scenario(SCENARIO), runs_dir=tmp_path).run()
    age = sim.population["age"]
    tier = np.where(age >= 80, "generative", np.where(age < 40, "rules", "archetype"))
    events = sim.events().to_pandas()
    acted = events[(events["action"] == "discuss") & (events["outcome"] == "ok")]
    by_tier = pd.Series(tier[acted["agent"].to_numpy()]).value_counts()
    assert set(by_tier.index) == {"generative", "rules", "archetype"}
    assert (events["outcome"] == "failed").sum() == 0
    # the generative agents only discuss with close neighbours, as their (scripted) model says
    generative = acted[tier[acted["agent"].to_numpy()] == "generative"]
    assert len(generative) > 0
    steps = sim.trace.read("steps").to_pandas()
    assert (steps["archetype_calls"] <= 4).all()  # 2 x 2 bins, however many archetype agents
    assert (steps["archetype_agents"] > 100).all()
    assert steps["generative_agents"].sum() == 8 * int((age >= 80).sum())
    asked = steps["archetype_calls"].sum() + steps["generative_calls"].sum()
    assert steps["llm_calls"].sum() + steps["llm_cache_hits"].sum() == asked
    assert steps["llm_cache_hits"].sum() >= 7 * 4 - 4  # archetype prompts repeat step after step: the cache answers
    assert sim.metrics()["variance"].iloc[-1] < sim.metrics()["variance"].iloc[0]


def test_a_mixed_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO, ["steps=6", "trace.checkpoint_every=3"])
    whole = Simulation.from_scenario(scenario, runs_dir=tmp_path / "a").run()
    half = Simulation.from_scenario(scenario, runs_dir=tmp_path / "b")
    half.run(steps=3)
    assert half.path is not None
    resumed = Simulation.resume(half.path).run()
    assert resumed.events().to_pandas()[["step", "agent", "action", "outcome"]].equals(
        whole.events().to_pandas()[["step", "agent", "action", "outcome"]])
