"""The grid and town worlds driven by language-model minds over a scripted backend."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from populace import Simulation
from populace.llm.backends.scripted import ScriptedBackend
from populace.llm.base import Sampling
from populace.llm.client import LanguageModel
from populace.minds.language import LanguageMind

TOWN_NOTE = ("At {obs.place}, {obs.time}. Here: {obs.here}. Heard: {obs.conversation}. "
             "You know: {obs.knows}")


def town_resident(text: str, sampling: Sampling, schema: dict[str, Any] | None) -> str:
    """Everyone heads for coffee at the café; who knows of the party invites the first person there."""
    if schema is None or "action" not in json.dumps(schema):
        return "{}"
    knows = 'You know: "Isabella' in text
    here = re.search(r'Here: "[^"(]*\((\d+)\)', text)
    if knows and here:
        return json.dumps({"action": "talk", "args": {"to": int(here[1]), "text": "Come to the party at 5pm!"}})
    if 'At "Hobbs Cafe"' not in text and "on the way" not in text:
        return '{"action": "go", "args": {"place": "Hobbs Cafe"}}'
    return '{"action": "stay", "args": {}}'


def test_party_news_spreads_through_generative_minds_reading_the_town_columns() -> None:
    sim = Simulation.from_scenario("party", [
        "steps=6", "clock.start=2023-02-14T15:00:00", "model={backend: scripted}", "trace.events=all",
        f"minds=[{{select: all, type: generative, plan: false, encoder: hashing, observation: '{TOWN_NOTE}'}}]",
    ])
    (mind,) = sim.minds
    assert isinstance(mind, LanguageMind)
    backend = ScriptedBackend(town_resident)
    prompts: list[str] = []
    original = backend.complete

    async def recording(prompt: Any, sampling: Sampling, schema: Any) -> Any:
        prompts.append(str(prompt))
        return await original(prompt, sampling, schema)

    backend.complete = recording  # type: ignore[method-assign]
    mind.use_model(LanguageModel(backend, retries=0, repairs=0))
    metrics = sim.run().metrics()
    assert any('"Tuesday 14 February 2023, 15:00"' in p and "At \"Isabella's apartment\"" in p for p in prompts)
    assert metrics["informed_party"].iloc[-1] >= 1  # told by a language-model mind, not by rules
    talks = sim.events().to_pandas().query("action == 'talk' and outcome == 'ok'")
    assert len(talks) >= 1 and talks["agent"].iloc[0] == 0
    assert metrics["density"].iloc[-1] >= metrics["density"].iloc[0]


def test_swarm_pursuit_with_an_archetype_mind_choosing_moves() -> None:
    options = "{" + ", ".join(f"{d}: {{action: move, args: {{dir: {d}}}}}" for d in
                              ["up", "down", "left", "right", "stay"]) + "}"
    sim = Simulation.from_scenario("swarm-pursuit", [
        "steps=3", "model={backend: scripted, probabilities: {right: 1}}",
        f"minds=[{{select: all, type: archetype, prompt: 'You see:\\n{{obs.view_text}}\\nPick one of {{options}}',"
        f" options: {options}}}]",
    ])
    start = sim.world.grid.x.copy()  # type: ignore[attr-defined]
    metrics = sim.run().metrics()
    assert (metrics["directional_entropy"] == 0).all()  # everyone chose right every step
    moved = sim.world.grid.x - start  # type: ignore[attr-defined]
    assert (moved >= 0).all() and moved.max() >= 1
    events = sim.events().to_pandas()
    assert set(events.loc[events["action"] == "move", "args"]) == {'{"dir":"right"}'}
    assert np.isin(events["outcome"].unique(), ["ok", "rejected"]).all()
