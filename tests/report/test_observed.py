"""A scenario's ``observed:`` series: the report scores and plots the run against it, fitted rows
and held-out rows apart, and validate refuses a file or metric that is not there."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.errors import ScenarioError
from populace.report.html import render_report
from populace.scenario import load_scenario, scenarios_dir
from populace.simulation import Simulation

REAL = scenarios_dir() / "data" / "false_business_0_first_hour.csv"


def _rows(html: str) -> dict[str, list[str]]:
    section = html[html.index('id="observed"'):html.index('id="actions"')]
    return {m: re.findall(r'<td class="num">([^<]*)</td>', row)
            for m, row in re.findall(r"<tr><td>(cascade_\w+)</td>(.*?)</tr>", section)}


def _nrmse(simulated: np.ndarray, observed: np.ndarray) -> float:
    return float(np.sqrt(np.mean((simulated - observed) ** 2)) / np.abs(observed).max())


@pytest.mark.parametrize("fitted", ["59m", "30m"])
def test_the_report_scores_the_run_against_the_real_first_hour(tmp_path: Path, fitted: str) -> None:
    sim = Simulation.from_scenario("false-business-0", ["steps=60", "seed=2", f"observed.fitted={fitted}"],
                                   runs_dir=tmp_path).run()
    assert sim.path is not None
    rows = _rows(render_report(sim.path))
    real = pd.read_csv(REAL)
    metrics = sim.metrics()
    split = int(fitted.rstrip("m"))
    for metric, column in (("cascade_scale", "scale"), ("cascade_depth", "depth")):
        # minute m is the state after step m - 1; minute 0 is before the first step ends
        simulated = metrics[metric].to_numpy()[real["minute"].to_numpy()[1:] - 1]
        observed = real[column].to_numpy()[1:].astype(float)
        train = real["minute"].to_numpy()[1:] <= split
        fitted_rows, fitted_error, held_rows, held_error = rows[metric]
        assert (int(fitted_rows), int(held_rows)) == (train.sum(), (~train).sum())
        assert float(fitted_error) == pytest.approx(_nrmse(simulated[train], observed[train]), abs=5e-4)
        if (~train).any():
            assert float(held_error) == pytest.approx(_nrmse(simulated[~train], observed[~train]), abs=5e-4)
        else:
            assert held_error == "–"
    assert float(rows["cascade_scale"][1]) < 0.15  # the calibrated crowd follows the real curve


def test_validate_refuses_an_observed_file_or_metric_that_is_not_there() -> None:
    with pytest.raises(ScenarioError) as error:
        load_scenario("false-business-0", ["observed.file=data/nowhere.csv", "observed.metrics.reach=scale"])
    said = str(error.value)
    assert "observed.file: 'data/nowhere.csv' does not exist" in said
    assert "observed.metrics.reach: the 'social' world reports no metric 'reach'" in said
