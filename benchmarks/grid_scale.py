"""Grid world at scale: rule-driven agents on a 1000×1000 grid, agent-steps per second.

Three paths per size: the world driven directly (observe -> policy -> apply -> tick), and the
engine (``Simulation``) with ``trace.events=none`` and with every event recorded. Writes
``benchmarks/results/grid_scale.json`` and prints a table.

    .venv/bin/python benchmarks/grid_scale.py            # 10k and 100k agents
    .venv/bin/python benchmarks/grid_scale.py --quick    # 10k only
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from typing import Any

import numpy as np
from _results import results_file, write_results

from populace import Simulation, load_scenario
from populace.minds.rules import RulesMind
from populace.population import Population
from populace.worlds.grid import GridWorld

SIDE = 1000


def scenario(n: int, events: str, text: bool, steps: int) -> dict[str, Any]:
    return {
        "name": "grid-scale", "seed": 0, "steps": steps, "population": {"size": n},
        "world": {"type": "grid", "params": {"task": "foraging", "width": SIDE, "height": SIDE, "text": text}},
        "minds": [{"type": "rules", "policy": "swarm_random_walk"}],
        "trace": {"events": events, "flush_every": 1000, "checkpoint_every": 1000},
    }


def direct(n: int, steps: int, text: bool) -> tuple[float, float]:
    """(wall, CPU) seconds per step with the world driven by hand (no engine, no trace)."""
    world = GridWorld(Population(size=n), {"task": "foraging", "width": SIDE, "height": SIDE, "text": text})
    world.reset(0)
    mind = RulesMind(world.population, world.action_space, {"policy": "swarm_random_walk"},
                     rng=np.random.default_rng(0))
    ids = np.arange(n)

    def step() -> None:
        decisions = asyncio.run(mind.decide(world.observe(ids)))
        world.apply(decisions.actions)
        world.tick()
        world.metrics()

    step()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps, (time.process_time() - cpu) / steps


def engine(n: int, steps: int, events: str, text: bool) -> tuple[float, float]:
    """(wall, CPU) seconds per step through ``Simulation`` (in-memory trace)."""
    sim = Simulation(load_scenario(scenario(n, events, text, steps + 1)))
    sim.run(steps=1)  # warm-up step
    started, cpu = time.perf_counter(), time.process_time()
    sim.run(steps=steps)
    return (time.perf_counter() - started) / steps, (time.process_time() - cpu) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k agents only")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    out = results_file("grid_scale", args.quick)
    sizes = [10_000] if args.quick else [10_000, 100_000]
    rows = []
    for n in sizes:
        for path, text, run in [
            ("world directly", False, lambda n=n: direct(n, args.steps, False)),
            ("Simulation, events=none", False, lambda n=n: engine(n, args.steps, "none", False)),
            ("Simulation, events=none, text views", True, lambda n=n: engine(n, args.steps, "none", True)),
            ("Simulation, events=all", False, lambda n=n: engine(n, max(2, args.steps // 2), "all", False)),
        ]:
            seconds, cpu = run()
            rows.append({"agents": n, "grid": f"{SIDE}x{SIDE}", "path": path, "text_views": text,
                         "seconds_per_step": round(seconds, 5), "agent_steps_per_s": round(n / seconds),
                         "cpu_seconds_per_step": round(cpu, 5), "agent_steps_per_cpu_s": round(n / cpu)})
    header = f"{'agents':>8}  {'path':<38} {'s/step':>8}  {'agent-steps/s':>14}  {'per CPU-s':>11}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['agents']:>8}  {r['path']:<38} {r['seconds_per_step']:>8.4f}  {r['agent_steps_per_s']:>14,}"
              f"  {r['agent_steps_per_cpu_s']:>11,}")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_results(out, {
        "benchmark": "grid_scale", "task": "foraging", "policy": "swarm_random_walk", "view": 5, "steps": args.steps,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                    "load_average": os.getloadavg()[0]},
        "command": "python benchmarks/grid_scale.py", "rows": rows,
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
