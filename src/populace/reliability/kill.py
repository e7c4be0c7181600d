"""SIGKILL a real ``populace run`` at random steps, resume it each time, and compare the result
with an uninterrupted run of the same scenario and seed."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from populace import layout
from populace.runs import Run
from populace.simulation import Simulation


@dataclass
class KillReport:
    """What the kill-and-resume exercise found."""

    scenario: str
    kills: int
    kills_landed: int  # kills that hit a live process (not one that had already finished)
    events_uninterrupted: int
    events_after_resumes: int
    identical: bool
    lost: int  # events of the uninterrupted run missing after the resumes
    duplicated: int  # events present more often than in the uninterrupted run
    model_calls_uninterrupted: float
    model_calls_with_resumes: float
    cache_hits_with_resumes: float
    seconds: float
    kill_steps: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "populace", *args, "-q"]


def _row_counts(table: pa.Table) -> dict[tuple[Any, ...], int]:
    counts: dict[tuple[Any, ...], int] = {}
    for row in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):
        counts[row] = counts.get(row, 0) + 1
    return counts


def _usage(run: Path) -> tuple[float, float]:
    steps = Simulation.resume(run).trace.read("steps")
    calls = float(np.nansum(steps.column("llm_calls").to_numpy(zero_copy_only=False))) \
        if "llm_calls" in steps.column_names else 0.0
    hits = float(np.nansum(steps.column("llm_cache_hits").to_numpy(zero_copy_only=False))) \
        if "llm_cache_hits" in steps.column_names else 0.0
    return calls, hits


def _steps_written(run: Path) -> int:
    """The highest step number in the run's written step parts, plus one."""
    parts = layout.parts(run, layout.STEPS)
    found = layout.part_steps(parts[-1]) if parts else None
    return found[1] + 1 if found else 0


def _wait_for_progress(runs_dir: Path, beyond: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Block until the run has written steps past ``beyond`` (or its process ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(runs_dir.iterdir()) if runs_dir.exists() else []
        if found and _steps_written(found[0]) > beyond:
            return
        time.sleep(0.01)


def kill_points(steps: int, kills: int, rng: np.random.Generator) -> list[int]:
    """``kills`` increasing steps to kill at, spread over the first nine tenths of a ``steps``-step run.

    The last tenth is left alone so that a kill aimed at a step always finds the process alive,
    however fast the machine: a kill can only miss if a whole tenth of the run passes in one poll.
    """
    last = max(1, (steps * 9) // 10)
    edges = np.linspace(0, last, kills + 1)
    return [int(rng.integers(int(lo), max(int(lo) + 1, int(hi)))) for lo, hi in itertools.pairwise(edges)]


def kill_and_resume(
    scenario: str, overrides: Sequence[str], runs_dir: Path, kills: int = 20, seed: int = 0,
    timeout: float = 600.0,
) -> KillReport:
    """Run ``scenario``; SIGKILL it ``kills`` times, resuming after each; compare with an uninterrupted run.

    Each kill is aimed at a step drawn from its own slice of the run (:func:`kill_points`) and comes
    a random fraction of one step's time after the run has written that step, so it lands mid-step
    or mid-write and never after the run has ended, on a slow machine or a fast one.
    """
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    args = [a for o in overrides for a in ("--set", o)]
    reference_dir = runs_dir / "reference"
    subprocess.run(_command("run", scenario, *args, "--runs-dir", str(reference_dir)), check=True, timeout=timeout)
    (reference_path,) = reference_dir.iterdir()
    steps = _steps_written(reference_path)
    step_seconds = (time.monotonic() - started) / max(1, steps)
    killed_dir = runs_dir / "killed"
    proc = subprocess.Popen(_command("run", scenario, *args, "--runs-dir", str(killed_dir)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    landed, kill_steps = 0, []
    run_path: Path | None = None
    committed = 0
    for target in kill_points(steps, kills, rng):
        _wait_for_progress(killed_dir, max(target, committed), proc, timeout)
        time.sleep(float(rng.uniform(0.0, step_seconds)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            landed += 1
        proc.wait()
        if run_path is None:
            found = list(killed_dir.iterdir()) if killed_dir.exists() else []
            if not found:  # killed before the run directory existed: start over
                proc = subprocess.Popen(_command("run", scenario, *args, "--runs-dir", str(killed_dir)),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                continue
            run_path = found[0]
        committed = _steps_written(run_path)
        kill_steps.append(committed)
        proc = subprocess.Popen(_command("resume", str(run_path)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.wait(timeout=timeout)
    if run_path is None:
        (run_path,) = killed_dir.iterdir()
    if Run(run_path).manifest().get("status") != "completed":
        subprocess.run(_command("resume", str(run_path)), check=True, timeout=timeout)
    reference = Simulation.resume(reference_path).events()
    after = Simulation.resume(run_path).events()
    want, got = _row_counts(reference), _row_counts(after)
    lost = sum(max(0, n - got.get(row, 0)) for row, n in want.items())
    duplicated = sum(max(0, n - want.get(row, 0)) for row, n in got.items())
    calls_ref, _ = _usage(reference_path)
    calls, hits = _usage(run_path)
    return KillReport(
        scenario=scenario, kills=kills, kills_landed=landed,
        events_uninterrupted=reference.num_rows, events_after_resumes=after.num_rows,
        identical=bool(after.equals(reference)), lost=lost, duplicated=duplicated,
        model_calls_uninterrupted=calls_ref, model_calls_with_resumes=calls, cache_hits_with_resumes=hits,
        seconds=time.monotonic() - started, kill_steps=kill_steps,
    )
