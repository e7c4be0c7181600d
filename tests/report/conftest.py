"""Fixtures: a small recorded run of the social kind, written through the real trace store (its
events, and the agents' snapshot after its last step)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from populace.events import Events
from populace.runs import Run
from populace.scenario import load_scenario
from populace.simulation import build_population, snapshot_tables
from populace.trace import TraceStore

MALICIOUS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _ok(kind: str, agents: list[int], args: dict, data: dict | None = None) -> Events:
    n = len(agents)
    return Events(kind, np.array(agents, dtype=np.int64), np.full(n, "ok", dtype=object), None,
                  {k: np.array(v, dtype=object if isinstance(v[0], str) else None) for k, v in args.items()},
                  {k: np.array(v) for k, v in (data or {}).items()})


def write_social_run(runs_dir: Path) -> Path:
    """Five steps of posts, comments, likes and reposts by 12 agents, with prompts kept for two decisions."""
    scenario = load_scenario("opinion", ["population.size=12", "steps=5"])
    run = Run.create(runs_dir, scenario)
    store = TraceStore(run.path)
    start = datetime(2025, 1, 1, 8)
    steps = [
        [_ok("create_post", [1, 2], {"content": ["Hello, town!", MALICIOUS]}, {"post_id": [0, 1]})],
        [_ok("like_post", [3, 4, 5], {"post_id": [0, 0, 1]}),
         _ok("create_comment", [3], {"post_id": [0], "content": ["Welcome <b>neighbour</b>"]}, {"comment_id": [0]}),
         _ok("repost", [4], {"post_id": [0]}, {"post_id": [2]})],
        [_ok("repost", [6], {"post_id": [2]}, {"post_id": [3]}), _ok("like_comment", [1], {"comment_id": [0]})],
        [_ok("create_post", [7], {"content": ["Market day tomorrow"]}, {"post_id": [4]}),
         _ok("unlike_post", [5], {"post_id": [1]})],
        [_ok("like_post", [8, 9], {"post_id": [4, 0]})],
    ]
    for step, events in enumerate(steps):
        ok = sum(len(e) for e in events)
        store.record(step, start + timedelta(hours=step), events, {"active": 12, "ok": ok, "rejected": 0, "failed": 0,
                                                                   "llm_calls": 1, "llm_cache_hits": step},
                     {"posts": float(sum(len(e) for s in steps[:step + 1] for e in s if e.kind == "create_post")),
                      "variance": 0.1 / (step + 1)})
    pop_seq = np.random.SeedSequence(scenario.seed).spawn(4)[0]  # the agents the run's scenario makes
    store.save_snapshot(5, snapshot_tables({"population": build_population(scenario, np.random.default_rng(pop_seq))}))
    store.close()
    (run.path / "decisions").mkdir()
    pq.write_table(pa.table({
        "step": [0, 0], "agent": [1, 2], "action": ["create_post", "create_post"],
        "prompt": ["You are agent 1. Write a post.", "You are agent 2. Write a post."],
        "response": ['{"content": "Hello, town!"}', '{"content": "' + MALICIOUS.replace('"', "'") + '"}'],
    }), run.path / "decisions" / "00000000-00000000.parquet")
    run.update(status="completed", steps_done=5)
    return run.path


@pytest.fixture(scope="session")
def social_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_social_run(tmp_path_factory.mktemp("social"))


@pytest.fixture(scope="session")
def malicious() -> str:
    """The text of the post (and answer) written to attack the page."""
    return MALICIOUS
