"""docs/writing-a-world.md's example is real code: it passes ruff and mypy as written, passes
check_world, and runs in a scenario with its own policy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "writing-a-world.md"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)[0]
    path = tmp_path_factory.mktemp("doc") / "bank_world.py"
    path.write_text(code, encoding="utf-8")
    return path


def test_the_example_passes_ruff_and_mypy_as_written(example: Path) -> None:
    # as in a user's own project, where populace is a third-party package
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--config", str(ROOT / "pyproject.toml"),
                           "--config", "lint.isort.known-third-party = ['populace']", str(example)],
                          capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--no-incremental", str(example)], capture_output=True, text=True, cwd=example.parent)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


def test_the_example_world_is_a_world_and_its_policy_runs(example: Path, tmp_path: Path) -> None:
    from populace.scenario import load_scenario
    from populace.simulation import Simulation

    scenario = {
        "name": "bank-doc", "steps": 5, "seed": 1, "plugins": [str(example)],
        "population": {"size": 40}, "world": {"type": "bank", "params": {"interest": 0.01}},
        "minds": [{"select": "all", "type": "rules", "policy": "saver", "params": {"share": 0.5}}],
        "trace": {"checkpoint_every": 5},
    }
    sim = Simulation.from_scenario(load_scenario(scenario), runs_dir=tmp_path)
    sim.run()
    from populace.testing import check_world
    from populace.world import worlds

    bank = worlds.get("bank")
    check_world(bank(sim.population))
    deposits = sim.metrics()["deposits"]
    # savers put half their cash in every step and it earns interest: deposits grow step on step
    assert deposits.is_monotonic_increasing and deposits.iloc[-1] > 40 * 100 * 0.9
