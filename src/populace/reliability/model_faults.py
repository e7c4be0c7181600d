"""A social run whose generative agents ask a real model through a :class:`FaultProxy`, and the
reconciliation of the faults the proxy injected with the failures the run's trace recorded.

Retries and re-asks are off, the client sends one request at a time and its timeout sits between
a real answer's time and the proxy's delay, so each injected fault ends exactly one request, with
one cause:

==================  =========================================
proxy fault         failed decision's cause in the trace
==================  =========================================
drop                ``connection``
delay               ``timeout``
endless_stream      ``timeout``
http_429            ``http_429``
http_500            ``http_500``
truncated_json      ``invalid_response``
invalid_action      ``schema_mismatch`` (an action the world does not have)
==================  =========================================

A request the model answers only after the client's timeout (a busy machine) is a ``timeout`` in
the trace whatever the proxy drew for it; the proxy counts those (``late``) and the reconciliation
expects them as timeouts, so every request is accounted for however slow the model is.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from populace.errors import RunFailedError
from populace.health import MODEL_DECISIONS
from populace.reliability.faultproxy import FaultProxy
from populace.scenario import load_scenario, scenarios_dir
from populace.simulation import Simulation

#: The trace cause each proxy fault must become (timeouts gather two faults).
CAUSES = {"drop": "connection", "delay": "timeout", "endless_stream": "timeout", "http_429": "http_429",
          "http_500": "http_500", "truncated_json": "invalid_response", "invalid_action": "schema_mismatch"}
GENERATIVE = ["user_32", "user_21", "user_5", "user_60", "user_90", "user_3", "user_7", "user_11"]


@dataclass
class FaultReport:
    """Per cause: what the proxy injected, what the trace recorded as failed, and what was lost."""

    steps: int
    requests: int  # model requests the proxy saw (POSTs)
    decisions: int  # model decisions in the step table (one request each)
    events: int  # events of the generative agents in the trace (ok + rejected + failed)
    injected: dict[str, int]  # proxy fault -> count
    recorded: dict[str, int]  # trace cause -> failed decisions
    expected: dict[str, int]  # trace cause -> failed decisions the proxy's counts imply
    lost: dict[str, int]  # trace cause -> expected - recorded (must be 0)
    other_failures: dict[str, int]  # failed decisions with a cause no fault explains (the model's own)
    forwarded: int
    late: dict[str, int]  # requests (by what was drawn) answered after the client's timeout: timeouts
    rejected: int  # actions the world rejected
    completed: bool
    seconds: float
    failed_reasons_all_named: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """Whether every injected fault is in the trace, once, with its cause."""
        return self.completed and all(v == 0 for v in self.lost.values()) and not self.other_failures

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exact": self.exact}


@contextmanager
def running_proxy(upstream: str, rates: Mapping[str, float], seed: int, delay: float) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` serving from its own event loop in a background thread."""
    loop = asyncio.new_event_loop()
    # a handler whose client left (a delay past the timeout) may fail to forward: nobody listens any more
    loop.set_exception_handler(lambda _loop, _context: None)
    proxy = FaultProxy(upstream, rates, seed=seed, delay=delay)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(10)
        for task in asyncio.all_tasks(loop):  # handlers still sleeping on a delay or streaming
            loop.call_soon_threadsafe(task.cancel)
        time.sleep(0.1)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def fault_scenario(model: Mapping[str, Any], steps: int, agents: int, seed: int = 7) -> dict[str, Any]:
    """The misinformation scenario with ``agents`` generative users on ``model`` and the crowd on rules."""
    base = yaml.safe_load((scenarios_dir() / "misinformation-mixed.yaml").read_text(encoding="utf-8"))
    picked = GENERATIVE[:agents]
    generative = {"select": f"name in {picked!r}", "type": "generative", "persona": "{persona.description}",
                  "observation": "{obs.feed}", "encoder": "hashing", "plan": False, "top_k": 2, "max_tokens": 48}
    crowd = {"select": "all", "type": "rules", "policy": "misinformation",
             "params": {"share": 0.15, "believers": 1.5, "correct": 0.3, "post": 0.05, "like": 0.15}}
    # a small action set: the server compiles the action schema into a grammar, slow for many actions
    # and llama-cpp-python's server crashes on the long text fields of create_post
    base["world"]["actions"] = ["like_post", "repost", "do_nothing"]
    base["population"]["file"] = str((scenarios_dir() / base["population"]["file"]).resolve())
    base["interventions"] = base["interventions"][:1]  # the rumour at the start; its correction comes after the run
    return {**base, "name": "model-faults", "seed": seed, "steps": steps, "model": dict(model),
            "minds": [generative, crowd], "schedule": {}, "trace": {"flush_every": 4, "checkpoint_every": steps}}


def run_with_faults(upstream: str, model_name: str, runs_dir: Path, *, rates: Mapping[str, float], steps: int = 4,
                    agents: int = 5, timeout: float = 10.0, seed: int = 1) -> FaultReport:
    """Run the fault scenario against ``upstream`` (an OpenAI-compatible ``/v1`` URL) through a proxy."""
    started = time.monotonic()
    root = upstream.rstrip("/").removesuffix("/v1")
    with running_proxy(root, rates, seed=seed, delay=timeout + 2.0) as proxy:
        model = {"backend": "openai", "base_url": proxy.url + "/v1", "model": model_name,
                 "schema_mode": "json_object", "retries": 0, "repairs": 0, "timeout": timeout,
                 "concurrency": 1, "cache": False}
        spec = fault_scenario(model, steps, agents)
        # rounds: every agent decides once a step (an activity scale below 1 draws 0, 1 or more sessions)
        spec["population"].get("attributes", {}).pop("activity", None)
        scenario = load_scenario(spec)
        sim = Simulation.from_scenario(scenario, runs_dir=runs_dir)
        with contextlib.suppress(RunFailedError):  # most decisions may fail here: the faults are the point
            sim.run()
        counts, late = Counter(proxy.counts), Counter(proxy.late)
    events = sim.events().to_pandas()
    names = np.asarray(sim.population["name"])
    mine = events[(events["agent"] >= 0) & np.isin(names[events["agent"].clip(lower=0)], GENERATIVE[:agents])]
    failed = mine[mine["outcome"] == "failed"]
    recorded = {str(k): int(v) for k, v in failed["reason"].value_counts().items()}
    expected: Counter[str] = Counter({"timeout": sum(late.values())})  # the model's slowness, whatever was drawn
    for fault, cause in CAUSES.items():
        expected[cause] += counts.get(fault, 0) - late.get(fault, 0)
    lost = {cause: expected[cause] - recorded.get(cause, 0) for cause in sorted(set(CAUSES.values()))}
    other = {k: v for k, v in recorded.items() if k not in expected}
    requests = sum(counts.values()) - 1  # the GET /models check at start
    decisions = sum(int(n or 0) for n in sim.trace.read("steps").column(MODEL_DECISIONS).to_pylist())
    return FaultReport(
        steps=steps, requests=requests, decisions=decisions, events=len(mine),
        injected={k: int(counts.get(k, 0)) for k in CAUSES}, recorded=recorded, expected=dict(expected), lost=lost,
        other_failures=other, forwarded=int(counts.get("forwarded", 0)) - 1, late=dict(late),
        rejected=int((mine["outcome"] == "rejected").sum()),
        completed=sim.steps_done >= steps,
        seconds=time.monotonic() - started,
        failed_reasons_all_named=bool(failed["reason"].notna().all() and (failed["reason"] != "").all()),
    )
