"""Seconds per step of the social world at 1k, 10k and 100k users: rules minds, interest recommender.

Each step a share of users is active; they observe their feeds (followed + interest-ranked posts,
exact top-k over every candidate post of the recency window), decide with the ``browse`` rules
policy, and act. Reported per step: total seconds, the part spent ranking feeds (recommender),
and the rest (observation, decisions, actions, metrics); the process's CPU seconds per step (a
measure that other programs sharing the machine do not inflate); and peak memory.

    .venv/bin/python benchmarks/social_scale.py            # writes benchmarks/results/social_scale.json
    .venv/bin/python benchmarks/social_scale.py --quick    # 1k and 10k only
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
from _results import write_results

from populace import Population
from populace.minds.rules import RulesMind
from populace.worlds.social import SocialWorld
from populace.worlds.social import feeds as feed_module
from populace.worlds.social.policies import TOPICS

RESULTS = Path(__file__).parent / "results" / "social_scale.json"
CASES = [(1_000, 1.0), (10_000, 1.0), (100_000, 0.1)]  # (users, share active per step)


def population(n: int, rng: np.random.Generator) -> Population:
    interests = rng.integers(0, len(TOPICS), (n, 2))
    bios = np.asarray([f"I like {TOPICS[a]} and {TOPICS[b]}" for a, b in interests.tolist()], dtype=object)
    return Population({"bio": bios, "stance": rng.uniform(-1, 1, n)})


def run_case(n: int, active_share: float, steps: int, warmup: int, text: bool) -> dict[str, float]:
    rng = np.random.default_rng(0)
    world = SocialWorld(population(n, rng), {
        "mode": "twitter", "recommender": {"type": "interest", "params": {"half_life": "12h"}},
        "follows": {"kind": "random", "degree": 20}, "feed": {"size": 10, "window": "24h"}, "text": text,
    })
    started = time.perf_counter()
    world.reset(0)
    reset_s = time.perf_counter() - started
    mind = RulesMind(world.population, world.action_space, {"policy": "browse", "params": {"post": 0.1}},
                     rng=np.random.default_rng(1))
    ranking = [0.0]
    original = feed_module.assemble_feeds

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = original(*args, **kwargs)
        ranking[0] += time.perf_counter() - t
        return out

    import populace.worlds.social.world as world_module

    world_module.assemble_feeds = timed  # type: ignore[assignment]
    totals, cpus, recs, actions = [], [], [], []
    try:
        for step in range(warmup + steps):
            world.set_clock(step, None)
            ranking[0] = 0.0
            t, cpu = time.perf_counter(), time.process_time()
            active = np.flatnonzero(rng.random(n) < active_share)
            obs = world.observe(active)
            decisions = asyncio.run(mind.decide(obs))
            events = world.apply(decisions.actions) + world.tick()
            world.metrics()
            if step >= warmup:
                totals.append(time.perf_counter() - t)
                cpus.append(time.process_time() - cpu)
                recs.append(ranking[0])
                actions.append(sum(len(e) for e in events))
    finally:
        world_module.assemble_feeds = original  # type: ignore[assignment]
    return {
        "users": n, "active_per_step": int(n * active_share), "steps": steps, "reset_s": round(reset_s, 3),
        "s_per_step": round(float(np.mean(totals)), 4), "cpu_s_per_step": round(float(np.mean(cpus)), 4),
        "recommender_s": round(float(np.mean(recs)), 4),
        "rest_s": round(float(np.mean(totals) - np.mean(recs)), 4),
        "actions_per_step": round(float(np.mean(actions)), 1), "posts": len(world.state.posts),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k users only")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5, help="steps run first, to fill the feeds")
    parser.add_argument("--no-text", action="store_true", help="skip the text columns for language-model minds")
    args = parser.parse_args()
    rows = [run_case(n, share, args.steps, args.warmup, not args.no_text)
            for n, share in (CASES[:2] if args.quick else CASES)]
    print(f"{'users':>8} {'active':>7} {'s/step':>8} {'cpu s':>8} {'recommender':>12} {'rest':>8} {'actions':>8} "
          f"{'peak MB':>8}")
    for r in rows:
        print(f"{r['users']:>8} {r['active_per_step']:>7} {r['s_per_step']:>8.3f} {r['cpu_s_per_step']:>8.3f} "
              f"{r['recommender_s']:>12.3f} "
              f"{r['rest_s']:>8.3f} {r['actions_per_step']:>8.0f} {r['peak_rss_mb']:>8.0f}")
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        write_results(RESULTS, {
            "benchmark": "social_scale", "machine": f"{platform.machine()}, {platform.python_version()}",
            "command": "python benchmarks/social_scale.py", "text_columns": not args.no_text,
            "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
            "warmup_steps": args.warmup, "results": rows,
        })


if __name__ == "__main__":
    main()
