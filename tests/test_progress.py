"""Progress off a terminal: a plain line every few seconds, with an ETA from the rate so far."""

from __future__ import annotations

import io

from rich.console import Console

from populace.progress import PlainProgress, duration, progress


def test_plain_lines_come_every_interval_with_the_time_left() -> None:
    out = io.StringIO()
    now = [0.0]
    line = PlainProgress(Console(file=out, width=200), "opinion", 120, every=10, clock=lambda: now[0])
    for step in range(1, 121):
        now[0] += 0.5  # half a second a step: a line every 20 steps
        line(step)
    lines = out.getvalue().splitlines()
    assert len(lines) == 6
    assert lines[1] == "opinion: step 40/120 (33 %), 20 s elapsed, ETA 40 s"
    assert lines[-1] == "opinion: step 120/120 (100 %), 1 min 00 s elapsed"


def test_a_resumed_run_counts_its_rate_from_where_it_resumed() -> None:
    out = io.StringIO()
    now = [0.0]
    line = PlainProgress(Console(file=out, width=200), "wealth", 100, completed=90, unit="step", every=0,
                         clock=lambda: now[0])
    now[0] = 5.0
    line(95)  # 5 steps in 5 s: 5 more take 5 s, whatever the 90 before took
    assert out.getvalue().strip() == "wealth: step 95/100 (95 %), 5 s elapsed, ETA 5 s"


def test_quiet_and_durations() -> None:
    out = io.StringIO()
    with progress(Console(file=out), "x", 3, quiet=True) as advance:
        advance(3, "")
    assert out.getvalue() == ""
    assert [duration(s) for s in (0.4, 59, 61, 3725)] == ["0 s", "59 s", "1 min 01 s", "1 h 02 min"]
