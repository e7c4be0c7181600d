"""Cooperation worlds (games, donor, commons, debate) with rules minds: agent-steps per second.

Each world runs through the full engine (Simulation: observe with its text columns, decide,
validate, apply, tick, metrics; trace with ``events: none``) at a small published size and at a
larger one, and the games world also through the PettingZoo adapter. Text observations (game
histories, transcripts) are built for every observed agent every step, so these numbers include
the cost a language-model mind's prompts would need.

Run: ``.venv/bin/python benchmarks/cooperation_worlds.py``
Writes ``benchmarks/results/cooperation_worlds.json`` and prints a table.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from _results import results_file, write_results

from populace import Population, Simulation, load_scenario

CASES: list[tuple[str, int, list[str]]] = [
    ("prisoners-dilemma", 10, []),
    ("prisoners-dilemma", 10_000, ["minds=[{type: rules, policy: tit_for_tat}]"]),
    ("donor-game", 12, []),
    ("donor-game", 10_000, ["steps=24"]),
    ("fishery", 5, []),
    ("fishery", 10_000, ["minds=[{type: rules, policy: sustainable_harvest}]", "schedule.order=simultaneous"]),
    ("debate", 24, []),
    ("debate", 10_000, []),
]


def engine(name: str, size: int, overrides: list[str]) -> dict[str, Any]:
    scenario = load_scenario(name, [f"population.size={size}", "trace.events=none", *overrides])
    sim = Simulation(scenario)
    start = time.perf_counter()
    sim.run()
    seconds = time.perf_counter() - start
    return {"case": f"{name} (engine)", "agents": size, "steps": scenario.steps, "seconds": round(seconds, 3),
            "agent_steps_per_s": round(size * scenario.steps / seconds)}


def adapter(size: int) -> dict[str, Any]:
    from populace.adapters.pettingzoo import WorldParallelEnv
    from populace.worlds.games.matrix import MatrixGameWorld

    env = WorldParallelEnv(MatrixGameWorld(Population(size=size)), reward="score", max_steps=10, text_info=False)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    steps = 0
    while env.agents:
        env.step({a: int(x) for a, x in zip(env.agents, rng.integers(0, 2, len(env.agents)), strict=True)})
        steps += 1
    seconds = time.perf_counter() - start
    return {"case": "games (PettingZoo adapter)", "agents": size, "steps": steps, "seconds": round(seconds, 3),
            "agent_steps_per_s": round(size * steps / seconds)}


def main() -> None:
    quick = "--quick" in sys.argv  # the same cases; written beside the committed results
    out = results_file("cooperation_worlds", quick)
    rows = [engine(*case) for case in CASES] + [adapter(2), adapter(1000)]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_results(out, {"results": rows})
    print(f"{'case':32} {'agents':>8} {'steps':>6} {'seconds':>8} {'agent-steps/s':>14}")
    for r in rows:
        print(f"{r['case']:32} {r['agents']:>8} {r['steps']:>6} {r['seconds']:>8} {r['agent_steps_per_s']:>14,}")


if __name__ == "__main__":
    main()
