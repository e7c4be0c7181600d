"""Generative agents write their own words: memories in plain text, and a text that copies the
persona, repeats the agent's earlier text or carries escapes is asked for again, then held back."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from populace import Simulation, load_scenario, originality
from populace.llm.backends.scripted import ScriptedBackend
from populace.llm.base import Sampling
from populace.llm.client import LanguageModel
from populace.minds.generative import REWRITE, GenerativeMind, recount
from populace.minds.memory import KINDS

BIOS = ["Baker in Lyon who loves sourdough and cycling", "Night nurse who reads crime novels", "Retired judge"]
INJECTED = 'L\'élémentaire "vie" à Paris'
NAMES = ["Élodie", "Théo", "Zoë", "Måns", "Ñuño", "Çelik", "Øyvind", "Brontë", "Anaïs", "Jürgen", "Sørina", "Renée"]
WORDS = ["crème", "façade", "naïve", "jalapeño", "smörgås", "über", "déjà", "piñata", "fiancé", "garçon", "señor", "café"]
PLACES = ["Besançon", "Zürich", "Málaga", "Kraków", "Göteborg", "Nîmes", "Łódź", "São Paulo", "Reykjavík", "Orléans",
          "Düsseldorf", "Győr"]
#: texts with accents and straight quotes that share no word pair with each other
FRESH = [f'{n} said "{w}" at {p}' for n, w, p in zip(NAMES, WORDS, PLACES, strict=True)]

Respond = Callable[[str, int], Any]  # (prompt, call number) -> the decision


def post(content: str) -> dict[str, Any]:
    return {"action": "create_post", "args": {"content": content}}


def persona_in(prompt: str) -> str:
    found = re.search(r'You are agent \d+\. "([^"]*)"', prompt)
    assert found, prompt[:200]
    return found[1]


def run(tmp: Path, respond: Respond, steps: int = 3, **mind: Any) -> tuple[Simulation, GenerativeMind, list[str]]:
    """A small social run whose agents 0 and 1 are generative, on a scripted model; returns the
    simulation, its mind and every decision prompt sent."""
    (tmp / "users.csv").write_text("name,description,activity\n"
                                   + "".join(f"user_{i},{bio},1.0\n" for i, bio in enumerate(BIOS)))
    spec = {
        "name": "writing", "seed": 1, "steps": steps, "population": {"file": str(tmp / "users.csv")},
        "world": {"type": "social", "actions": ["create_post", "like_post", "do_nothing"],
                  "params": {"follows": {"kind": "small_world", "degree": 2}, "feed": {"size": 3}}},
        "model": {"backend": "scripted"},
        "minds": [{"select": "name in ['user_0', 'user_1']", "type": "generative", "encoder": "hashing",
                   "persona": "{persona.description}", "observation": "{obs.feed}", "plan": False, **mind}],
        "interventions": [{"at": 0, "call": "inject_post", "args": {"author": 2, "content": INJECTED}}],
    }
    sim = Simulation.from_scenario(load_scenario(spec), runs_dir=tmp / "runs")
    (generative,) = sim.minds
    assert isinstance(generative, GenerativeMind)
    prompts: list[str] = []

    def answer(text: str, sampling: Sampling, schema: dict[str, Any] | None) -> str:
        prompts.append(text)
        return json.dumps(respond(text, len(prompts) - 1))

    generative.use_model(LanguageModel(ScriptedBackend(answer), retries=0, repairs=0))
    sim.run()
    return sim, generative, prompts


def writing_events(sim: Simulation) -> pd.DataFrame:
    events = sim.events().to_pandas()
    events = events[events["action"] == "create_post"].copy()
    events["content"] = [json.loads(a)["content"] for a in events["args"]]
    return events


def test_memories_are_plain_text_and_accents_and_quotes_survive(tmp_path: Path) -> None:
    sim, mind, prompts = run(tmp_path, lambda prompt, k: post(FRESH[k % len(FRESH)]))
    posted = writing_events(sim)
    assert (posted["outcome"] == "ok").all() and len(posted) == 6  # two agents, three steps
    assert set(posted["content"]) <= set(FRESH)  # stored exactly as written
    memories = [str(t) for t in mind.memory.text[: len(mind.memory)]]
    wrote = [str(t) for t in mind.memory.text[mind.memory.of(0, "writing")]]
    assert wrote and all(re.fullmatch(r'I did create_post: “.+ said ".+" at .+”', t) for t in wrote)
    assert any(INJECTED in m for m in memories)  # what the agents saw, as it was written
    for text in [*memories, *prompts]:
        assert "\\u" not in text and '\\"' not in text and "I chose to" not in text
    assert any("L'élémentaire ”vie” à Paris" in p for p in prompts)  # a post in the feed, readable


def test_own_texts_are_remembered_but_not_retrieved_into_decisions(tmp_path: Path) -> None:
    _, mind, prompts = run(tmp_path, lambda prompt, k: post(FRESH[k % len(FRESH)]), top_k=10)
    assert len(mind.memory.of(0, "writing")) == 3
    remembered = [line for p in prompts for line in p.splitlines() if line.startswith("- ")]
    assert remembered and not any("I did create_post" in line for line in remembered)
    assert KINDS.index("writing") == 4  # appended: the kinds of checkpointed memories keep their numbers


def test_a_model_that_echoes_the_persona_is_asked_again_then_held_back(tmp_path: Path) -> None:
    sim, mind, prompts = run(tmp_path, lambda prompt, k: post(persona_in(prompt)))
    events = writing_events(sim)
    assert len(events) == 6 and (events["outcome"] == "rejected").all()  # nothing reached the world
    assert set(events["reason"]) == {originality.COPIES_PERSONA}
    assert set(events["content"]) == set(BIOS[:2])  # recorded as written
    again = [p for p in prompts if REWRITE.format(reason=originality.COPIES_PERSONA) in p]
    assert len(again) == 6  # one more try per decision, saying why
    stats = mind.stats()
    assert stats["generative_rewrites"] == 6 and stats["generative_withheld"] == 6
    assert not sim.world.state.posts["author"][sim.world.state.posts["kind"] == 0].tolist().count(0)  # type: ignore[attr-defined]


def test_a_second_try_in_its_own_words_is_posted(tmp_path: Path) -> None:
    def respond(prompt: str, k: int) -> dict[str, Any]:
        return post(FRESH[k % len(FRESH)]) if "held back" in prompt else post(persona_in(prompt))

    sim, mind, _ = run(tmp_path, respond)
    events = writing_events(sim)
    assert (events["outcome"] == "ok").all() and len(events) == 6
    assert not set(events["content"]) & set(BIOS) and mind.stats()["generative_rewrites"] == 6


def test_repeating_an_earlier_post_or_escapes_is_held_back(tmp_path: Path) -> None:
    def respond(prompt: str, k: int) -> dict[str, Any]:
        if persona_in(prompt) == BIOS[0]:
            return post("Sunny morning, the bakery smells wonderful")  # the same text every step
        return post("L'\\u00e9l\\u00e9mentaire de la vie")  # escapes, as the model copied them

    sim, _, _ = run(tmp_path, respond)
    events = writing_events(sim).sort_values(["agent", "step"])
    first = events[events["agent"] == 0]
    assert first["outcome"].tolist() == ["ok", "rejected", "rejected"]
    assert first["reason"].tolist()[1:] == [originality.REPEATS_EARLIER] * 2
    second = events[events["agent"] == 1]
    assert (second["outcome"] == "rejected").all() and set(second["reason"]) == {"contains an escape sequence"}


def test_the_checks_can_be_turned_off(tmp_path: Path) -> None:
    sim, mind, prompts = run(tmp_path, lambda prompt, k: post(persona_in(prompt)), originality=False)
    assert (writing_events(sim)["outcome"] == "ok").all() and len(prompts) == 6
    assert "generative_rewrites" not in mind.stats()


def test_recount_says_what_was_done_in_words() -> None:
    assert recount("create_post", {"content": 'Il a dit "oui"'}, ("content",)) == 'I did create_post: “Il a dit "oui"”'
    assert recount("like_post", {"post_id": np.int64(3)}) == "I did like_post (post_id 3)."
    assert recount("nothing", {}) == "I did nothing."


def test_every_phrase_of_the_decision_prompt_is_an_echo() -> None:
    for label in ["You are agent 3.", "Now you see:", "You remember:", "What you have concluded:",
                  "Your plan for this hour:", REWRITE.format(reason="loops"), recount("create_post", {"content": "x"},
                                                                                      ("content",))]:
        assert originality.echo(f"well {label} so") is not None, label
