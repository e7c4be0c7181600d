"""What a checkpoint costs: the wealth model at 100k and 1M agents, one step and the checkpoint a run
takes when it pauses after it (since snapshots: the pickled state and the per-agent Parquet
snapshot), and the run's peak memory over the process's after its imports (the model built, six
steps, two checkpoints).

    .venv/bin/python benchmarks/checkpoint_cost.py                       # this tree
    .venv/bin/python benchmarks/checkpoint_cost.py --baseline 17ae9c4    # and a git revision beside it

Each measurement runs in a fresh process (its memory peak its own), three times; the median is
kept. Results go to ``benchmarks/results/checkpoint_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import in_fresh_process, results_file, write_results
from engine import ROOT, SCENARIO, export_source

SIZES = (100_000, 1_000_000)


def work(n: int) -> dict[str, Any]:
    """In this process: five steps (and the checkpoint as they pause), then one step and its pause
    checkpoint, timed; and the run's peak memory over the process's after imports."""
    from populace import Simulation, load_scenario

    Simulation(load_scenario(SCENARIO, ["population.size=10", "steps=2"])).run()  # imports off the books
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as runs:
        sim = Simulation.from_scenario(SCENARIO, [f"population.size={n}", "steps=100", "trace.events=none",
                                                  "trace.checkpoint_every=100000"], runs_dir=Path(runs))
        sim.run(5)
        wall, cpu = time.perf_counter(), time.process_time()
        sim.run(1)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        files = {p.name: p.stat().st_size for p in Path(runs).rglob("*") if p.is_file() and p.parent.name in
                 ("checkpoints", "snapshots") and p.stem.startswith("00000006")}
    return {"n": n, "wall_s": wall, "cpu_s": cpu, "peak_mb": (peak - before) / 1024, "files": files}


def measure(label: str, n: int, source: Path | None, repeat: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(source if source is not None else ROOT / "src"))
    runs = [in_fresh_process([sys.executable, __file__, "--worker", str(n)], env=env) for _ in range(repeat)]
    row = {"tree": label, "agents": n, **{k: statistics.median(r[k] for r in runs)
                                        for k in ("wall_s", "cpu_s", "peak_mb")}, "files": runs[0]["files"]}
    print(f"{label:<22} {n:>9,} {row['wall_s']:>8.3f} s {row['cpu_s']:>8.3f} s cpu "
          f"{row['peak_mb']:>7.1f} MB  {', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in row['files'].items())}",
          flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REF", help="also measure this git revision")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(work(args.worker)))
        return
    baseline = export_source(args.baseline) if args.baseline else None
    print(f"{'tree':<22} {'agents':>9} {'a step and its checkpoint':>26} {'peak':>11}  files")
    rows = []
    for n in SIZES:
        rows.append(measure("this tree", n, None, args.repeat))
        if baseline is not None:
            rows.append(measure(f"populace@{baseline[0]}", n, baseline[1], args.repeat))
    out = results_file("checkpoint_cost", False)
    write_results(out, {"baseline": baseline[0] if baseline else None, "rows": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
