"""Reading a recorded run: events with parsed arguments, metrics, checkpoint states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from populace import Simulation, analysis


@pytest.fixture(scope="module")
def wealth_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = Simulation.from_scenario("wealth", ["population.size=60", "steps=20", "trace.checkpoint_every=10"],
                                   tmp_path_factory.mktemp("runs")).run()
    assert sim.path is not None
    return sim.path


def test_events_have_parsed_arguments(wealth_run: Path) -> None:
    ev = analysis.events(wealth_run)
    gives = ev[ev["action"] == "give"]
    assert len(gives) > 0
    assert all(isinstance(a["to"], int) and 0 <= a["to"] < 60 for a in gives["args"])
    assert analysis.actions_per_step(ev).index.tolist() == list(range(20))


def test_metrics_and_steps_tables(wealth_run: Path) -> None:
    m = analysis.metrics(wealth_run)
    assert list(m.index) == list(range(20)) and set(m.columns) == {"gini", "share_zero", "top10_share", "total"}
    assert (m["total"] == 60).all()
    assert analysis.steps(wealth_run)["active"].tolist() == [60] * 20
    assert analysis.model_usage(analysis.steps(wealth_run)).empty  # rules only: no model was used


def test_states_at_checkpoints_match_recorded_metrics(wealth_run: Path) -> None:
    assert analysis.checkpoint_steps(wealth_run) == [10, 20]
    assert analysis.checkpoint_at_or_before(wealth_run, 15) == 10
    assert analysis.checkpoint_at_or_before(wealth_run, 5) is None
    wealth = analysis.states(wealth_run, "wealth")
    assert wealth.groupby("step")["value"].sum().tolist() == [60, 60]
    gini = analysis.gini_over_time(wealth).set_index("step")["gini"]
    m = analysis.metrics(wealth_run)
    # the checkpoint after 10 steps holds the state measured at the end of step 9
    assert gini[10] == pytest.approx(m.loc[9, "gini"]) and gini[20] == pytest.approx(m.loc[19, "gini"])


def test_opinion_polarization_from_checkpoints(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("opinion", ["population.size=200", "steps=30", "trace.checkpoint_every=15"],
                                   tmp_path).run()
    assert sim.path is not None
    table = analysis.polarization_over_time(analysis.states(sim.path, "opinion")).set_index("step")
    m = analysis.metrics(sim.path)
    assert table.loc[30, "variance"] == pytest.approx(m.loc[29, "variance"])
    assert np.isfinite(table["bimodality"]).all()
    network = analysis.network_at(sim.path)
    assert network is not None and network.n == 200
    paradox = analysis.friendship_paradox(network).iloc[0]
    assert paradox["mean_degree"] == pytest.approx(network.degree().mean())
    assert paradox["edge_friend_degree"] >= paradox["mean_degree"]  # E[k^2]/E[k] >= E[k] always
    assert analysis.network_at(sim.path, 10) is None  # no checkpoint before step 15
    with pytest.raises(Exception, match="no per-agent state 'nothing'"):
        analysis.states(sim.path, "nothing")
