"""The custom-mind example from docs/minds.md runs in a scenario."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from populace.scenario import load_scenario
from populace.simulation import Simulation

DOC = Path(__file__).resolve().parents[2] / "docs" / "minds.md"


def test_the_documented_example_registers_and_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    section = DOC.read_text().split("## Writing your own mind")[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    module = types.ModuleType("stubborn_example")  # importable, so checkpoints can pickle the mind
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code.group(1), "minds.md", "exec"), module.__dict__)
    sim = Simulation(load_scenario({
        "name": "stubborn", "seed": 1, "steps": 10, "population": {"size": 200},
        "world": {"type": "opinion"}, "minds": [{"type": "stubborn", "openness": 0.5}],
    })).run()
    events = sim.events().to_pandas()
    per_step = events[events["action"] == "discuss"].groupby("step").size()
    assert per_step.mean() == pytest.approx(100, rel=0.2)
