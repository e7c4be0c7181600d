"""What each mind tier costs: model calls and wall time per step, and the MiniLM encoder's speed.

A scripted backend answers instantly, so the times are the minds' own overhead (grouping,
sampling, retrieval, prompt building, parsing), not a model's. Writes
``benchmarks/results/minds_cost.json`` and prints a table.

    .venv/bin/python benchmarks/minds_cost.py            # archetype up to 1M agents
    .venv/bin/python benchmarks/minds_cost.py --quick    # up to 100k
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from typing import Any

import numpy as np
from _results import results_file, write_results

from populace.actions import ActionSpace, ActionSpec, Arg
from populace.embedding import encoders
from populace.llm.backends.scripted import ScriptedBackend
from populace.llm.client import LanguageModel
from populace.minds import minds
from populace.population import Population
from populace.world import Observations

SPACE = ActionSpace(ActionSpec("discuss", {"with": Arg.agent()}), ActionSpec("post", {"text": Arg.text(200)}))
POSTS = [f"post {i}: the council votes on the new bus lanes and parking fees downtown" for i in range(512)]


def client() -> LanguageModel:
    return LanguageModel(ScriptedBackend('{"action": "nothing"}', probabilities={"discuss": 2, "ignore": 1}),
                         retries=0, concurrency=64)


def encoder_speed() -> dict[str, float]:
    started = time.perf_counter()
    encoder = encoders.get("minilm")()
    load = time.perf_counter() - started
    encoder.encode(POSTS[:32])
    started = time.perf_counter()
    encoder.encode(POSTS)
    rate = len(POSTS) / (time.perf_counter() - started)
    v = encoder.encode(["cat", "kitten", "stock", "The weather is lovely today.", "It's so sunny outside!"])
    return {"load_s": load, "texts_per_s": rate, "cos_cat_kitten": float(v[0] @ v[1]),
            "cos_cat_stock": float(v[0] @ v[2]), "cos_weather_sunny": float(v[3] @ v[4])}


def archetype(n: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    pop = Population({"region": rng.choice(["north", "south", "east", "west"], n).astype(object),
                      "age": rng.integers(18, 90, n)})
    obs = Observations(np.arange(n), {"opinion": rng.random(n), "neighbour": rng.integers(0, n, n)})
    mind = minds.get("archetype")(pop, SPACE, {
        "prompt": "{persona.region} {persona.age} {obs.opinion}: {options}",
        "bins": {"persona.age": [30, 50, 70], "obs.opinion": [0.2, 0.4, 0.6, 0.8]},
        "options": {"discuss": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None},
    })
    mind.use_model(client())  # type: ignore[attr-defined]
    started = time.perf_counter()
    asyncio.run(mind.decide(obs))
    seconds = time.perf_counter() - started
    stats = mind.stats()
    return {"agents": n, "calls": stats["archetype_calls"], "groups": stats["archetype_groups"], "step_s": seconds}


def generative(n: int, steps: int, encoder: str) -> dict[str, Any]:
    """Mind overhead per agent-step with a scripted model: retrieval, prompts, parsing, and the
    encoder's embedding of the query and new memories (``hashing``: next to nothing; ``minilm``: the
    default, a real sentence encoder)."""
    pop = Population({"job": np.array(["baker", "nurse", "poet"] * n, dtype=object)[:n]})
    mind = minds.get("generative")(pop, SPACE, {"plan": False, "encoder": encoder})
    mind.use_model(client())  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for step in range(steps):
        obs = Observations(np.arange(n), {"post": np.asarray(rng.choice(POSTS, n), dtype=object)}, step=step)
        asyncio.run(mind.decide(obs))
    seconds = time.perf_counter() - started
    return {"agents": n, "steps": steps, "encoder": encoder, "calls": mind.stats()["generative_calls"],
            "agent_step_ms": 1000 * seconds / (n * steps), "memories": len(mind.memory)}  # type: ignore[attr-defined]


def similarity(n: int, encoder: str) -> dict[str, float]:
    rng = np.random.default_rng(0)
    interests = ["local politics", "cycling", "cooking", "football", "gardening", "jazz", "markets", "movies"]
    pop = Population({"interest": rng.choice(interests, n).astype(object)})
    feeds = np.empty(n, dtype=object)
    feeds[:] = [[{"id": int(j), "text": POSTS[j], "likes": int(j % 40), "age": 3.0} for j in rng.integers(0, 512, 10)]
                for _ in range(n)]
    mind = minds.get("similarity")(pop, SPACE, {
        "interests": "{persona.interest}", "content": "feed", "encoder": encoder, "popularity": "likes", "age": "age",
        "options": {"post": {"action": "post", "args": {"text": "item.text"}}},
        "weights": {"post": {"bias": -3, "similarity": 5, "popularity": 0.2, "recency": 0.5}},
    })
    obs = Observations(np.arange(n), {"feed": feeds})
    started = time.perf_counter()
    asyncio.run(mind.decide(obs))
    cold = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(mind.decide(obs))
    warm = time.perf_counter() - started
    return {"agents": n, "items": 10 * n, "encoder": encoder, "cold_step_s": cold, "warm_step_s": warm}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    out = results_file("minds_cost", args.quick)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()[0]},
        "encoder": encoder_speed(),
        "archetype": [archetype(n) for n in sizes],
        "generative": [generative(25, 20, "hashing"), generative(25, 20, "minilm")],
        "similarity": [similarity(10_000, "hashing"), similarity(10_000, "minilm")],
    }
    out.parent.mkdir(exist_ok=True)
    write_results(out, result)
    e = result["encoder"]
    print(f"minilm (NumPy): load {e['load_s']:.2f} s, {e['texts_per_s']:.0f} texts/s, "
          f"cos(cat, kitten) {e['cos_cat_kitten']:.2f}, cos(cat, stock) {e['cos_cat_stock']:.2f}")
    print(f"{'archetype agents':>18} {'calls':>6} {'groups':>7} {'step s':>8}")
    for row in result["archetype"]:
        print(f"{row['agents']:>18,} {row['calls']:>6.0f} {row['groups']:>7.0f} {row['step_s']:>8.2f}")
    for g in result["generative"]:
        print(f"generative ({g['encoder']}): {g['agents']} agents x {g['steps']} steps, {g['calls']:.0f} calls, "
              f"{g['agent_step_ms']:.2f} ms per agent-step of mind overhead, {g['memories']} memories")
    for row in result["similarity"]:
        print(f"similarity ({row['encoder']}): {row['agents']:,} agents, {row['items']:,} items, "
              f"first step {row['cold_step_s']:.2f} s, cached {row['warm_step_s']:.2f} s")


if __name__ == "__main__":
    main()
