"""OASIS side of ``social_vs_oasis``: runs a script of actions through OASIS and writes its timings.

Runs under the OASIS environment's python (``benchmarks/.peers/oasis``), in a scratch working
directory (OASIS writes ``./log`` when imported):

    python _oasis_social.py SCRIPT.npz OUT.json

The script holds, per step and user, the action kind and a uniform number that picks the target
(post or user) among those that exist when the step starts. Every user first refreshes their feed
(what an OASIS agent does before it decides) and then performs the scripted action, through
``env.step({agent: [ManualAction(REFRESH), ManualAction(...)]})``. The recommender
(``platform.update_rec_table``) is timed apart from the rest of each step.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

import numpy as np

KINDS = ["create_post", "like_post", "repost", "follow", "do_nothing"]


def profiles(n: int, path: str) -> None:
    """``n`` users in OASIS's Reddit profile format (``data/reddit/user_data_36.json``)."""
    topics = ["cooking", "football", "astronomy", "gardening", "jazz", "crypto", "hiking", "chess"]
    users = [{"realname": f"User {i}", "username": f"user{i}", "bio": f"I like {topics[i % 8]}",
              "persona": f"User {i} likes {topics[i % 8]} and {topics[(i * 3 + 1) % 8]}.",
              "age": 20 + i % 50, "gender": "female" if i % 2 else "male", "mbti": "INTJ", "country": "UK"}
             for i in range(n)]
    with open(path, "w") as f:
        json.dump(users, f)


async def run(script_path: str, out_path: str) -> None:
    import oasis
    from oasis import ActionType, DefaultPlatformType, ManualAction

    script = np.load(script_path)
    kinds, picks = script["kinds"], script["picks"]
    steps, n = kinds.shape
    profiles(n, "profiles.json")
    if os.path.exists("oasis.db"):
        os.remove("oasis.db")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    from camel.models import StubModel
    from camel.types import ModelType

    graph = await oasis.generate_reddit_agent_graph(profile_path="profiles.json", model=StubModel(ModelType.STUB),
                                                    available_actions=None)
    env = oasis.make(agent_graph=graph, platform=DefaultPlatformType.REDDIT, database_path="oasis.db")
    await env.reset()
    create_cpu, create_wall = time.process_time() - cpu0, time.perf_counter() - wall0

    rec = {"cpu": 0.0, "wall": 0.0}
    original = env.platform.update_rec_table

    async def timed_rec() -> None:
        c, w = time.process_time(), time.perf_counter()
        await original()
        rec["cpu"] += time.process_time() - c
        rec["wall"] += time.perf_counter() - w

    env.platform.update_rec_table = timed_rec  # type: ignore[method-assign]
    agents = [agent for _, agent in env.agent_graph.get_agents()]
    import sqlite3

    def count_posts() -> int:
        with sqlite3.connect("oasis.db") as db:
            return int(db.execute("SELECT count(*) FROM post").fetchone()[0])

    posts = 0
    rows = []
    for step in range(steps):
        rec["cpu"] = rec["wall"] = 0.0
        actions = {}
        for i, agent in enumerate(agents):
            kind = KINDS[kinds[step, i]]
            u = float(picks[step, i])
            if kind in ("like_post", "repost") and posts == 0:
                kind = "do_nothing"
            if kind == "create_post":
                act = ManualAction(ActionType.CREATE_POST, {"content": f"post by user{i} at step {step}"})
            elif kind in ("like_post", "repost"):
                act = ManualAction(ActionType.LIKE_POST if kind == "like_post" else ActionType.REPOST,
                                   {"post_id": 1 + int(u * posts)})
            elif kind == "follow":
                act = ManualAction(ActionType.FOLLOW, {"followee_id": 1 + int(u * n)})
            else:
                act = ManualAction(ActionType.DO_NOTHING, {})
            actions[agent] = [ManualAction(ActionType.REFRESH, {}), act]
        c, w = time.process_time(), time.perf_counter()
        await env.step(actions)
        cpu, wall = time.process_time() - c, time.perf_counter() - w
        posts = count_posts()
        rows.append({"step": step, "cpu_s": cpu, "wall_s": wall, "rec_cpu_s": rec["cpu"], "rec_wall_s": rec["wall"]})
        print(f"oasis n={n} step {step}: {wall:.2f} s wall, {cpu:.2f} s cpu, rec {rec['cpu']:.2f} s cpu",
              file=sys.stderr, flush=True)
    await env.close()
    with open(out_path, "w") as f:
        json.dump({"users": n, "posts": posts, "create_cpu_s": create_cpu, "create_wall_s": create_wall, "steps": rows,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "oasis": oasis.__version__ if hasattr(oasis, "__version__") else "camel-oasis"}, f)


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2]))
