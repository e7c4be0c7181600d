from __future__ import annotations

from pathlib import Path

from populace.reliability.kill import kill_and_resume


def test_repeated_sigkills_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    report = kill_and_resume(
        "opinion", ["population.size=20000", "steps=200", "trace.checkpoint_every=5", "trace.flush_every=2"],
        tmp_path, kills=5, seed=3, max_delay=0.3,
    )
    assert report.kills_landed == 5, report
    assert len(set(report.kill_steps)) >= 3, report  # killed at different points of the run
    assert report.identical, report
    assert report.lost == 0 and report.duplicated == 0
    assert report.events_after_resumes == report.events_uninterrupted > 0
