"""The same scripted Reddit workload on populace's social world and on OASIS, at 100, 1,000 and 10,000 users.

Workload (identical on both sides): no follows at the start; every user is active every step;
each user sees their feed (Reddit mode, hot-score recommender, 5 posts) and then performs one
scripted action drawn by a seeded generator: create_post 20 %, like_post 30 %, repost 10 %,
follow 10 %, do_nothing 30 %. The target post (or user) is picked by a scripted uniform number
among the posts (users) that exist when the step starts. Step 0 has no posts yet: its likes and
reposts become do_nothing on both sides, and it is left out of the per-step averages.

OASIS (``camel-oasis`` 0.2.5) runs in its own virtual environment (``benchmarks/.peers/oasis``,
created when missing) through its public API: ``generate_reddit_agent_graph`` over a generated
profile file, ``oasis.make``, ``env.reset()``, ``env.step({agent: [ManualAction(REFRESH),
ManualAction(...)]})`` (no language model is called; a CAMEL stub model is attached). Its
recommender (``platform.update_rec_table``) is timed apart from the rest of the step. Each side
runs in its own process, so peak memory (RSS) is its own.

    .venv/bin/python benchmarks/social_vs_oasis.py           # N = 100, 1,000, 10,000
    .venv/bin/python benchmarks/social_vs_oasis.py --quick   # N = 100 and 1,000

OASIS takes about 24 ms of CPU to create each agent and 22 ms per agent-step, so at 10,000 users
it is not run by default: its row is an extrapolation from the 1,000-user run (linear in users,
a lower bound: its unindexed queries grow faster), marked ``extrapolated``. Pass
``--oasis-max 10000`` to measure it (20-30 minutes).

At N = 100 (``--oasis-llm-max``) OASIS also runs the steps after the first through its agents'
own path, ``env.step({agent: LLMAction()})``, with a CAMEL stub model that answers each prompt
with the scripted action as a tool call: the cost of OASIS's agent machinery around a model
call, without any model (row ``oasis-llmaction``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import in_fresh_process, write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "social_vs_oasis.json"
SCRATCH = Path(tempfile.gettempdir()) / "populace-bench" / "social_vs_oasis"
OASIS_VENV = HERE / ".peers" / "oasis"
OASIS_DRIVER = HERE / "_oasis_social.py"
KINDS = ["create_post", "like_post", "repost", "follow", "do_nothing"]
MIX = [0.2, 0.3, 0.1, 0.1, 0.3]
FEED_SIZE = 5  # OASIS Reddit: refresh_rec_post_count=5


def script(n: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per step and user: the action kind (index into KINDS) and the uniform number that picks its target."""
    rng = np.random.default_rng(seed)
    return rng.choice(len(KINDS), (steps, n), p=MIX), rng.random((steps, n))


def oasis_python() -> Path:
    """The OASIS environment's python, installing it when missing (about 7 minutes and 6 GB)."""
    python = OASIS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["python3.11", "-m", "venv", str(OASIS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "torch==2.13.0"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "camel-oasis==0.2.5", "mcp<2"], check=True)
    return python


