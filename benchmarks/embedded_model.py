"""The embedded model on this CPU: load time, memory, prompt and generation speed, validity of
structured output with and without the JSON-schema grammar, and the cost of one choice.

    .venv/bin/python benchmarks/embedded_model.py                       # SmolLM2-135M (the default)
    .venv/bin/python benchmarks/embedded_model.py --model PATH.gguf     # any other GGUF
    .venv/bin/python benchmarks/embedded_model.py --threads 2

Each run adds its model's entry to ``benchmarks/results/embedded_model.json`` and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

from _results import results_file, write_results

from populace.llm.backends.embedded import EmbeddedBackend
from populace.llm.base import Choice, ModelError, Sampling
from populace.llm.client import LanguageModel
from populace.llm.structured import InvalidOutput, parse_valid

INTERESTS = ["cooking", "football", "astronomy", "gardening", "jazz", "crypto", "hiking", "knitting", "chess",
             "cycling"]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"action": {"enum": ["like", "share", "reply", "ignore"]}, "post": {"enum": [1, 2, 3]},
                   "reason": {"type": "string", "maxLength": 60}},
    "required": ["action", "post", "reason"],
    "additionalProperties": False,
}


def feed_prompts(n: int) -> tuple[list[str], list[int]]:
    """``n`` short persona + three-post feed prompts asking for a JSON action, and which post
    (1-3, rotating) is about the persona's interest."""
    out, truth = [], []
    for i in range(n):
        topics = [INTERESTS[(i + k) % len(INTERESTS)] for k in (0, 3, 6)]
        shift = i % 3
        topics = topics[shift:] + topics[:shift]
        truth.append(topics.index(INTERESTS[i % len(INTERESTS)]) + 1)
        feed = "\n".join(f"{k + 1}. A post about {t}" for k, t in enumerate(topics))
        out.append(f"You love {INTERESTS[i % len(INTERESTS)]}. Your feed:\n{feed}\nPick one post and an action. "
                   'Reply only with JSON like {"action": "like", "post": 1, "reason": "..."}')
    return out, truth


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(model: str | None, threads: int, n: int) -> dict[str, Any]:
    before = rss_mb()
    backend = EmbeddedBackend(model, threads=threads)
    started = time.perf_counter()
    await backend.start()
    load_s = time.perf_counter() - started
    llm = backend._llm
    # prompt speed: one long prompt evaluated from a cleared context
    text = " ".join(f"Agent {i} read a post about {INTERESTS[i % 10]} and thought about it." for i in range(40))
    tokens = llm.tokenize(text.encode(), add_bos=True, special=False)
    started = time.perf_counter()
    llm.reset()
    llm.eval(tokens)
    prompt_tps = len(tokens) / (time.perf_counter() - started)
    # generation speed: 64 free tokens after a short prompt (the prompt's share subtracted)
    started = time.perf_counter()
    out = llm.create_completion("Once upon a time", max_tokens=64, temperature=0.0)
    elapsed = time.perf_counter() - started - out["usage"]["prompt_tokens"] / prompt_tps
    generation_tps = out["usage"]["completion_tokens"] / elapsed
    lm = LanguageModel(backend, repairs=0, retries=0, timeout=120)
    prompts, truth = feed_prompts(n)
    started = time.perf_counter()
    constrained = await lm.complete_many(prompts, schema=SCHEMA, sampling=Sampling(max_tokens=60))
    constrained_s = (time.perf_counter() - started) / n
    free = await lm.complete_many(prompts, sampling=Sampling(max_tokens=60))
    unconstrained_valid = 0
    for answer in free:
        if isinstance(answer, ModelError):
            continue
        try:
            parse_valid(answer.text, SCHEMA)
            unconstrained_valid += 1
        except InvalidOutput:
            pass
    valid = [(a.value, t) for a, t in zip(constrained, truth, strict=True) if not isinstance(a, ModelError)]
    sensible = sum(1 for v, t in valid if v["post"] == t)
    first = sum(1 for v, _ in valid if v["post"] == 1)
    started = time.perf_counter()
    choices = await lm.choose_many([p.split("Pick")[0] + "Do you like post 1? yes or no" for p in prompts],
                                   ["yes", "no"])
    choose_s = (time.perf_counter() - started) / n
    await lm.aclose()
    return {
        "model": backend.name, "file": Path(backend.model).name if backend.model.endswith(".gguf") else backend.model,
        "threads": threads, "load_s": round(load_s, 3), "rss_mb_added": round(rss_mb() - before, 1),
        "prompt_tokens_per_s": round(prompt_tps, 1), "generation_tokens_per_s": round(generation_tps, 1),
        "chat_template": backend._formatter is not None,
        "json_valid_with_grammar": f"{len(valid)}/{n}", "json_valid_without_grammar": f"{unconstrained_valid}/{n}",
        "picked_the_matching_post": f"{sensible}/{len(valid)}", "picked_post_1": f"{first}/{len(valid)}",
        "seconds_per_json_action": round(constrained_s, 3), "seconds_per_choice": round(choose_s, 3),
        "choices_failed": sum(not isinstance(c, Choice) for c in choices),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="built-in name or .gguf path (default: smollm2)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=30, help="structured-output prompts")
    parser.add_argument("--quick", action="store_true", help="10 structured-output prompts")
    args = parser.parse_args()
    out = results_file("embedded_model", args.quick)
    entry = asyncio.run(measure(args.model, args.threads, 10 if args.quick else args.n))
    entry["load_average"] = round(os.getloadavg()[0], 2)
    entry["python"] = platform.python_version()
    for key, value in entry.items():
        print(f"{key:28s} {value}")
    results = json.loads(out.read_text()) if out.is_file() else {}
    results[f"{entry['file']}@{args.threads}t"] = entry
    out.parent.mkdir(exist_ok=True)
    write_results(out, results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
