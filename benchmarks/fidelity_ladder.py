"""The fidelity ladder: the calibrated real cascade decided by each mind tier, its error against
the real first hour, and what each tier costs.

The scenario is ``false-business-0``: the 111 users and follow graph of the False_Business_0
rumour, its world (activity, feeds, recommender) and rules policy calibrated on the real cascade's
first hour. Each tier replaces the minds of every user, the world staying as calibrated:

* ``rules``: the calibrated ``misinformation`` policy (what the calibration fitted);
* ``similarity``: MiniLM embeddings of each user's profile against the posts in their feed,
  with the repost weights of the default scenario ``misinformation-mixed`` (not fitted here);
* ``archetype``: the embedded SmolLM2 scores "repost the report" against "keep scrolling" for a
  user's profile and timeline (one call per distinct prompt: here, about one per session);
* ``generative``: the embedded SmolLM2 as a generative agent per user (memory, retrieval; no
  plans), answering with any action the world offers;
* ``openai``: with ``--base-url``, the generative tier on that OpenAI-compatible server.

Per tier: the NRMSE of the rumour's scale (distinct users in its repost tree) against the real
curve, minute by minute, normalised by the real curve's maximum over the same minutes (as OASIS
scores it); the depth reached; model calls, tokens and CPU seconds per simulated hour. The
model-free tiers run the whole first hour with several seeds; the embedded-model tiers run the
first ``--llm-minutes`` minutes (default 3) with one seed, as each of their calls takes seconds
on 2 cores, and their rates per hour are scaled from those minutes. Each run is its own process,
so its CPU seconds (all its threads, the embedded model's included) are its own; an OpenAI
server's own CPU is not counted. Writes ``benchmarks/results/fidelity_ladder.json`` and
``fidelity_ladder.png`` and prints a table.

    .venv/bin/python benchmarks/fidelity_ladder.py                 # every tier (about 30-60 min on 2 cores)
    .venv/bin/python benchmarks/fidelity_ladder.py --quick         # rules and similarity, 2 seeds
    .venv/bin/python benchmarks/fidelity_ladder.py --base-url http://127.0.0.1:8080/v1 --model NAME
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import DIRECTORY, in_fresh_process, results_file, write_results

HERE = Path(__file__).resolve().parent
SCENARIO = "false-business-0"
REAL = "data/false_business_0_first_hour.csv"
ARCHETYPE = {
    "type": "archetype",
    "prompt": "You are a Twitter user. Your profile: {persona.description}\nYour timeline:\n{obs.feed}\n"
              "What do you do now? {options}",
    "options": {"repost the amazon store report": {"action": "repost", "args": {"post_id": 0}},
                "keep scrolling": None},
}
GENERATIVE = {"type": "generative", "persona": "{persona.description}", "observation": "{obs.feed}",
              "encoder": "minilm", "plan": False, "top_k": 3, "max_tokens": 60}
SIMILARITY = {
    "type": "similarity", "interests": "{persona.description}", "content": "feed_items", "popularity": "likes",
    "age": "age", "half_life": "6h",
    "options": {"repost": {"action": "repost", "args": {"post_id": "item.post"}}},
    "weights": {"repost": {"bias": -4.5, "similarity": 8.0, "popularity": 0.5, "recency": 1.0}},
}


def tiers(base_url: str | None, model: str | None) -> dict[str, dict[str, Any]]:
    """Each tier: the overrides that make it, and whether it asks a language model."""
    embedded = {"backend": "embedded", "threads": 2}
    out: dict[str, dict[str, Any]] = {
        "rules": {"minds": None, "model": None},
        "similarity": {"minds": [SIMILARITY], "model": None},
        "archetype": {"minds": [ARCHETYPE], "model": embedded},
        "generative": {"minds": [GENERATIVE], "model": embedded},
    }
    if base_url:
        out["openai"] = {"minds": [GENERATIVE], "model": {"backend": "openai", "base_url": base_url,
                                                           "model": model or "default"}}
    return out


def real_scale() -> np.ndarray:
    """The real cascade's scale at minutes 0-59 (what the calibration fitted)."""
    from populace.scenario import scenarios_dir

    rows = np.loadtxt(scenarios_dir() / REAL, delimiter=",", skiprows=1)
    return rows[:, 1]


