"""``populace estimate``: a pilot's costs extrapolated to the whole run, checked against full runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from populace.operations.estimate import estimate, extrapolate
from populace.runs import Run
from populace.scenario import load_scenario
from populace.simulation import Simulation

#: the full run's calls and tokens must lie within this factor of the estimate (docs/costs.md says so)
FACTOR = 2.0

#: three shipped scenarios with model-driven minds, on the scripted model (the embedded one is slow)
SCENARIOS = {
    "untrusted-text": [],  # archetype
    "misinformation-mixed": ["model.backend=scripted", "model.threads=null", "minds.0.encoder=hashing",
                             "minds.1.encoder=hashing"],  # generative and similarity
    "town-meeting": ["model.backend=scripted", "model.threads=null"],  # a game master and its players
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_estimate_is_within_a_factor_of_two_of_the_full_runs_calls_and_tokens(name: str, tmp_path: Path) -> None:
    scenario = load_scenario(name, SCENARIOS[name])
    pilot_steps = min(3, scenario.steps - 1)  # town-meeting is three steps long: its pilot is two
    found = estimate(scenario, pilot_steps=pilot_steps)
    assert found.pilot_steps == pilot_steps < found.steps == scenario.steps
    full = Simulation.from_scenario(scenario, runs_dir=tmp_path).run()
    steps = full.trace.read("steps").to_pandas()
    measured = {"calls": steps["llm_calls"].sum(), "tokens": (steps["llm_tokens_in"] + steps["llm_tokens_out"]).sum()}
    for counter, value in measured.items():
        predicted = found.total(counter).estimate
        assert value > 0 and predicted / FACTOR <= value <= predicted * FACTOR, (counter, predicted, value)
        # the pilot's steps are measured, not predicted: the full run spent the same on them
        pilot = sum(sum(tier[counter]) for tier in found.measured.values())
        first = steps["llm_calls"].head(pilot_steps).sum() if counter == "calls" else \
            (steps["llm_tokens_in"] + steps["llm_tokens_out"]).head(pilot_steps).sum()
        assert pilot == first
    model_free = [t for t in found.tiers if t.tier.endswith(("(rules)", "(similarity)"))]
    assert all(t.calls.high == t.tokens.high == 0 for t in model_free)


def test_extrapolation_weighs_the_later_steps_by_how_many_agents_act() -> None:
    # two pilot steps of 10 and 30 calls with 10 and 20 agents expected active: 1 to 1.5 calls an agent
    found = extrapolate([10, 30], [10, 20, 40, 0, 40])
    assert found.estimate == pytest.approx(40 + 40 / 30 * 80)
    assert (found.low, found.high) == (pytest.approx(40 + 80), pytest.approx(40 + 120))
    assert extrapolate([5, 5], [1, 1]).estimate == 10  # the pilot was the whole run: exact
    assert extrapolate([100, 1, 1], [1, 1, 1, 1], skip=1).estimate == 103  # a warm-up step left out of the rate


def test_a_kept_pilot_is_a_paused_run_that_resume_finishes(tmp_path: Path) -> None:
    found = estimate("untrusted-text", pilot_steps=2, keep=tmp_path)
    assert found.pilot_run is not None and Run.open(found.pilot_run).status() == "paused"
    finished = Simulation.resume(found.pilot_run).run()
    assert finished.steps_done == 4 and Run.open(found.pilot_run).status() == "completed"
