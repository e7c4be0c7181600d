"""The executor's own overhead: the same sharded run with the local and the Ray executor.

    python benchmarks/executor_overhead.py [--quick]

Runs the opinion world with rules minds split into shards (so both executors run the same
shards), trace off, and reports seconds per step for each executor, the per-step overhead of
Ray (shipping observations to actors and actions back) and whether both gave identical events
(checked on a smaller run with the full trace). Writes ``benchmarks/results/executor_overhead.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _results import write_results

RESULTS = Path(__file__).with_name("results")


def run(n: int, steps: int, shards: int, executor: Any, events: str = "none") -> tuple[float, Any]:
    from populace import Simulation

    overrides = [f"population.size={n}", f"steps={steps}", "interventions=[]", "schedule.activity=always",
                 f"minds.0.shards={shards}", f"minds.1.shards={shards}", f"trace.events={events}",
                 "trace.checkpoint_every=100000"]
    sim = Simulation.from_scenario("opinion", overrides, executor=executor)
    started = time.perf_counter()
    sim.run()
    return (time.perf_counter() - started) / steps, sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import ray

    from populace.execution import LocalExecutor
    from populace.execution.raycluster import RayExecutor

    sizes = [10_000] if args.quick else [10_000, 100_000]
    steps, shards = (10, 2) if args.quick else (20, 2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    rows = []
    try:
        _, local_small = run(2_000, 10, shards, LocalExecutor(), events="all")
        _, ray_small = run(2_000, 10, shards, RayExecutor(), events="all")
        identical = bool(ray_small.events().equals(local_small.events()))
        for n in sizes:
            local, _ = run(n, steps, shards, LocalExecutor())
            remote, _ = run(n, steps, shards, RayExecutor())
            rows.append({"n": n, "shards": shards, "local_s_per_step": round(local, 5),
                         "ray_s_per_step": round(remote, 5),
                         "ray_overhead_ms_per_step": round((remote - local) * 1e3, 2),
                         "ratio": round(remote / local, 2), "identical_events": identical})
            print(f"n={n:>8,d}  local {local * 1e3:8.2f} ms/step  ray {remote * 1e3:8.2f} ms/step  "
                  f"overhead {(remote - local) * 1e3:7.2f} ms/step  identical={identical}", flush=True)
    finally:
        ray.shutdown()
    result = {
        "benchmark": "executor_overhead", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average": os.getloadavg()},
        "note": "rules minds, so this is the executor's own cost; model-driven minds add their model time to both",
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "executor_overhead-quick" if args.quick else "executor_overhead"
    write_results(RESULTS / f"{stem}.json", result)


if __name__ == "__main__":
    main()