def run_oasis(n: int, steps: int, seed: int, llm: bool = False) -> dict[str, Any]:
    """One OASIS run in a scratch directory (it writes ./log and its database there)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"oasis_{n}{'_llm' if llm else ''}_", dir=SCRATCH))  # one per run
    kinds, picks = script(n, steps, seed)
    np.savez(work / "script.npz", kinds=kinds, picks=picks)
    with open(work / "stderr.log", "w") as log:
        subprocess.run([str(oasis_python()), str(OASIS_DRIVER), "script.npz", "out.json", *(["--llm"] if llm else [])],
                       cwd=work,
                       stderr=log, stdout=log, check=True)
    out: dict[str, Any] = json.loads((work / "out.json").read_text())
    shutil.rmtree(work, ignore_errors=True)  # kept only when the run failed
    return out


def run_populace(n: int, steps: int, seed: int) -> dict[str, Any]:
    """The populace side of one size, in this process (called in a fresh subprocess)."""
    from populace import Actions, Population
    from populace.worlds.social import SocialWorld
    from populace.worlds.social import world as world_module

    kinds, picks = script(n, steps, seed)
    cpu0 = time.process_time()
    world = SocialWorld(Population({"bio": np.asarray([f"I like topic {i % 8}" for i in range(n)], dtype=object)}),
                        {"mode": "reddit", "recommender": {"type": "hot"}, "follows": {"kind": "none"},
                         "feed": {"size": FEED_SIZE, "window": None}})
    world.reset(seed)
    create_cpu = time.process_time() - cpu0
    rec = [0.0]
    original = world_module.assemble_feeds

    def timed(*args: Any, **kwargs: Any) -> Any:
        c = time.process_time()
        out = original(*args, **kwargs)
        rec[0] += time.process_time() - c
        return out

    world_module.assemble_feeds = timed  # type: ignore[assignment]
    everyone = np.arange(n)
    rows = []
    for step in range(steps):
        rec[0] = 0.0
        c, w = time.process_time(), time.perf_counter()
        world.set_clock(step, None)
        posts = len(world.state.posts)
        world.observe(everyone)
        batch = []
        for k, kind in enumerate(KINDS):
            who = np.flatnonzero(kinds[step] == k)
            if kind in ("like_post", "repost") and posts == 0:
                kind = "do_nothing"
            if not len(who):
                continue
            if kind == "create_post":
                args = {"content": np.asarray([f"post by user{i} at step {step}" for i in who], dtype=object)}
            elif kind in ("like_post", "repost"):
                args = {"post_id": (picks[step, who] * posts).astype(np.int64)}
            elif kind == "follow":
                args = {"user": (picks[step, who] * n).astype(np.int64)}
            else:
                args = {}
            batch.append(Actions(kind, who, args))
        world.apply(batch)
        world.tick()
        rows.append({"step": step, "cpu_s": time.process_time() - c, "wall_s": time.perf_counter() - w,
                     "rec_cpu_s": rec[0], "rec_wall_s": rec[0]})
    world_module.assemble_feeds = original  # type: ignore[assignment]
    return {"users": n, "posts": len(world.state.posts), "create_cpu_s": create_cpu, "steps": rows,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def populace_in_subprocess(n: int, steps: int, seed: int) -> dict[str, Any]:
    return in_fresh_process([sys.executable, __file__, "--populace-case", str(n), "--steps", str(steps),
                             "--seed", str(seed)], cwd=ROOT)


def per_step(run: dict[str, Any]) -> dict[str, float]:
    """Mean seconds per step over the steps after the first (which has no posts to act on)."""
    timed = run["steps"][1:]
    mean = {k: float(np.mean([s[k] for s in timed])) for k in ("cpu_s", "wall_s", "rec_cpu_s")}
    return {**mean, "rest_cpu_s": mean["cpu_s"] - mean["rec_cpu_s"]}


def row(system: str, n: int, run: dict[str, Any] | None, note: str = "") -> dict[str, Any]:
    if run is None:
        return {"system": system, "users": n, "note": note}
    s = per_step(run)
    return {
        "system": system, "users": n, "steps_timed": len(run["steps"]) - 1,
        "cpu_s_per_step": round(s["cpu_s"], 5), "wall_s_per_step": round(s["wall_s"], 5),
        "recommender_cpu_s": round(s["rec_cpu_s"], 5), "rest_cpu_s": round(s["rest_cpu_s"], 5),
        "agent_steps_per_cpu_s": round(n / s["cpu_s"], 1), "create_cpu_s": round(run["create_cpu_s"], 2),
        "posts_at_end": run["posts"], "peak_rss_mb": round(run["peak_rss_mb"], 1), "note": note,
    }


def extrapolated(measured: dict[str, Any], n: int) -> dict[str, Any]:
    """A row scaled linearly in users from a measured one (a lower bound), clearly marked."""
    f = n / measured["users"]
    out = {"system": "oasis", "users": n, "steps_timed": 0}
    for key in ("cpu_s_per_step", "wall_s_per_step", "recommender_cpu_s", "rest_cpu_s", "create_cpu_s"):
        out[key] = round(measured[key] * f, 2)
    out["agent_steps_per_cpu_s"] = measured["agent_steps_per_cpu_s"]
    out["note"] = f"extrapolated linearly from the measured {measured['users']:,}-user run (lower bound), not measured"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 and 1,000 only")
    parser.add_argument("--steps", type=int, help="steps per run, the first one untimed (default 3; quick 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--oasis-max", type=int, default=1000, help="largest N run on OASIS (above: extrapolated)")
    parser.add_argument("--oasis-llm-max", type=int, default=100,
                        help="largest N also run with LLMAction and a stub model (0: none)")
    parser.add_argument("--populace-case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.populace_case:
        print(json.dumps(run_populace(args.populace_case, args.steps, args.seed)))
        return
    sizes = [100, 1_000] if args.quick else [100, 1_000, 10_000]
    args.steps = args.steps or (2 if args.quick else 3)
    rows: list[dict[str, Any]] = []
    load = [round(x, 2) for x in os.getloadavg()]
    for n in sizes:
        ours = row("populace", n, populace_in_subprocess(n, args.steps, args.seed))
        if n <= args.oasis_max:
            theirs = row("oasis", n, run_oasis(n, args.steps, args.seed))
        else:
            measured = [r for r in rows if r["system"] == "oasis" and r.get("steps_timed")]
            theirs = extrapolated(measured[-1], n) if measured else row("oasis", n, None, "not run")
        if "cpu_s_per_step" in theirs:
            ours["speedup_per_agent_step_cpu"] = round(theirs["cpu_s_per_step"] / ours["cpu_s_per_step"], 1)
        rows += [ours, theirs]
        if n <= args.oasis_llm_max:
            agent_path = row("oasis-llmaction", n, run_oasis(n, args.steps, args.seed, llm=True),
                             "LLMAction with a stub model answering the scripted tool call (no model runs)")
            ours["speedup_vs_llmaction_cpu"] = round(agent_path["cpu_s_per_step"] / ours["cpu_s_per_step"], 1)
            rows.append(agent_path)
        print(f"N={n}: populace {ours['cpu_s_per_step']:.4f} cpu-s/step, oasis {theirs.get('cpu_s_per_step')} "
              f"cpu-s/step ({theirs.get('note') or 'measured'})", flush=True)
    load_after = [round(x, 2) for x in os.getloadavg()]
    print(f"\n{'system':>15} {'users':>7} {'cpu s/step':>11} {'wall s/step':>12} {'rec cpu':>9} {'rest cpu':>9} "
          f"{'agent-steps/cpu-s':>18} {'peak MB':>8} {'speed-up':>9}  note")
    for r in rows:
        if "cpu_s_per_step" not in r:
            print(f"{r['system']:>15} {r['users']:>7}  {r['note']}")
            continue
        print(f"{r['system']:>15} {r['users']:>7} {r['cpu_s_per_step']:>11.4f} {r['wall_s_per_step']:>12.4f} "
              f"{r['recommender_cpu_s']:>9.4f} {r['rest_cpu_s']:>9.4f} {r['agent_steps_per_cpu_s']:>18,.0f} "
              f"{r.get('peak_rss_mb', float('nan')):>8.0f} {r.get('speedup_per_agent_step_cpu', ''):>9}  {r['note']}")
    result = {
        "benchmark": "social_vs_oasis", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["python benchmarks/social_vs_oasis.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "load_average_before": load, "load_average_after": load_after,
        "workload": {"mode": "reddit", "recommender": "hot", "feed_size": FEED_SIZE, "active_share": 1.0,
                     "mix": dict(zip(KINDS, MIX, strict=True)), "steps": args.steps, "timed_steps": args.steps - 1,
                     "oasis": "camel-oasis 0.2.5, ManualAction (refresh + scripted action), stub model attached; "
                              "oasis-llmaction: LLMAction, stub model returning the scripted tool call"},
        "speedup": "OASIS CPU seconds per step / populace CPU seconds per step, same N (same agent-steps)",
        "rows": rows,
    }
    if args.quick and RESULTS.exists():
        return  # a quick check never replaces the committed full results
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS, result)


if __name__ == "__main__":
    main()
