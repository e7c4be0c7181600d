"""Epidemic world at city scale: seconds per simulated day and peak memory at 100k, 1M and 8.4M agents.

Each size runs in its own process (so peak memory is that size's alone) for a few simulated
days through the full engine (Simulation: scheduler, observe, decide, validate, apply, tick,
metrics, trace with ``events: none``). Two minds are measured:

* ``archetype`` -- the archetype mind itself (grouping by the prompt's fields, one ``choose``
  call per group, per-agent sampling), answered in-process by a stand-in model client that
  returns a fixed distribution immediately, so the numbers are the engine's cost without model
  latency;
* ``archetype-lean`` -- the same with a five-field prompt (age group, occupation, case level,
  symptoms, positive test): the grouping cost grows with the number of fields a prompt uses;
* ``rules`` -- the ``epidemic_cautious`` rules policy, which groups the same way without a model.

Run: ``.venv/bin/python benchmarks/epidemic_scale.py [--sizes 100000 1000000 8400000] [--days 5]``
(``--quick``: 100k and 1M agents for 2 days, printed only).
Writes ``benchmarks/results/epidemic_scale.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _results import in_fresh_process, write_results

from populace.llm.base import Choice, Completion, Prompt, Sampling, Usage

RESULTS = Path(__file__).parent / "results" / "epidemic_scale.json"

PROMPT = (
    "You are aged {obs.age_group} and work in {obs.occupation} ({obs.employed}). Reported COVID cases "
    "in your city are {obs.case_level}. Symptoms: {obs.symptoms}. Tested positive: {obs.tested_positive}. "
    "Savings tight: {obs.savings_tight}. Alive: {obs.alive}. What do you do today? Options: {options}."
)
#: five fields instead of eight: fewer columns to group by (dead agents then choose too, and are rejected)
LEAN_PROMPT = (
    "You are aged {obs.age_group} and work in {obs.occupation}. Reported COVID cases in your city are "
    "{obs.case_level}. Symptoms: {obs.symptoms}. Tested positive: {obs.tested_positive}. "
    "What do you do today? Options: {options}."
)
BINS = {
    "obs.age_group": {"edges": [0.5, 1.5, 2.5, 3.5], "labels": ["0-17", "18-29", "30-49", "50-64", "65+"]},
    "obs.occupation": {"edges": [0.5, 1.5, 2.5], "labels": ["no job", "essential work", "office work", "services"]},
    "obs.case_level": {"edges": [0.5, 1.5, 2.5, 3.5], "labels": ["none", "low", "moderate", "high", "very high"]},
}


def scenario(size: int, mind: str) -> dict[str, Any]:
    """The benchmark scenario: NYC-sized neighbourhoods, events not stored, no checkpoints."""
    if mind.startswith("archetype"):
        minds = [{"select": "all", "type": "archetype", "prompt": LEAN_PROMPT if mind == "archetype-lean" else PROMPT,
                  "bins": BINS, "options": ["go_out", "stay_home", "isolate"]}]
    else:
        minds = [{"select": "all", "type": "rules", "policy": "epidemic_cautious", "params": {"caution": 0.05}}]
    return {
        "name": "epidemic-scale", "seed": 1, "steps": 100_000,
        "clock": {"start": "2020-03-01T00:00:00", "step": "1d"},
        "population": {"size": size},
        "world": {"type": "epidemic", "params": {
            "census": {"neighbourhood_size": 20_000}, "disease": {"initial_infected": 0.001},
        }},
        "minds": minds,
        "trace": {"events": "none", "flush_every": 1000, "checkpoint_every": 100_000},
    }


class StandInModel:
    """Answers every ``choose`` at once with a distribution that depends on the prompt's case level."""

    def __init__(self) -> None:
        self.usage = Usage()

    async def choose(self, prompt: Prompt, options: Sequence[str], *, usage: Usage | None = None) -> Choice:
        for counter in (self.usage, usage):
            if counter is not None:
                counter.calls += 1
        text = str(prompt)
        worried = 0.5 if ("high" in text or "Symptoms: True" in text) else 0.1
        p = np.asarray([1 - worried, worried * 0.7, worried * 0.3])
        return Choice(list(options), p, f"r{self.usage.calls}")

    async def complete(self, prompt: Prompt, *, sampling: Sampling | None = None,
                       schema: dict[str, Any] | None = None, usage: Usage | None = None) -> Completion:
        raise NotImplementedError("the benchmark only asks for choices")