def nrmse(simulated: np.ndarray, real: np.ndarray, minutes: int) -> float:
    """Over minutes 1..``minutes`` that the real curve has (minute m is the state after step m - 1;
    the real curve holds minutes 0-59), over the real maximum in that window."""
    from populace.operations.targets import nrmse as score_against

    n = min(minutes, len(simulated), len(real) - 1)
    return score_against(simulated[:n], real[1:n + 1])


def score(row: dict[str, Any], real: np.ndarray, common: int) -> None:
    """A tier's errors from its mean curve: over its own minutes, its first 10, and ``common``
    minutes that every tier of the table ran (the only window where the tiers compare)."""
    scale = np.asarray(row["scale_curve"])
    row["nrmse_scale"] = nrmse(scale, real, row["minutes"])
    row["nrmse_scale_first_10_min"] = nrmse(scale, real, min(10, row["minutes"]))
    row["common_minutes"] = common
    row["nrmse_scale_common"] = nrmse(scale, real, common)


def one(tier: str, minutes: int, seed: int, base_url: str | None, model: str | None) -> dict[str, Any]:
    """Run one tier for ``minutes`` simulated minutes in this process; what it measured."""
    from populace.simulation import Simulation

    spec = tiers(base_url, model)[tier]
    overrides = [f"steps={minutes}", f"seed={seed}", "trace.events=none"]
    if spec["minds"] is not None:
        overrides.append("minds=" + json.dumps(spec["minds"]))
    if spec["model"] is not None:
        overrides.append("model=" + json.dumps(spec["model"]))
    with tempfile.TemporaryDirectory() as runs:  # a fresh response cache: every call is made
        cpu, wall = time.process_time(), time.perf_counter()
        sim = Simulation.from_scenario(SCENARIO, overrides, runs_dir=Path(runs))
        sim.run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        metrics = sim.metrics()
    return {"tier": tier, "seed": seed, "minutes": minutes, "cpu_s": cpu, "wall_s": wall,
            "calls": sim.spent.calls, "tokens": sim.spent.tokens,
            "scale": metrics["cascade_scale"].tolist(), "depth": metrics["cascade_depth"].tolist()}


def measure(tier: str, minutes: int, seeds: list[int], base_url: str | None, model: str | None) -> dict[str, Any]:
    """A tier over ``seeds``, each in a fresh process: errors against the real curve and costs per hour."""
    runs = []
    for seed in seeds:
        argv = [sys.executable, str(Path(__file__).resolve()), "--one", tier, "--minutes", str(minutes),
                "--seed", str(seed), *(["--base-url", base_url] if base_url else []),
                *(["--model", model] if model else [])]
        runs.append(in_fresh_process(argv))
        print(f"  {tier} seed {seed}: {runs[-1]['wall_s']:.0f} s", file=sys.stderr, flush=True)
    real = real_scale()
    scale = np.mean([r["scale"] for r in runs], axis=0)
    per_hour = 60.0 / minutes
    row = {
        "tier": tier, "minutes": minutes, "seeds": seeds,
        "scale_at_end": float(scale[-1]), "real_scale_at_end": float(real[minutes - 1]),
        "depth_reached": max(max(r["depth"]) for r in runs),
        "minute_depth_2": _first(np.mean([r["depth"] for r in runs], axis=0) >= 2),
        "calls_per_hour": float(np.mean([r["calls"] for r in runs]) * per_hour),
        "tokens_per_hour": float(np.mean([r["tokens"] for r in runs]) * per_hour),
        "cpu_s_per_hour": float(np.mean([r["cpu_s"] for r in runs]) * per_hour),
        "wall_s": float(np.mean([r["wall_s"] for r in runs])),
        "scale_curve": scale.round(3).tolist(),
    }
    return row


