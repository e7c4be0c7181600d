"""The measures of what a run's models wrote: distinct share, copies of the persona and of earlier
texts, echoes of the prompt, loops; from known texts and from a run's trace."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from populace import Simulation, load_scenario
from populace.analysis.text import authored_texts, model_writing, text_measures
from populace.llm.backends.scripted import ScriptedBackend
from populace.llm.base import Sampling
from populace.llm.client import LanguageModel

BIO = "Baker in Lyon who loves sourdough and cycling"


def test_known_texts_give_known_shares() -> None:
    texts = pd.DataFrame({"agent": [1, 1, 1, 2, 2, 2, 2, 3, 3], "reason": None, "text": [
        BIO,  # copies the persona
        "Fresh bread this morning at the market",
        "Fresh bread this morning at the market!",  # repeats agent 1's previous text; not distinct
        "L'\\u00e9l\\u00e9ment",  # an escape sequence
        "I chose to create_post",  # prompt text
        "obsess with us obsess with us obsess with us",  # a loop
        "What a game last night",
        "What a game last night",  # another author's text: distinct share only
        "18:51:00.547 123",  # no words
    ]})
    measured = text_measures(texts, {1: [BIO], 2: [], 3: []})
    assert measured.texts == 9 and measured.authors == 3
    assert measured.distinct == 7 / 9
    assert measured.persona == 1 / 9 and measured.earlier == 1 / 9
    assert measured.echo == 2 / 9 and measured.loops == 1 / 9 and measured.wordless == 1 / 9
    assert text_measures(texts).persona is None  # personas unknown: not measured


def test_warnings_name_each_sign_of_degenerate_output() -> None:
    same = pd.DataFrame({"agent": [1] * 4, "reason": None, "text": [BIO] * 4})
    warnings = text_measures(same, {1: [BIO]}).warnings()
    assert any("25% of the 4 texts" in w and "distinct" in w for w in warnings)
    assert any("100%" in w and "persona" in w for w in warnings)
    assert any("75%" in w and "earlier" in w for w in warnings)
    fine = pd.DataFrame({"agent": [1, 1], "reason": None, "text": ["Rain in Lyon again", "Market day, busy stalls"]})
    assert text_measures(fine, {1: [BIO]}).warnings() == []


def parrot(text: str, sampling: Sampling, schema: dict[str, Any] | None) -> str:
    """A scripted model that posts its persona: the quoted text after 'You are agent N.'."""
    import json
    import re

    bio = re.search(r'You are agent \d+\. "([^"]*)"', text)
    return json.dumps({"action": "create_post", "args": {"content": bio[1] if bio else "hello"}})


@pytest.fixture(scope="module")
def parrot_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("parrot")
    (tmp / "users.csv").write_text("name,description,activity\n" + "".join(
        f"user_{i},{bio},1.0\n" for i, bio in enumerate([BIO, "Night nurse who reads crime novels", "Retired judge"])))
    spec = {
        "name": "parrot", "seed": 1, "steps": 3, "population": {"file": str(tmp / "users.csv")},
        "world": {"type": "social", "actions": ["create_post", "like_post", "do_nothing"],
                  "params": {"follows": {"kind": "small_world", "degree": 2}, "feed": {"size": 3}}},
        "model": {"backend": "scripted"},
        "minds": [{"select": "name in ['user_0', 'user_1']", "type": "generative", "encoder": "hashing",
                   "persona": "{persona.description}", "observation": "{obs.feed}", "plan": False}],
        "trace": {"checkpoint_every": 3},
    }
    sim = Simulation.from_scenario(load_scenario(spec), runs_dir=tmp / "runs")
    (mind,) = sim.minds
    mind.use_model(LanguageModel(ScriptedBackend(parrot), retries=0, repairs=0))  # type: ignore[attr-defined]
    sim.run()
    assert sim.path is not None
    return sim.path


def test_a_parrot_run_measures_as_degenerate(parrot_run: Path) -> None:
    texts = authored_texts(parrot_run)
    assert set(texts["agent"]) == {0, 1} and set(texts["action"]) == {"create_post"}
    assert (texts["outcome"] == "rejected").all()  # every copy was held back by the mind, and still measured
    measured = model_writing(parrot_run)
    assert measured is not None and measured.texts == len(texts) == measured.withheld
    assert measured.persona == 1.0 and measured.distinct == 2 / len(texts)
    assert any("persona" in w for w in measured.warnings())


def test_the_last_texts_only(parrot_run: Path) -> None:
    every = authored_texts(parrot_run)
    last = authored_texts(parrot_run, limit=2)
    assert last.reset_index(drop=True).equals(every.tail(2).reset_index(drop=True))


def test_the_report_shows_the_model_output_section(parrot_run: Path) -> None:
    from populace.report.html import render_report

    page = render_report(parrot_run)
    section = page[page.index("<h2>Model output</h2>"):]
    section = section[: section.index("</table>")]
    assert "0 posted" in section and "held back by the generative mind" in section
    assert "Degenerate model output:" in section and "copy their author&#39;s persona" in section
    assert re.search(r"<th>copy the author&#39;s persona</th><td class=\"num\">100%</td><td class=\"num\">–</td>",
                     section)


def test_a_run_without_model_texts_has_no_model_output_section(tmp_path: Path) -> None:
    from populace.report.html import render_report

    sim = Simulation.from_scenario("wealth", ["steps=2", "population.size=20"], runs_dir=tmp_path)
    sim.run()
    assert sim.path is not None and "Model output" not in render_report(sim.path)
