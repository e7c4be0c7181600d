"""Reading and measuring a run: trace parsing, analysis functions, the HTML report, the dashboard's
JSON and a fork, on a wealth run of 10,000 agents x 20 steps (~130k events) and on a synthetic
forest of repost cascades.

Run: ``.venv/bin/python benchmarks/report_analysis.py [--quick]``
Writes ``benchmarks/results/report_analysis.json`` and prints a table.
"""

from __future__ import annotations

import platform
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _results import results_file, write_results

from populace import Simulation, analysis
from populace.operations.fork import fork
from populace.report import write_report
from populace.report.dashboard import RunView

SCRATCH = Path(__file__).parent / ".scratch" / "report_analysis"


def timed(name: str, size: int, unit: str, call: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    return {"case": name, "size": size, "unit": unit, "seconds": round(seconds, 3),
            "per_s": int(size / seconds) if seconds else None}


def cascade_forest(posts: int, rng: np.random.Generator) -> pd.DataFrame:
    """Originals (1 in 20) and reposts of a uniformly random earlier post."""
    parent = np.where(rng.random(posts) < 0.05, -1, (rng.random(posts) * np.arange(posts)).astype(np.int64))
    parent[0] = -1
    return pd.DataFrame({"post": np.arange(posts), "parent": [None if p < 0 else int(p) for p in parent],
                         "step": np.arange(posts) // 1000})


def main() -> None:
    quick = "--quick" in sys.argv
    out = results_file("report_analysis", quick)
    agents, steps = (2_000, 10) if quick else (10_000, 20)
    shutil.rmtree(SCRATCH, ignore_errors=True)
    sim = Simulation.from_scenario("wealth", [f"population.size={agents}", f"steps={steps}",
                                              f"trace.checkpoint_every={steps // 2}"], SCRATCH).run()
    assert sim.path is not None
    run = sim.path
    n_events = analysis.read_arrow(run, "events").num_rows
    ev = analysis.events(run)
    rows = [
        timed("events: read + parse JSON args", n_events, "events", lambda: analysis.events(run)),
        timed("actions_per_step", n_events, "events", lambda: analysis.actions_per_step(ev)),
        timed("states + gini_over_time (2 checkpoints)", 2 * agents, "agent-states",
              lambda: analysis.gini_over_time(analysis.states(run, "wealth"))),
        timed("write_report", n_events, "events", lambda: write_report(run)),
        timed("dashboard /api/series (cold)", n_events, "events", lambda: RunView(run).series()),
        timed(f"fork at step {steps // 2} + run to the end", agents * (steps - steps // 2), "agent-steps",
              lambda: fork(run, steps // 2).run()),
    ]
    posts = 20_000 if quick else 100_000
    forest = cascade_forest(posts, np.random.default_rng(0))
    rows.append(timed("cascades (scale, depth, breadth, virality)", posts, "posts",
                      lambda: analysis.cascades(forest)))
    rows.append(timed("cascade_growth", posts, "posts", lambda: analysis.cascade_growth(forest)))
    report_kib = (run / "report.html").stat().st_size // 1024
    shutil.rmtree(SCRATCH, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_results(out, {
        "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "quick": quick, "agents": agents, "steps": steps,
        "report_kib": report_kib, "results": rows})
    print(f"{'case':46} {'size':>9} {'unit':>12} {'seconds':>8} {'per s':>12}")
    for r in rows:
        print(f"{r['case']:46} {r['size']:>9,} {r['unit']:>12} {r['seconds']:>8} {r['per_s'] or 0:>12,}")
    print(f"report.html: {report_kib} KiB")


if __name__ == "__main__":
    main()
