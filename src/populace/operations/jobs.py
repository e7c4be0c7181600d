"""The runs of an experiment as jobs: each run skipped when finished, resumed when begun, else
started; many at a time in local worker processes or Ray tasks.

A job carries plain values only (paths, overrides, seeds), so that it crosses to a worker process or
a Ray task; its outcome comes back as text, as an exception might not unpickle on the other side.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from populace.errors import PopulaceError, RunError
from populace.runs import MANIFEST, Run

#: what happened to a run: run to its end here, resumed from a checkpoint, already finished
DONE, RESUMED, SKIPPED = "done", "resumed", "skipped"


@dataclass(frozen=True)
class Job:
    """One run of an experiment, as a worker process or Ray task needs it (plain, picklable values)."""

    folder: str
    run_id: str
    seed: int
    overrides: tuple[str, ...]
    scenario: str = ""  # a new run of this scenario, with ``seed``
    parent: str = ""  # or a fork of this run at ``at``, drawing afresh with ``seed``
    at: int = 0
    interventions: tuple[str, ...] = ()


def finished(run_path: Path) -> bool:
    """Whether a run directory holds a completed run."""
    if not (run_path / MANIFEST).is_file():
        return False
    try:
        manifest = Run(run_path).manifest()
    except RunError:
        return False
    return manifest.get("status") == "completed" and int(manifest.get("steps_done") or 0) >= int(
        manifest.get("steps") or 0)


def run_job(job: Job) -> tuple[str, str]:
    """Run one run of an experiment in this process: skip it when finished, resume it when begun,
    else start it. Returns its id and what happened (:data:`DONE`, :data:`RESUMED`, :data:`SKIPPED`,
    or ``failed: <reason>``); a PopulaceError is returned, not raised, as it must cross processes."""
    from populace.operations.fork import fork, resume_branch
    from populace.simulation import Simulation

    path = Path(job.folder) / job.run_id
    try:
        if finished(path):
            return job.run_id, SKIPPED
        begun = (path / MANIFEST).is_file() and Run(path).manifest().get("status") != "created"
        if begun:
            sim = resume_branch(path) if job.parent else Simulation.resume(path)
            outcome = RESUMED
        else:  # nothing recorded yet (or a fork killed while being made): start afresh
            shutil.rmtree(path, ignore_errors=True)
            if job.parent:
                sim = fork(job.parent, job.at, job.overrides, job.interventions, Path(job.folder), reseed=job.seed,
                           name=job.run_id)
            else:
                sim = Simulation.from_scenario(job.scenario, [*job.overrides, f"seed={job.seed}"], Path(job.folder),
                                               name=job.run_id)
            outcome = DONE
        sim.run()
    except PopulaceError as exc:
        lines = str(exc).strip().splitlines()
        return job.run_id, f"failed: {lines[0] if lines else type(exc).__name__}"
    return job.run_id, outcome


def _follow_parent(parent: int) -> None:
    """In a worker process: exit when the experiment's process is gone (killed), so that no orphan
    goes on writing a run that a rerun resumes."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="populace-follow-parent", daemon=True).start()


def _said(exc: BaseException) -> str:
    """An exception in one line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def execute(jobs: Sequence[Job], executor: str = "local", workers: int | None = None,
            address: str | None = None) -> Iterator[tuple[str, str]]:
    """Run ``jobs``, ``workers`` at a time (default: the CPU cores), in local worker processes (in
    this process when one at a time) or Ray tasks; yields each one's (run id, outcome) as it ends.
    A worker that dies fails its run (``failed: ...``), never the others' accounting."""
    if not jobs:
        return
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if executor == "ray":
        yield from _execute_ray(jobs, workers, address)
    elif workers == 1:
        for job in jobs:
            yield run_job(job)
    else:
        yield from _execute_local(jobs, workers)


def _execute_local(jobs: Sequence[Job], workers: int) -> Iterator[tuple[str, str]]:
    """The jobs in ``workers`` worker processes, started fresh (spawn, not fork: this process may
    hold threads, DuckDB's or a trace writer's, that a fork would copy mid-flight)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_follow_parent, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # the worker died (a crash in native code, a kill): the run resumes later
                yield futures[future].run_id, f"failed: its worker process died ({_said(exc)})"


def _execute_ray(jobs: Sequence[Job], workers: int, address: str | None) -> Iterator[tuple[str, str]]:
    """One Ray task per run, at most ``workers`` at a time."""
    from populace.execution.raycluster import _ray

    ray = _ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, num_cpus=workers if address is None else None,
                     include_dashboard=False, log_to_driver=False, configure_logging=False)
        except Exception as exc:  # ConnectionError and Ray's own errors for a bad address
            raise PopulaceError(f"cannot reach the Ray cluster at {address or 'local'}: {exc}") from None
    try:
        task = ray.remote(num_cpus=1)(run_job)
        waiting = list(jobs)
        running: dict[Any, Job] = {}  # Ray object ref -> its job
        while waiting or running:
            while waiting and len(running) < workers:
                job = waiting.pop(0)
                running[task.remote(job)] = job
            (ready,), _ = ray.wait(list(running), num_returns=1)
            job = running.pop(ready)
            try:
                yield ray.get(ready)
            except Exception as exc:  # the task's worker died (after Ray's retries): the run resumes later
                yield job.run_id, f"failed: its Ray task died ({_said(exc)})"
    finally:
        if started:
            ray.shutdown()

