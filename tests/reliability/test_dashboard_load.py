"""The live dashboard answers 20 concurrent readers polling a run in progress, without an error."""

from __future__ import annotations

from pathlib import Path

from populace.reliability.dashboard_load import ENDPOINTS, dashboard_load


def test_twenty_readers_of_a_live_run_get_answers(tmp_path: Path) -> None:
    report = dashboard_load(tmp_path / "runs", readers=20, seconds=5.0, overrides=("population.size=200000", "trace.flush_every=25"),
                            baselines=False)
    assert report.errors == 0
    assert set(report.latency_ms) == set(ENDPOINTS)
    assert report.requests >= 20 * len(ENDPOINTS) * 2  # every reader polled at least twice in 5 s
    for latency in report.latency_ms.values():
        assert latency["p50"] < 2000, report.latency_ms
    (phase,) = report.phases
    assert phase.steps > 0  # the run kept stepping while it was read
