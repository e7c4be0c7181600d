"""Seconds per step against population size for every world, with the log-log slope, plotted.

    python benchmarks/scaling.py [--quick]

Each world runs its built-in scenario with ``population.size`` overridden, rules minds, and
``trace.events: none`` (the world and minds only; the trace's cost is measured in engine.py).
A slope near 1 is linear; above ~1.15 cost grows faster than the population (see README).
Writes ``benchmarks/results/scaling.json`` and ``scaling.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results

from populace import Simulation, load_scenario

RESULTS = Path(__file__).with_name("results")

#: world label -> (scenario, overrides as a function of n)
CASES: dict[str, tuple[str, Any]] = {
    "wealth": ("wealth", lambda n: []),
    "opinion": ("opinion", lambda n: ["interventions=[]", "schedule.activity=always"]),
    "social (echo-chamber feed)": ("polarization", lambda n: []),
    "social (interest feed)": ("polarization", lambda n: ["world.params.recommender.type=interest"]),
    "social (reddit hot)": ("herd-effect", lambda n: []),
    "epidemic": ("covid", lambda n: ["interventions=[]"]),
    "games": ("prisoners-dilemma", lambda n: []),
    "donor": ("donor-game", lambda n: []),
    "commons": ("fishery", lambda n: []),
    "debate": ("debate", lambda n: []),
    "grid": ("swarm-foraging", lambda n: [f"world.params.width={_side(n)}", f"world.params.height={_side(n)}"]),
    "economy": ("tax-planner", lambda n: []),
    "market": ("marketplace", lambda n: []),
    "stock market": ("stock-market", lambda n: []),
}


def _side(n: int) -> int:
    return max(10, math.ceil(math.sqrt(n * 10)))  # 10 % of the cells occupied


async def _time_steps(sim: Simulation, steps: int, budget: float) -> list[float]:
    await sim.executor.start(sim.minds, sim.context)
    sim._executor_started = True
    times: list[float] = []
    started = time.perf_counter()
    try:
        for _ in range(steps):
            t0 = time.perf_counter()
            await sim.astep()
            times.append(time.perf_counter() - t0)
            if time.perf_counter() - started > budget:
                break
    finally:
        await sim.executor.close()
    return times


def measure(scenario: str, overrides: list[str], n: int, steps: int, budget: float) -> dict[str, Any]:
    sc = load_scenario(scenario, [f"population.size={n}", "trace.events=none", f"steps={steps + 1}",
                                  "trace.checkpoint_every=100000", "trace.flush_every=100000", *overrides])
    t0 = time.perf_counter()
    sim = Simulation(sc)
    build = time.perf_counter() - t0
    times = asyncio.run(_time_steps(sim, steps + 1, budget))
    timed = times[1:] or times  # the first step warms caches
    return {"n": n, "build_s": build, "s_per_step": statistics.median(timed), "steps_timed": len(timed)}


def slope(rows: list[dict[str, Any]]) -> float | None:
    points = [(math.log(r["n"]), math.log(r["s_per_step"])) for r in rows if r.get("s_per_step", 0) > 0]
    if len(points) < 2:
        return None
    x, y = np.asarray(points).T
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worlds", nargs="*", default=list(CASES))
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    steps, budget = (3, 20.0) if args.quick else (5, 60.0)
    curves: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for label in args.worlds:
        scenario, extra = CASES[label]
        points: list[dict[str, Any]] = []
        for n in sizes:
            try:
                point = measure(scenario, extra(n), n, steps, budget)
            except Exception as exc:  # a world that cannot take this size: recorded, not fatal
                points.append({"n": n, "error": f"{type(exc).__name__}: {str(exc)[:120]}"})
                break
            points.append(point)
            print(f"{label:24s} n={n:>8,d}  {point['s_per_step'] * 1000:9.2f} ms/step  build {point['build_s']:.2f} s",
                  flush=True)
            if point["s_per_step"] > budget / 4:
                break  # the next size would not fit the time budget
        good = [p for p in points if "s_per_step" in p]
        curves[label] = {"scenario": scenario, "points": points, "slope": slope(good)}
        for p in good:
            rows.append({"world": label, "n": p["n"], "ms_per_step": round(p["s_per_step"] * 1000, 3),
                         "us_per_agent_step": round(p["s_per_step"] / p["n"] * 1e6, 3),
                         "slope": None if curves[label]["slope"] is None else round(curves[label]["slope"], 2)})
    result = {
        "benchmark": "scaling", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "quick": args.quick, "trace_events": "none", "rows": rows, "curves": curves,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "scaling-quick" if args.quick else "scaling"  # quick runs never overwrite the committed results
    merge_earlier(RESULTS / f"{stem}.json", result)
    curves = result["curves"]
    write_results(RESULTS / f"{stem}.json", result)
    _plot(curves, RESULTS / f"{stem}.png")
    print(f"\n{'world':24s} {'slope':>6s}  (seconds per step ~ N^slope)")
    for label, curve in curves.items():
        s = curve["slope"]
        print(f"{label:24s} {'-' if s is None else f'{s:6.2f}'}{'  superlinear' if s and s > 1.15 else ''}")


def merge_earlier(path: Path, result: dict[str, Any]) -> None:
    """Keep the earlier results of the worlds this run did not measure (``--worlds`` picks some),
    each with the date it was measured."""
    if not path.exists():
        return
    earlier = json.loads(path.read_text())
    measured = set(result["curves"])
    kept = {label: {"measured": earlier.get("date"), **curve} for label, curve in earlier.get("curves", {}).items()
            if label not in measured}
    result["curves"] = {**kept, **result["curves"]}
    result["rows"] = [row for row in earlier.get("rows", []) if row["world"] in kept] + result["rows"]


def _plot(curves: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    colours = plt.get_cmap("tab20").colors
    markers = "osD^v<>phX*P8"
    for i, (label, curve) in enumerate(curves.items()):
        good = [p for p in curve["points"] if "s_per_step" in p]
        if good:
            ax.loglog([p["n"] for p in good], [p["s_per_step"] for p in good], marker=markers[i % len(markers)],
                      color=colours[(2 * i) % 20 + (i // 10)], label=label)
    ax.set_xlabel("agents")
    ax.set_ylabel("seconds per step")
    ax.set_title("populace: seconds per step against population (rules minds, no event trace)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