def measure(size: int, days: int, mind: str, profile: bool) -> dict[str, Any]:
    """Build and run one size in this process; return timings and peak memory."""
    from populace import Simulation, load_scenario
    from populace.minds.archetype import ArchetypeMind

    started = time.perf_counter()
    sim = Simulation(load_scenario(scenario(size, mind)))
    for m in sim.minds:
        if isinstance(m, ArchetypeMind):
            m.use_model(StandInModel())
    build_s = time.perf_counter() - started
    asyncio.run(sim.arun(1))  # warm-up day (first-call costs)
    profiler = cProfile.Profile() if profile else None
    seconds, cpu = [], []
    for _ in range(days):
        if profiler:
            profiler.enable()
        t, c = time.perf_counter(), time.process_time()
        asyncio.run(sim.arun(1))
        seconds.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if profiler:
            profiler.disable()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    row: dict[str, Any] = {
        "agents": size, "mind": mind, "days": days, "build_s": round(build_s, 2),
        "s_per_day": round(sum(seconds) / len(seconds), 3), "s_per_day_max": round(max(seconds), 3),
        "cpu_s_per_day": round(sum(cpu) / len(cpu), 3),
        "peak_memory_gb": round(peak_kb / 1024**2, 2),
        "groups_per_day": _groups(sim),
        "attack_rate": round(float(sim.world.metrics()["attack_rate"]), 5),
    }
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        row["profile_top"] = [line.strip() for line in out.getvalue().splitlines() if "(" in line][:14]
    return row


def _groups(sim: Any) -> float | None:
    """Distinct groups (= model calls for the archetype mind) per day, averaged over the run."""
    for m in sim.minds:
        client = getattr(m, "_client", None)
        if client is not None:
            return round(client.usage.calls / max(sim.steps_done, 1), 1)
        if "groups" in getattr(m, "census", {}):
            return float(m.census["groups"])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 8_400_000])
    parser.add_argument("--minds", nargs="+", default=["archetype", "archetype-lean", "rules"])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100k and 1M agents, 2 days (results not written)")
    parser.add_argument("--profile", action="store_true", help="record the top functions by own time")
    parser.add_argument("--one", nargs=2, metavar=("SIZE", "MIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.days, args.one[1], args.profile)))
        return
    if args.quick:
        args.sizes, args.days = [100_000, 1_000_000], 2
    rows = []
    for size in args.sizes:
        for mind in args.minds:
            cmd = [sys.executable, __file__, "--one", str(size), mind, "--days", str(args.days)]
            if args.profile:
                cmd.append("--profile")
            row = in_fresh_process(cmd)
            rows.append(row)
            print(f"{row['agents']:>10,} {row['mind']:>10} {row['s_per_day']:>8.2f} s/day "
                  f"(cpu {row['cpu_s_per_day']:.2f}) "
                  f"{row['peak_memory_gb']:>6.2f} GB  groups {row['groups_per_day']}", flush=True)
    if args.quick:
        return  # a quick check never replaces the committed full results
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS, {
        "benchmark": "epidemic_scale",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "notes": "trace.events=none; one process per row; archetype answered by an in-process stand-in "
                 "model (no model latency); s_per_day is wall-clock per simulated day after one warm-up day, "
                 "cpu_s_per_day the process CPU time (less sensitive to other load on a shared machine)",
        "results": rows,
    })
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
