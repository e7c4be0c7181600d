"""The live dashboard answers 20 concurrent readers polling a run in progress, without an error."""

from __future__ import annotations

from pathlib import Path

from populace.reliability.dashboard_load import ENDPOINTS, dashboard_load


def test_twenty_readers_of_a_live_run_get_answers(tmp_path: Path) -> None:
    report = dashboard_load(tmp_path / "runs", readers=20, seconds=5.0, overrides=("population.size=200000", "trace.flush_every=25"),
                            baselines=False)
    assert report.errors == 0
    assert set(report.latency_ms) == set(ENDPOINTS)
    # how fast they are answered is measured by benchmarks/dashboard_load.py, not asserted here: on a
    # loaded machine a 5 s window holds fewer polls (128 of 160 at load 6)
    assert report.requests >= len(ENDPOINTS)
    (phase,) = report.phases
    assert phase.steps > 0  # the run kept stepping while it was read


def test_the_dashboard_reads_only_new_parts_and_matches_a_full_read(tmp_path: Path) -> None:
    import shutil

    import pandas as pd

    from populace import analysis
    from populace.report.dashboard import RunView
    from populace.scenario import load_scenario
    from populace.simulation import Simulation

    scenario = load_scenario("opinion", ["population.size=300", "steps=4", "trace.flush_every=1"])
    run = Simulation.from_scenario(scenario, runs_dir=tmp_path).run().path
    assert run is not None
    view = RunView(run)
    pd.testing.assert_frame_equal(view.steps(), analysis.steps(run))
    pd.testing.assert_frame_equal(view.metrics(), analysis.metrics(run))
    assert int(view.digest().actions["n"].sum()) == len(analysis.events(run)) > 0  # every event digested once
    shutil.copy(run / "steps" / "00000003-00000003.parquet", run / "steps" / "00000004-00000004.parquet")
    grown = view.steps()
    assert len(grown) == 5 and grown["step"].tolist() == [0, 1, 2, 3, 3]  # the copied part was appended
    pd.testing.assert_frame_equal(grown, analysis.steps(run))
