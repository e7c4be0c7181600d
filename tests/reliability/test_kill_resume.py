from __future__ import annotations

from pathlib import Path

from populace.reliability.kill import kill_and_resume


def test_repeated_sigkills_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    report = kill_and_resume(
        "opinion", ["population.size=20000", "steps=200", "trace.checkpoint_every=5", "trace.flush_every=2"],
        tmp_path, kills=5, seed=3,
    )
    assert report.kills_landed == 5, report
    assert len(set(report.kill_steps)) >= 3, report  # killed at different points of the run
    assert report.identical, report
    assert report.lost == 0 and report.duplicated == 0
    assert report.events_after_resumes == report.events_uninterrupted > 0


def test_kill_points_are_increasing_and_leave_the_last_tenth() -> None:
    import numpy as np

    from populace.reliability.kill import kill_points

    points = kill_points(200, 5, np.random.default_rng(0))
    assert points == sorted(points) and len(set(points)) == 5
    assert points[0] >= 0 and points[-1] < 180
    assert len(kill_points(3, 5, np.random.default_rng(0))) == 5  # more kills than steps still gives a plan
