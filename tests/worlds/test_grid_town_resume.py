"""A run of the grid or town world stopped at a checkpoint and resumed ends exactly as an unbroken run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from populace import Simulation


@pytest.mark.parametrize(("scenario", "stop"), [("party", 24), ("swarm-pursuit", 50), ("swarm-transport", 50)])
def test_resumed_run_matches_an_unbroken_one(tmp_path: Path, scenario: str, stop: int) -> None:
    whole = Simulation.from_scenario(scenario).run().metrics()
    first = Simulation.from_scenario(scenario, runs_dir=tmp_path)
    first.run(steps=stop)
    assert first.path is not None
    resumed = Simulation.resume(first.path).run().metrics()
    pd.testing.assert_frame_equal(whole, resumed)
