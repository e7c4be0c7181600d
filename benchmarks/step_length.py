"""Step-length invariance: each world's outcome over one simulated span, at its scenario's step and
at finer ones, over the same seeds.

Every duration and rate in these scenarios is simulated time and sessions are a Poisson process in
it, so a run approximates one continuous-time model at any step; what is left of the step is that
a session sees what others did in the same step only at the step's end. The table shows how far
that moves each outcome. ``tests/worlds/test_step_length.py`` holds the coarse and a fine step to
the seed noise on smaller runs.

Run: ``.venv/bin/python benchmarks/step_length.py [--quick]`` (quick: 4 seeds instead of 20)
Writes ``benchmarks/results/step_length.json`` and prints a table.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from _results import results_file, write_results

from populace import Simulation, load_scenario
from populace.clock import parse_duration
from populace.simulation import StepResult

RULES_ONLY = ["world.params.text=false", "trace.events=none"]
#: scenario, outcome, simulated span, steps (the scenario's first), overrides
CASES: list[tuple[str, str, str, list[str], list[str]]] = [
    ("misinformation", "cascade_scale", "24h", ["1h", "10m", "2m"], RULES_ONLY),
    ("polarization", "stance_variance", "40h", ["1h", "10m", "2m"], [*RULES_ONLY, "population.size=250"]),
    ("herd-effect", "herd_up_score", "48h", ["1h", "30m", "15m", "5m"], RULES_ONLY),
    ("opinion", "variance", "96h", ["1h", "10m", "2m"], ["trace.events=none", "population.size=300"]),
    ("party", "density", "36h", ["30m", "10m", "5m"], ["trace.events=none"]),
]


def outcome(scenario: str, metric: str, step: str, steps: int, seed: int, overrides: list[str]) -> float:
    loaded = load_scenario(scenario, [*overrides, f"clock.step={step}", f"steps={steps}", f"seed={seed}"])
    final: dict[str, float] = {}

    def keep(result: StepResult) -> None:
        final.update(result.metrics)

    Simulation(loaded).run(progress=keep)
    return final[metric]


def measure(seeds: int) -> list[dict[str, Any]]:
    rows = []
    for scenario, metric, span, steps, overrides in CASES:
        for step in steps:
            count = round(parse_duration(span) / parse_duration(step))
            start = time.perf_counter()
            values = [outcome(scenario, metric, step, count, seed, overrides) for seed in range(seeds)]
            mean, se = statistics.fmean(values), statistics.stdev(values) / len(values) ** 0.5
            rows.append({"scenario": scenario, "metric": metric, "span": span, "step": step, "steps": count,
                         "seeds": seeds, "mean": round(mean, 4), "se": round(se, 4),
                         "values": [round(v, 4) for v in values],
                         "seconds_per_run": round((time.perf_counter() - start) / seeds, 2)})
            print(f"{scenario:15} {metric:16} {span:>4} {step:>4} {count:5d} steps  {mean:9.4g} ± {se:.2g}",
                  flush=True)
    return rows


def main() -> None:
    quick = "--quick" in sys.argv
    rows = measure(4 if quick else 20)
    write_results(results_file("step_length", quick), {
        "what": "each outcome at the end of the span, mean and standard error over seeds 0..seeds-1",
        "overrides": {scenario: overrides for scenario, _, _, _, overrides in CASES}, "rows": rows})


if __name__ == "__main__":
    main()
