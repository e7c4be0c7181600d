"""Progress of long work (a run's steps, a model evaluation's requests) with the time left.

On a terminal it is a live bar with elapsed time and ETA. Elsewhere (CI logs, ``nohup``, a pipe)
a bar would print nothing useful, so a plain line is printed every ``POPULACE_PROGRESS_SECONDS``
(default 10) seconds instead::

    opinion: step 40/120 (33 %), 12 s elapsed, ETA 24 s
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: update(completed, info): how far the work has got, and a short note (e.g. metrics) for the bar
Update = Callable[[int, str], None]


def interval() -> float:
    """Seconds between plain progress lines (``POPULACE_PROGRESS_SECONDS``, default 10)."""
    try:
        return max(0.0, float(os.environ.get("POPULACE_PROGRESS_SECONDS", "10")))
    except ValueError:
        return 10.0


def duration(seconds: float) -> str:
    """A duration as people read it: 12 s, 3 min 05 s, 1 h 02 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class PlainProgress:
    """The plain line: at most one per ``every`` seconds, with the ETA from the rate so far."""

    def __init__(self, console: Console, description: str, total: int, *, completed: int = 0, unit: str = "step",
                 every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.console, self.description, self.total, self.unit = console, description, total, unit
        self.every, self.clock = every, clock
        self.started = self.last = clock()
        self.first = completed  # done before this process started (a resumed run): not part of the rate

    def __call__(self, completed: int, info: str = "") -> None:
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        self.console.print(self.line(completed, now), highlight=False, soft_wrap=True)

    def line(self, completed: int, now: float) -> str:
        elapsed = now - self.started
        share = f" ({100 * completed / self.total:.0f} %)" if self.total else ""
        text = f"{self.description}: {self.unit} {completed}/{self.total}{share}, {duration(elapsed)} elapsed"
        done = completed - self.first
        if done > 0 and completed < self.total:
            text += f", ETA {duration(elapsed / done * (self.total - completed))}"
        return text


@contextmanager
def progress(console: Console, description: str, total: int, *, completed: int = 0, unit: str = "step",
             quiet: bool = False) -> Iterator[Update]:
    """Show progress for the duration of the block; yields ``update(completed, info)``."""
    if quiet:

        def nothing(completed: int, info: str = "") -> None:
            pass

        yield nothing
        return
    if not console.is_terminal:
        yield PlainProgress(console, description, total, completed=completed, unit=unit, every=interval())
        return
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
        console=console, transient=False,
    ) as bar:
        task = bar.add_task(description, total=total, completed=completed, info="")

        def advance(done: int, info: str = "") -> None:
            bar.update(task, completed=done, info=info)

        yield advance
