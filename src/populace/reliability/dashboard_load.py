"""Load on the live dashboard: many readers polling a run while it runs, and what it costs the run.

A run (``populace run`` in a subprocess) and its dashboard (``populace dashboard`` in another)
share the machine; readers poll the dashboard's JSON endpoints as the page does (every 2 s:
progress, series, feed, agents). The run's own step time is measured in three phases of equal
length — no readers, readers, no readers again — from its steps table (``wall_s``) and from the
CPU time of its process, so the two baselines show how noisy the machine is.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from populace import layout
from populace.llm.serve import free_port

ENDPOINTS = ("/api/progress", "/api/series", "/api/feed", "/api/agents")
POLL_S = 2.0


@dataclass
class Phase:
    """One measurement window of the run."""

    name: str
    readers: int
    seconds: float
    steps: int  # steps the run finished in the window
    wall_s_per_step: float  # mean of the steps table's wall_s over those steps
    cpu_s_per_step: float  # CPU time of the run's process over the window / steps


@dataclass
class LoadReport:
    """Latency of the dashboard under readers, and the run's step time with and without them."""

    readers: int
    seconds: float
    requests: int
    errors: int
    latency_ms: dict[str, dict[str, float]]  # endpoint -> p50/p95/p99/max
    phases: list[Phase] = field(default_factory=list)

    def _base(self, attr: str) -> float:
        before, after = (getattr(p, attr) for p in self.phases if p.readers == 0)
        return (before + after) / 2

    def degradation(self, attr: str = "wall_s_per_step") -> float:
        """Relative increase of the step time with readers over the mean of the two baselines."""
        loaded = next(getattr(p, attr) for p in self.phases if p.readers > 0)
        return loaded / self._base(attr) - 1

    def noise(self, attr: str = "wall_s_per_step") -> float:
        """Relative difference between the two no-reader baselines."""
        before, after = (getattr(p, attr) for p in self.phases if p.readers == 0)
        return abs(after - before) / self._base(attr)

    def as_dict(self) -> dict[str, Any]:
        cpu = "cpu_s_per_step"
        return {**asdict(self), "degradation_wall": self.degradation(), "degradation_cpu": self.degradation(cpu),
                "noise_wall": self.noise(), "noise_cpu": self.noise(cpu)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _steps_done(run: Path) -> int:
    parts = layout.parts(run, layout.STEPS)
    found = layout.part_steps(parts[-1]) if parts else None
    return found[1] + 1 if found else 0


def _wall(run: Path, first: int, last: int) -> float:
    """Mean ``wall_s`` of steps ``first`` <= step < ``last``."""
    values = []
    for part in layout.parts(run, layout.STEPS):
        table = pq.read_table(part, columns=["step", "wall_s"]).to_pandas()
        values.extend(table.loc[(table["step"] >= first) & (table["step"] < last), "wall_s"].tolist())
    return float(np.mean(values)) if values else float("nan")


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


async def _readers(base: str, readers: int, seconds: float) -> tuple[dict[str, list[float]], int]:
    """``readers`` pollers, each fetching every endpoint once per ``POLL_S``, for ``seconds``."""
    import httpx

    latencies: dict[str, list[float]] = {e: [] for e in ENDPOINTS}
    errors = 0
    deadline = time.monotonic() + seconds

    async def reader(client: httpx.AsyncClient, offset: float) -> None:
        nonlocal errors
        await asyncio.sleep(offset)  # spread the readers over the polling interval
        while time.monotonic() < deadline:
            cycle = time.monotonic()
            for endpoint in ENDPOINTS:
                started = time.perf_counter()
                try:
                    response = await client.get(base + endpoint)
                    response.json()
                    if response.status_code != 200:
                        errors += 1
                except (httpx.HTTPError, ValueError):
                    errors += 1
                latencies[endpoint].append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(max(0.0, POLL_S - (time.monotonic() - cycle)))

    limits = httpx.Limits(max_connections=readers)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        await asyncio.gather(*(reader(client, POLL_S * i / readers) for i in range(readers)))
    return latencies, errors


def dashboard_load(runs_dir: Path, *, readers: int = 50, seconds: float = 60.0, scenario: str = "opinion",
                   overrides: Sequence[str] = ("population.size=1000000", "trace.flush_every=2"),
                   baselines: bool = True) -> LoadReport:
    """Start a long run and its dashboard; measure no readers / ``readers`` / no readers for ``seconds`` each."""
    args = [a for o in (*overrides, "steps=1000000", "trace.checkpoint_every=1000000",
                        "trace.events=rejected") for a in ("--set", o)]
    command = [sys.executable, "-m", "populace", "run", scenario, *args, "--runs-dir", str(runs_dir), "-q"]
    sim = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    board: subprocess.Popen[bytes] | None = None
    try:
        _wait(lambda: runs_dir.is_dir() and any(runs_dir.iterdir()) and _steps_done(next(runs_dir.iterdir())) > 2,
              120, "the run's first steps")
        (run,) = runs_dir.iterdir()
        port = free_port()
        board = subprocess.Popen([sys.executable, "-m", "populace", "dashboard", str(run), "--port", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(base + "/api/progress"), 60, "the dashboard")
        report = LoadReport(readers=readers, seconds=seconds, requests=0, errors=0, latency_ms={})
        plan = [("before", 0), ("readers", readers), ("after", 0)] if baselines else [("readers", readers)]
        for name, count in plan:
            step0, cpu0, t0 = _steps_done(run), _cpu_seconds(sim.pid), time.monotonic()
            if count:
                latencies, errors = asyncio.run(_readers(base, count, seconds))
                report.requests = sum(len(v) for v in latencies.values())
                report.errors = errors
                report.latency_ms = {e: {q: float(np.percentile(v, p)) for q, p in
                                         (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))}
                                     for e, v in latencies.items() if v}
            else:
                time.sleep(seconds)
            step1, cpu1, t1 = _steps_done(run), _cpu_seconds(sim.pid), time.monotonic()
            if sim.poll() is not None:
                raise RuntimeError("the run ended before the measurement did; give it more work")
            done = max(1, step1 - step0)
            report.phases.append(Phase(name, count, t1 - t0, step1 - step0, _wall(run, step0, step1),
                                       (cpu1 - cpu0) / done))
        return report
    finally:
        for proc in (board, sim):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
