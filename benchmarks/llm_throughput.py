"""Language-model throughput: decisions/s through populace's client against raw HTTP requests/s,
on the same local llama.cpp server at the same concurrency, in one run; and the model calls that
archetypes and the response cache save on a 10k-agent scenario.

    .venv/bin/python benchmarks/llm_throughput.py              # 32 decisions per round, 6 rounds each
    .venv/bin/python benchmarks/llm_throughput.py --quick      # 16 decisions, 2 rounds
    .venv/bin/python benchmarks/llm_throughput.py --base-url http://GPU:8000/v1 --model NAME   # your server

A *decision* is one yes/no choice scored from the next token's log-probabilities (what an
archetype group asks). The raw client posts exactly the request bodies populace sends, with
httpx and an asyncio semaphore, and nothing else; populace adds the cache-key hashing, retries,
the semaphore, validation and counters (its response cache is off here, so every decision
reaches the server). Rounds alternate raw / populace so drift in machine load hits both, and the
ratio reported is the median over adjacent pairs. The client's own cost per decision is also
measured against a scripted backend that answers at once.
Results go to ``benchmarks/results/llm_throughput.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _results import results_file, write_results

from populace.llm.backends.openai import TOP_LOGPROBS
from populace.llm.base import ModelError
from populace.llm.client import LanguageModel
from populace.llm.serve import LlamaServer

TOPICS = ["cats", "football", "jazz", "stocks", "gardening", "hiking", "knitting", "astronomy"]


def prompts(n: int) -> list[list[dict[str, str]]]:
    """``n`` distinct short persona + post prompts."""
    return [[{"role": "system", "content": f"You are agent {i}, who loves {TOPICS[i % 8]}."},
             {"role": "user", "content": f"Post: 'News about {TOPICS[(i * 3) % 8]}'. Would you like it? yes or no"}]
            for i in range(n)]


async def raw_round(server: LlamaServer, batch: list[list[dict[str, str]]], concurrency: int) -> float:
    """Requests/s with plain httpx: the same bodies, the same concurrency."""
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits) as http:
        async def one(messages: list[dict[str, str]]) -> None:
            body = {"model": server.alias, "messages": messages, "max_tokens": 1, "temperature": 0.0,
                    "logprobs": True, "top_logprobs": TOP_LOGPROBS}
            async with limit:
                response = await http.post("/chat/completions", json=body)
                response.raise_for_status()
                response.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]

        started = time.perf_counter()
        await asyncio.gather(*(one(m) for m in batch))
        return len(batch) / (time.perf_counter() - started)


async def populace_round(server: LlamaServer, batch: list[list[dict[str, str]]], concurrency: int) -> float:
    """Decisions/s through LanguageModel.choose_many (cache off: every decision is a request)."""
    lm = LanguageModel.from_spec({"backend": "openai", "base_url": server.base_url, "model": server.alias,
                                  "concurrency": concurrency, "cache": False, "timeout": 120})
    await lm.start()
    started = time.perf_counter()
    answers = await lm.choose_many(batch, ["yes", "no"])
    rate = len(batch) / (time.perf_counter() - started)
    failed = [a for a in answers if isinstance(a, ModelError)]
    await lm.aclose()
    if failed:
        raise SystemExit(f"{len(failed)} decisions failed: {failed[0]}")
    return rate


class ExistingServer:
    """A server the user runs (vLLM, SGLang, llama.cpp...), used instead of starting one."""

    def __init__(self, base_url: str, alias: str) -> None:
        self.base_url, self.alias = base_url.rstrip("/"), alias

    def __enter__(self) -> ExistingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def throughput(decisions: int, rounds: int, concurrency: int, threads: int,
               base_url: str | None = None, model: str | None = None) -> dict[str, Any]:
    """Alternating raw / populace rounds on one server; the ratio of each adjacent pair, and their median."""
    batch = prompts(decisions)
    raw: list[float] = []
    ours: list[float] = []
    target: Any = ExistingServer(base_url, model or "default") if base_url else LlamaServer(threads=threads)
    with target as server:
        asyncio.run(raw_round(server, batch[:4], concurrency))  # warm-up
        for r in range(rounds):
            order = [("raw", raw_round), ("populace", populace_round)]
            for name, round_ in (order if r % 2 == 0 else order[::-1]):
                rate = asyncio.run(round_(server, batch, concurrency))
                (raw if name == "raw" else ours).append(rate)
                print(f"  round {r + 1} {name:9s} {rate:7.2f} /s")
    pairs = [o / r for o, r in zip(ours, raw, strict=True)]
    return {
        "server": f"{base_url} ({model})" if base_url else "llama-cpp-python server, SmolLM2-135M-Instruct Q4_1",
        "threads": threads,
        "concurrency": concurrency, "decisions_per_round": decisions, "rounds": rounds,
        "raw_requests_per_s": raw, "populace_decisions_per_s": ours, "pair_ratios": pairs,
        "raw_median": statistics.median(raw), "populace_median": statistics.median(ours),
        "ratio": statistics.median(pairs),
    }


def client_overhead(decisions: int = 2000) -> dict[str, Any]:
    """What the client itself costs per decision, against a backend that answers at once."""
    from populace.llm.backends.scripted import ScriptedBackend

    async def go() -> float:
        lm = LanguageModel(ScriptedBackend(probabilities={"yes": 1, "no": 1}), concurrency=8)
        started = time.perf_counter()
        await lm.choose_many(prompts(decisions), ["yes", "no"])
        return (time.perf_counter() - started) / decisions

    per = min(asyncio.run(go()) for _ in range(3))
    return {"decisions": decisions, "microseconds_per_decision": per * 1e6}


def savings(agents: int, steps: int) -> dict[str, Any]:
    """Model calls on a ``agents``-agent archetype run, and on its replay from the cache."""
    from populace.operations.replay import replay_run
    from populace.simulation import Simulation

    with tempfile.TemporaryDirectory() as tmp:
        sim = Simulation.from_scenario("wealth", [
            f"population.size={agents}", f"steps={steps}", "trace.events=none",
            "model={backend: scripted, probabilities: {give: 2, keep: 1}}",
            "minds=[{type: archetype, prompt: 'You have {obs.wealth} units. {options}',"
            " bins: {obs.wealth: [1, 3]}, options: {give: {action: give, args: {to: 0}}, keep: null}}]",
        ], Path(tmp) / "runs").run()
        table = sim.trace.read("steps").to_pandas()
        assert sim.path is not None
        replay = replay_run(sim.path)
    decisions = int(table["active"].sum())
    calls = int(table["llm_calls"].sum())
    hits = int(table["llm_cache_hits"].sum())
    return {
        "scenario": "wealth, archetype mind grouping by binned wealth, scripted model",
        "agents": agents, "steps": steps,
        "agent_decisions": decisions, "model_calls": calls, "cache_hits_in_run": hits,
        "calls_saved_by_archetypes": decisions - calls - hits, "calls_saved_by_cache_in_run": hits,
        "replay_model_calls": replay.usage.calls, "replay_cache_hits": replay.usage.cache_hits,
        "replay_identical": replay.identical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer decisions and rounds")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads of the server")
    parser.add_argument("--base-url", help="measure an existing OpenAI-compatible server instead of a local one")
    parser.add_argument("--model", help="the model name that server serves")
    args = parser.parse_args()
    out = results_file("llm_throughput", args.quick)
    decisions, rounds = (16, 2) if args.quick else (32, 6)
    print(f"throughput: {decisions} decisions x {rounds} rounds, concurrency {args.concurrency}")
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()[0]},
        "throughput": throughput(decisions, rounds, args.concurrency, args.threads, args.base_url, args.model),
        "client_overhead": client_overhead(),
        "savings": savings(10_000, 10),
    }
    t, s = result["throughput"], result["savings"]
    print(f"\n{'':28s}{'per second':>12s}")
    print(f"{'raw httpx requests':28s}{t['raw_median']:12.2f}")
    print(f"{'populace decisions':28s}{t['populace_median']:12.2f}")
    print(f"{'ratio (median of pairs)':28s}{t['ratio']:12.3f}   target >= 0.90")
    print(f"client overhead: {result['client_overhead']['microseconds_per_decision']:.0f} µs per decision "
          "(scripted backend, no server)")
    print(f"\n{s['agents']} agents x {s['steps']} steps: {s['agent_decisions']} decisions, {s['model_calls']} model "
          f"calls, {s['cache_hits_in_run']} cache hits; replay: {s['replay_model_calls']} calls, "
          f"{s['replay_cache_hits']} hits, identical={s['replay_identical']}")
    out.parent.mkdir(exist_ok=True)
    write_results(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
