"""The Ray executor: each mind shard lives in a Ray actor that keeps its state between steps.

Only observations go out and actions come back each step; memories, plans and model clients stay
in the actor. Checkpoints pull the shards' states. When a worker dies mid-step, the shard is
rebuilt in a new actor from its last checkpointed state, the decisions it made since then are
replayed from the logged observations (model answers come from the response cache, so this
costs no model calls), and the step is retried. The result is the one the local executor gives.

Start a cluster with ``ray start --head`` (see docs/scale-out.md) and run
``populace run SCENARIO --executor ray --address auto``; with no address a local Ray instance is
started with the machine's CPUs.
"""

from __future__ import annotations

import asyncio
import os
import pickle
from collections.abc import Sequence
from typing import Any

from populace.errors import PopulaceError
from populace.execution.base import Executor
from populace.minds.base import Decisions, Mind, MindContext
from populace.world import Observations

MAX_RECOVERIES = 3


def _ray() -> Any:
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a declared dependency
        raise PopulaceError("the ray executor needs Ray: pip install 'populace[ray]'") from None
    return ray


class _ShardHost:
    """The actor body: one mind shard, deciding with the run's context re-attached."""

    def __init__(self, payload: bytes, context: MindContext) -> None:
        self.mind: Mind = pickle.loads(payload)
        self.mind.attach(context)
        self.loop = asyncio.new_event_loop()

    def start(self) -> None:
        self.loop.run_until_complete(self.mind.start())

    def decide(self, observations: Observations) -> tuple[Decisions, dict[str, float]]:
        decisions = self.loop.run_until_complete(self.mind.decide(observations))
        return decisions, self.mind.stats()

    def state(self) -> bytes:
        return pickle.dumps(self.mind, protocol=pickle.HIGHEST_PROTOCOL)

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        self.loop.run_until_complete(self.mind.aclose())


class RayExecutor(Executor):
    """Runs each shard in its own Ray actor (``address``: an existing cluster, or None for local)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.actors: list[Any] = []
        self._checkpoint: list[bytes] = []  # each shard's state at the last checkpoint
        self._log: list[list[Observations]] = []  # each shard's observations since then
        self._stats: list[dict[str, float]] = []
        self.context = MindContext()
        self.recoveries = 0

    async def start(self, minds: Sequence[Mind], context: MindContext) -> None:
        ray = _ray()
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, num_cpus=self.num_cpus if self.address is None else None,
                         include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                         configure_logging=False)
            except Exception as exc:  # ConnectionError and Ray's own errors for a bad address
                raise PopulaceError(f"cannot reach the Ray cluster at {self.address or 'local'}: {exc}") from None
        self.context = MindContext(context.run_path, dict(context.model), context.replay)
        self._checkpoint = [pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL) for m in minds]
        self._log = [[] for _ in minds]
        self._stats = [{} for _ in minds]
        self.actors = [self._spawn(payload) for payload in self._checkpoint]
        await asyncio.gather(*(actor.start.remote() for actor in self.actors))

    def _spawn(self, payload: bytes) -> Any:
        ray = _ray()
        host = ray.remote(num_cpus=0)(_ShardHost)
        return host.remote(payload, self.context)

    async def decide(self, requests: Sequence[tuple[int, Observations]]) -> list[Decisions]:
        results = await asyncio.gather(*(self._decide_one(shard, obs) for shard, obs in requests))
        return list(results)

    async def _decide_one(self, shard: int, observations: Observations) -> Decisions:
        ray = _ray()
        for attempt in range(MAX_RECOVERIES + 1):
            try:
                decisions, stats = await self.actors[shard].decide.remote(observations)
                break
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError):
                if attempt == MAX_RECOVERIES:
                    raise PopulaceError(f"mind shard {shard} failed {MAX_RECOVERIES + 1} times; giving up") from None
                await self._recover(shard)
        self._log[shard].append(observations)
        self._stats[shard] = stats
        return decisions

    async def _recover(self, shard: int) -> None:
        """Rebuild a dead shard from its checkpoint and replay its decisions since then."""
        self.recoveries += 1
        actor = self._spawn(self._checkpoint[shard])
        await actor.start.remote()
        for observations in self._log[shard]:
            await actor.decide.remote(observations)
        self.actors[shard] = actor

    async def collect(self) -> list[Mind]:
        payloads = await asyncio.gather(*(actor.state.remote() for actor in self.actors))
        self._pending = list(payloads)
        return [pickle.loads(p) for p in payloads]

    def checkpointed(self) -> None:
        self._checkpoint = getattr(self, "_pending", self._checkpoint)
        self._log = [[] for _ in self.actors]

    def stats(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for stats in self._stats:
            for key, value in stats.items():
                total[key] = total.get(key, 0) + value
        return total

    async def pids(self) -> list[int]:
        """The worker process of each shard (tests kill one)."""
        return list(await asyncio.gather(*(actor.pid.remote() for actor in self.actors)))

    async def close(self) -> None:
        ray = _ray()
        for actor in self.actors:
            try:
                await actor.close.remote()
                ray.kill(actor)
            except Exception:  # an actor that is already gone needs no closing
                pass
        self.actors = []
