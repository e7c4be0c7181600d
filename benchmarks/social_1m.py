"""One million users on the social world, 1 % active per step, archetype minds on the embedded model.

A full run through the engine (``Simulation``, trace on): Twitter mode with the ``interest``
recommender (exact top-k over every post of the last 24 steps), a random follow graph (mean
degree 10), feeds of 10 posts. Each step about 10,000 users are active; an archetype mind groups
them by interest (8 values) and by how close the top post of their feed is to their interests
(3 bins and "unknown"), and asks the embedded model (SmolLM2-135M, llama.cpp, 2 threads) to score the options
like / share / post / ignore once per group. The response cache is off, so every step pays for
every group's model call (a rerun with the cache on would pay nothing after the first step).

Reported per step: seconds, split into recommender (feed ranking), observation (the rest of
``observe``), minds (grouping, prompts, model calls, sampling), world apply (actions + tick) and
trace (recording the step); model calls; peak memory (RSS) of the process. The run ends with one
resumable checkpoint (a pickle of the whole state), timed apart as ``checkpoint_s``.

    .venv/bin/python benchmarks/social_1m.py            # 1,000,000 users (writes the results)
    .venv/bin/python benchmarks/social_1m.py --quick    # 100,000 users (printed only)
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results

from populace.scenario import load_scenario
from populace.simulation import Simulation
from populace.world import Observations, worlds
from populace.worlds.social import SocialWorld
from populace.worlds.social import world as world_module

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "social_1m.json"
SCRATCH = Path(tempfile.gettempdir()) / "populace-bench" / "social_1m"
TOPICS = ["cooking", "football", "astronomy", "gardening", "jazz", "crypto", "hiking", "chess"]
THREADS = 2


class TopPostSocialWorld(SocialWorld):
    """The social world plus two per-user columns for group prompts: the top post of the feed and its similarity."""

    def observe(self, agent_ids: np.ndarray) -> Observations:
        obs = super().observe(agent_ids)
        obs.columns["top_post"] = obs.columns["feed_post"][:, 0].copy()
        obs.columns["top_similarity"] = np.where(obs.columns["top_post"] >= 0,
                                                 obs.columns["feed_similarity"][:, 0], np.nan)
        return obs


worlds.add("social_top_post", TopPostSocialWorld)


def scenario(users: int, steps: int, active: float) -> dict[str, Any]:
    return {
        "name": "social-1m", "seed": 1, "steps": steps,
        "clock": {"start": "2025-01-01T00:00:00", "step": "1h"},
        "schedule": {"activity": [active] * 24},
        "population": {"size": users, "attributes": {
            "interest": {"dist": "categorical", "values": TOPICS},
            "bio": {"dist": "conditional", "given": "interest",
                    "table": {t: {"dist": "constant", "value": f"I like {t}"} for t in TOPICS}},
        }},
        "world": {"type": "social_top_post", "actions": ["create_post", "like_post", "repost", "do_nothing"],
                  "params": {"mode": "twitter", "recommender": {"type": "interest", "params": {"half_life": "12h"}},
                             "follows": {"kind": "random", "degree": 10}, "feed": {"size": 10, "window": "24h"},
                             "text": False}},
        "model": {"backend": "embedded", "threads": THREADS, "cache": False, "retries": 0},
        "minds": [{
            "type": "archetype",
            "prompt": "You like {persona.interest}. The first post in your feed is {obs.top_similarity} "
                      "to your interests. What do you do? Options: {options}.",
            "bins": {"obs.top_similarity": {"edges": [0.7, 0.95], "labels": ["loosely related", "related",
                                                                                "closely related"]}},
            "options": {"like": {"action": "like_post", "args": {"post_id": "obs.top_post"}},
                        "share": {"action": "repost", "args": {"post_id": "obs.top_post"}},
                        "post": {"action": "create_post", "args": {"content": "persona.bio"}},
                        "ignore": None},
        }],
        "trace": {"events": "all", "flush_every": 5, "checkpoint_every": 1000},
    }


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(parts: dict[str, float], name: str, fn: Any, is_async: bool = False) -> Any:
    """``fn`` wrapped to add its wall seconds to ``parts[name]``."""
    if is_async:
        async def wrapper_async(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                parts[name] += time.perf_counter() - t
        return wrapper_async

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            parts[name] += time.perf_counter() - t
    return wrapper


def run(users: int, steps: int, active: float) -> dict[str, Any]:
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    t, c = time.perf_counter(), time.process_time()
    sim = Simulation.from_scenario(load_scenario(scenario(users, steps, active)), runs_dir=SCRATCH)
    build_s, build_cpu = time.perf_counter() - t, time.process_time() - c
    build_rss = rss_mb()
    parts: dict[str, float] = defaultdict(float)
    world = sim.world
    # class-level wrappers: the world instance stays picklable for checkpoints
    world_module.assemble_feeds = timed(parts, "recommender", world_module.assemble_feeds)  # type: ignore[assignment]
    cls = type(world)
    cls.observe = timed(parts, "observe", cls.observe)  # type: ignore[method-assign]
    cls.apply = timed(parts, "world_apply", SocialWorld.apply)  # type: ignore[method-assign]
    cls.tick = timed(parts, "world_apply", SocialWorld.tick)  # type: ignore[method-assign]
    sim.checkpoint = timed(parts, "checkpoint", sim.checkpoint, is_async=True)  # type: ignore[method-assign]
    sim.decide = timed(parts, "minds", sim.decide, is_async=True)  # type: ignore[method-assign]
    sim.trace.record = timed(parts, "trace", sim.trace.record)  # type: ignore[method-assign]
    sim._after_step = timed(parts, "trace", sim._after_step, is_async=True)  # type: ignore[method-assign]
    rows: list[dict[str, Any]] = []
    marks = {"wall": time.perf_counter(), "cpu": time.process_time()}

    def progress(result: Any) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        total = now - marks["wall"]
        row = {"step": result.step, "active": result.active, "s": round(total, 3),
               "cpu_s": round(cpu - marks["cpu"], 3),
               "recommender_s": round(parts["recommender"], 3),
               "observe_other_s": round(parts["observe"] - parts["recommender"], 3),
               "minds_s": round(parts["minds"], 3), "world_apply_s": round(parts["world_apply"], 3),
               "trace_s": round(parts["trace"] - parts["checkpoint"], 3), "checkpoint_s": round(parts["checkpoint"], 3),
               "ok": result.ok, "rejected": result.rejected, "failed": result.failed}
        row["other_s"] = round(total - sum(parts[k] for k in ("observe", "minds", "world_apply", "trace")), 3)
        rows.append(row)
        print(f"step {result.step}: {total:.2f} s ({row['cpu_s']:.2f} cpu), recommender {row['recommender_s']:.2f}, "
              f"minds {row['minds_s']:.2f}, apply {row['world_apply_s']:.2f}, trace {row['trace_s']:.2f}; "
              f"{result.active} active, ok {result.ok}, rejected {result.rejected}, rss {rss_mb():.0f} MB", flush=True)
        parts.clear()
        marks["wall"], marks["cpu"] = time.perf_counter(), time.process_time()

    t = time.perf_counter()
    sim.run(progress=progress)
    run_s = time.perf_counter() - t
    stats = sim.trace.read("steps").to_pandas()
    for row, (_, s) in zip(rows, stats.iterrows(), strict=True):
        row["model_calls"] = int(s.get("llm_calls", s.get("archetype_calls", 0)))
        row["archetype_groups"] = int(s.get("archetype_groups", 0))
        row["llm_tokens_in"], row["llm_tokens_out"] = int(s.get("llm_tokens_in", 0)), int(s.get("llm_tokens_out", 0))
        row["llm_seconds"] = round(float(s.get("llm_seconds", 0)), 3)
    return {"users": users, "active_share": active, "steps": steps, "build_s": round(build_s, 2),
            "build_cpu_s": round(build_cpu, 2), "rss_after_build_mb": round(build_rss, 1), "run_s": round(run_s, 2),
            "posts": len(world.state.posts), "peak_rss_mb": round(rss_mb(), 1), "step_rows": rows,
            "step_stats_columns": [c for c in stats.columns if c.startswith(("llm_", "archetype_"))]}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Means over the steps after the first (the first fills empty feeds and loads the model)."""
    timed_rows = result["step_rows"][1:] or result["step_rows"]
    keys = ("s", "cpu_s", "recommender_s", "observe_other_s", "minds_s", "world_apply_s", "trace_s", "checkpoint_s",
            "other_s", "model_calls", "archetype_groups", "active")
    out = {"users": result["users"], "steps_timed": len(timed_rows)}
    out.update({f"mean_{k}": round(float(np.mean([r[k] for r in timed_rows])), 3) for k in keys})
    out["max_s"] = max(r["s"] for r in timed_rows)
    out["peak_rss_mb"] = result["peak_rss_mb"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 users (printed only)")
    parser.add_argument("--users", type=int)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--active", type=float, default=0.01)
    args = parser.parse_args()
    users = args.users or (100_000 if args.quick else 1_000_000)
    load = [round(x, 2) for x in os.getloadavg()]
    result = run(users, args.steps, args.active)
    row = summary(result)
    print(f"\n{'users':>9} {'active':>7} {'s/step':>7} {'recommender':>12} {'observe':>8} {'minds':>7} {'apply':>7} "
          f"{'trace':>7} {'model calls':>12} {'peak MB':>8}")
    print(f"{row['users']:>9,} {row['mean_active']:>7.0f} {row['mean_s']:>7.2f} {row['mean_recommender_s']:>12.2f} "
          f"{row['mean_observe_other_s']:>8.2f} {row['mean_minds_s']:>7.2f} {row['mean_world_apply_s']:>7.2f} "
          f"{row['mean_trace_s']:>7.2f} {row['mean_model_calls']:>12.1f} {row['peak_rss_mb']:>8.0f}")
    if args.quick and RESULTS.exists():
        return  # a quick check never replaces the committed full results
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS, {
        "benchmark": "social_1m", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python benchmarks/social_1m.py" + (" --quick" if args.quick else ""),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "load_average_before": load, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "model": f"embedded SmolLM2-135M (llama.cpp), n_threads={THREADS}, response cache off",
        "targets": {"s_per_step": 60, "peak_rss_mb": 8192},
        "rows": [row], "detail": result,
    })


if __name__ == "__main__":
    main()