def _first(mask: np.ndarray) -> int | None:
    """The minute (1-based: after that many steps) at which ``mask`` first holds, None if never."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) + 1 if len(hits) else None


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    """Error against CPU cost per simulated hour, one point per tier."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for i, row in enumerate(rows):
        ax.plot(row["cpu_s_per_hour"], row["nrmse_scale_common"], "os^Dv"[i % 5], ms=8, label=(
            f"{row['tier']} ({row['minutes']} min, {len(row['seeds'])} seed{'s' * (len(row['seeds']) > 1)})"))
    ax.set_xscale("log")
    ax.set_xlabel("CPU seconds per simulated hour (log)")
    ax.set_ylabel(f"NRMSE of cascade scale, minutes 1-{rows[0]['common_minutes']}")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.25)
    ax.set_title("False_Business_0: error against the real cascade, and cost", loc="left", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="rules and similarity only, 2 seeds")
    parser.add_argument("--seeds", type=int, default=4, help="seeds of the model-free tiers")
    parser.add_argument("--llm-minutes", type=int, default=3, help="simulated minutes of the model tiers")
    parser.add_argument("--tiers", help="comma-separated tiers to run (default: all)")
    parser.add_argument("--base-url", help="an OpenAI-compatible server for the openai tier")
    parser.add_argument("--model", help="the model name the server serves")
    parser.add_argument("--rescore", action="store_true",
                        help="recompute the errors, table and plot from the written JSON (no runs)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--minutes", type=int, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.minutes, args.seed, args.base_url, args.model)))
        return
    out = results_file("fidelity_ladder", args.quick)
    if args.rescore:
        rows = json.loads(out.read_text(encoding="utf-8"))["tiers"]
        report(rows, out, args.quick)
        return
    chosen = list(tiers(args.base_url, args.model))
    if args.quick:
        chosen = ["rules", "similarity"]
    if args.tiers:
        chosen = [t.strip() for t in args.tiers.split(",")]
    seeds = list(range(1, 1 + (2 if args.quick else args.seeds)))
    rows = []
    for tier in chosen:
        model_tier = tiers(args.base_url, args.model)[tier]["model"] is not None
        minutes = args.llm_minutes if model_tier else 60
        rows.append(measure(tier, minutes, seeds[:1] if model_tier else seeds, args.base_url, args.model))
    report(rows, out, args.quick)


def report(rows: list[dict[str, Any]], out: Path, quick: bool) -> None:
    """Score every tier, print the table, write the JSON and the plot."""
    real = real_scale()
    common = min(r["minutes"] for r in rows)
    for row in rows:
        score(row, real, common)
    print(f"{'tier':<11} {'minutes':>7} {'seeds':>5} {'NRMSE':>6} {'first 10 min':>12} {f'first {common} min':>12} "
          f"{'depth':>5} {'calls/h':>8} {'tokens/h':>10} {'CPU s/h':>9}")
    for r in rows:
        print(f"{r['tier']:<11} {r['minutes']:>7} {len(r['seeds']):>5} {r['nrmse_scale']:>6.3f} "
              f"{r['nrmse_scale_first_10_min']:>12.3f} {r['nrmse_scale_common']:>12.3f} {r['depth_reached']:>5.0f} "
              f"{r['calls_per_hour']:>8,.0f} {r['tokens_per_hour']:>10,.0f} {r['cpu_s_per_hour']:>9,.1f}")
    write_results(out, {"scenario": SCENARIO, "real": REAL, "tiers": rows})
    image = DIRECTORY / ("fidelity_ladder-quick.png" if quick else "fidelity_ladder.png")
    plot(rows, image)
    print(f"wrote {out} and {image}")
    if any(math.isnan(r["nrmse_scale"]) for r in rows):
        raise SystemExit("a tier produced no curve")


if __name__ == "__main__":
    main()
