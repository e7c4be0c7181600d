"""eval-model's figures on scripted models whose behaviour is known."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from populace.cli import app
from populace.llm.backends.scripted import ScriptedBackend
from populace.llm.cache import ResponseCache
from populace.llm.client import LanguageModel
from populace.llm.fidelity import PERSONAS, POSTS, auc, auc_interval, evaluate, pairs, verdict


def interest_of(text: str) -> str:
    return next(k for k, persona in PERSONAS.items() if persona in text)


def oracle(text: str, options: Sequence[str]) -> list[float]:
    """Knows every persona's interest and every post's topic; reads posts in the order shown."""
    interest = interest_of(text)
    if options == ["yes", "no"]:
        likes = any(post in text for post in POSTS[interest])
        return [0.9, 0.1] if likes else [0.2, 0.8]
    listing = text.split("Four posts in your feed:\n")[1].splitlines()[:4]
    return [1.0 if any(post in line for post in POSTS[interest]) else 0.0 for line in listing]


def first_letter(text: str, options: Sequence[str]) -> list[float]:
    """Always the first option (what small models do when asked to pick one of several)."""
    return [1.0] + [0.0] * (len(options) - 1)


def score(probabilities: object) -> dict[str, float]:
    lm = LanguageModel(ScriptedBackend(probabilities=probabilities), cache=ResponseCache())  # type: ignore[arg-type]
    return asyncio.run(evaluate(lm))


def test_auc_by_hand() -> None:
    assert auc(np.array([0.9, 0.1, 0.5, 0.5]), np.array([True, False, True, False])) == 0.875
    assert len(pairs()) == 128 and sum(p.matches for p in pairs()) == 16


def test_an_oracle_scores_perfectly_without_position_bias() -> None:
    figures = score(oracle)
    assert figures["auc"] == 1.0
    assert np.isclose(figures["mean_p_yes_match"], 0.9) and np.isclose(figures["mean_p_yes_other"], 0.2)
    assert figures["pick_accuracy"] == 1.0 and figures["position_consistency"] == 1.0
    assert figures["top_position_share"] == 0.25
    assert figures["valid_json"] == 1.0 and figures["calls_per_decision"] == 1.0


def test_a_model_that_always_picks_the_first_option_shows_its_bias() -> None:
    figures = score(first_letter)
    assert figures["auc"] == 0.5  # always "yes": every pair tied
    assert figures["pick_accuracy"] == 0.25 and figures["position_consistency"] == 0.0
    assert figures["top_position_share"] == 1.0


def test_eval_model_command_prints_the_figures_and_the_similarity_tier() -> None:
    result = CliRunner().invoke(app, ["eval-model", "scripted", "--limit", "24", "--encoder", "hashing",
                                      "--out", "figures.json"])
    assert result.exit_code == 0, result.output
    assert "auc" in result.output and "valid_json" in result.output
    assert "too few pairs to judge" in result.output  # 6 matching pairs say nothing either way
    figures = json.loads(Path("figures.json").read_text())
    assert figures["scripted"]["pairs"] == 24
    assert "similarity tier" in figures and figures["similarity tier"]["auc"] > 0.5


def contrary(text: str, options: Sequence[str]) -> list[float]:
    """The oracle's yes/no the wrong way round."""
    return oracle(text, options)[::-1] if options == ["yes", "no"] else oracle(text, options)


def test_the_verdict_reads_the_interval_and_the_number_of_pairs() -> None:
    assert verdict(score(oracle)) == "persona-driven"
    assert verdict(score(first_letter)).startswith("near chance")  # every pair tied
    assert verdict(score(contrary)).startswith("below chance")
    assert verdict({"auc": 0.0, "pairs": 4, "matching": 1}).startswith("too few pairs to judge")
    figures = score(oracle)
    assert figures["auc_low"] <= figures["auc"] <= figures["auc_high"] and figures["matching"] == 16


def test_the_auc_interval_holds_the_auc_and_narrows_with_more_pairs() -> None:
    small, large = auc_interval(0.7, 8, 8), auc_interval(0.7, 80, 80)
    assert small[0] < large[0] < 0.7 < large[1] < small[1]
    assert auc_interval(0.5, 16, 112)[0] < 0.5 < auc_interval(0.5, 16, 112)[1]
