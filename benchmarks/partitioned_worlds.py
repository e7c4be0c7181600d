"""Partitioned worlds: the same world whole in the driver, split into regions stepped in this
process, and split into regions stepped in Ray workers.

    python benchmarks/partitioned_worlds.py [--quick]

Rows: the epidemic (rules minds, ``events: none``) at 1M and 8.4M agents and the repeated
Prisoner's Dilemma (tit-for-tat against the scripted opponents) at 1M agents, each

* ``whole``: ``world.partitions: 1``, the local executor (the world steps in the driver);
* ``local xK``: ``world.partitions: K`` with the local executor (the same regions, one process);
* ``ray xK``: the same regions in K Ray actors on this machine's 2 CPUs.

Each row runs in its own process and reports seconds per step (median over the timed steps,
after one warm-up step), the driver's CPU per step, the time to build the run (population,
regions, and for Ray shipping them to the workers), peak memory of the driver and of the Ray
workers (``VmHWM``; Ray's shared object store, which holds the regions' starting states for
recovery, is not in these), and the last step's metrics, so rows with the same partitions can be
checked equal (``same_metrics_as``: ``ray xK`` must list ``local xK``, and partitioned games ``whole``).
Writes ``benchmarks/results/partitioned_worlds.json``; ``--quick`` runs the 1M rows with fewer
steps and writes ``partitioned_worlds-quick.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _results import in_fresh_process, results_file, write_results


def overrides(world: str, agents: int, partitions: int) -> tuple[str, list[str]]:
    common = [f"population.size={agents}", "steps=100000", f"world.partitions={partitions}",
              "trace.events=none", "trace.checkpoint_every=100000", "trace.flush_every=1000", "interventions=[]"]
    if world == "epidemic":
        return "covid", [*common, "world.params.census.neighbourhood_size=20000",
                         "world.params.disease.initial_infected=0.001"]
    return "prisoners-dilemma", [*common, "world.params.rounds=50"]


def _vmhwm_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return 0.0


def measure(world: str, agents: int, partitions: int, executor_name: str, steps: int) -> dict[str, Any]:
    from populace import Simulation
    from populace.execution import LocalExecutor

    executor: Any = LocalExecutor()
    if executor_name == "ray":
        import ray

        from populace.execution.raycluster import RayExecutor

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        executor = RayExecutor()
    scenario, args = overrides(world, agents, partitions)
    started = time.perf_counter()
    sim = Simulation.from_scenario(scenario, args, executor=executor)
    stamps: list[tuple[float, float]] = []
    workers_gb: list[float] = []

    def tick(result: Any) -> None:
        stamps.append((time.perf_counter(), time.process_time()))
        if executor_name == "ray" and result.step == steps:  # the last step: read the workers' peaks
            import ray

            pids = ray.get([actor.pid.remote() for actor in executor.actors])
            workers_gb.extend(_vmhwm_gb(pid) for pid in pids)

    if executor_name == "ray":  # count shipping the regions to the workers as building
        import asyncio

        asyncio.run(sim.start_executor())
    build_s = time.perf_counter() - started
    stamps.append((time.perf_counter(), time.process_time()))
    sim.run(steps=steps + 1, progress=tick)
    timed = list(itertools.pairwise(stamps))[1:]  # after the warm-up step
    walls = [b[0] - a[0] for a, b in timed]
    cpus = [b[1] - a[1] for a, b in timed]
    metrics = sim.metrics().iloc[-1].round(10).to_dict()
    return {
        "world": world, "agents": agents, "partitions": partitions, "executor": executor_name,
        "steps_timed": len(walls), "s_per_step": round(statistics.median(walls), 4),
        "driver_cpu_s_per_step": round(statistics.median(cpus), 4), "build_s": round(build_s, 2),
        "driver_peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "workers_peak_gb": round(sum(workers_gb), 2), "last_metrics": metrics,
    }


CONFIGS = [(1, "local"), (2, "local"), (2, "ray"), (4, "ray")]


def label(row: dict[str, Any]) -> str:
    return "whole" if row["partitions"] == 1 else f"{row['executor']} x{row['partitions']}"


def mark_equal_metrics(rows: list[dict[str, Any]]) -> None:
    """Give each row the runs of the same world and size whose last-step metrics equal its own
    (``ray xK`` must list ``local xK``; partitioned games must list ``whole``)."""
    for row in rows:
        row["same_metrics_as"] = [label(other) for other in rows if other is not row
                                  and (other["world"], other["agents"]) == (row["world"], row["agents"])
                                  and other["last_metrics"] == row["last_metrics"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    if args.one:
        world, agents, partitions, executor = args.one
        print(json.dumps(measure(world, int(agents), int(partitions), executor, args.steps or 5)))
        return
    plan = [("epidemic", 1_000_000), ("games", 200_000)]
    if not args.quick:
        plan.insert(1, ("epidemic", 8_400_000))
    steps = args.steps or (3 if args.quick else 8)
    rows = []
    print(f"{'world':>9} {'agents':>10} {'run':>9} {'s/step':>8} {'cpu':>7} {'build s':>8} {'driver GB':>9} "
          f"{'workers GB':>10}")
    for world, agents in plan:
        for partitions, executor in CONFIGS:
            cmd = [sys.executable, __file__, "--one", world, str(agents), str(partitions), executor,
                   "--steps", str(steps)]
            row = in_fresh_process(cmd)
            rows.append(row)
            print(f"{world:>9} {agents:>10,} {label(row):>9} {row['s_per_step']:>8.3f} "
                  f"{row['driver_cpu_s_per_step']:>7.3f} {row['build_s']:>8.1f} {row['driver_peak_gb']:>9.2f} "
                  f"{row['workers_peak_gb']:>10.2f}", flush=True)
    mark_equal_metrics(rows)
    out = results_file("partitioned_worlds", args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_results(out, {"benchmark": "partitioned_worlds", "steps_timed": steps, "results": rows})  # stamped there
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
