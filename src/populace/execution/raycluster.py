"""The Ray executor: each shard (a mind shard, or a region of a partitioned world) lives in a Ray
actor that keeps its state between steps.

Only each call's arguments go out and its result comes back: memories, plans, model clients and a
region's part of the world stay in the actor. Checkpoints pull the shards' states. When a worker
dies mid-step, the shard is rebuilt in a new actor from its last checkpointed state, the calls it
served since then are replayed (model answers come from the response cache, so this costs no
model calls), and the step is retried. The result is the one the local executor gives.

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
from populace.execution.base import Call, Executor, summed
from populace.minds.base import MindContext

MAX_RECOVERIES = 3


def _ray() -> Any:
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a declared dependency
        raise PopulaceError("the ray executor needs Ray: pip install 'populace[ray]'") from None
    return ray


class _Refused:
    """A PopulaceError raised in the actor, carried back to be raised again in the driver as itself."""

    def __init__(self, error: PopulaceError) -> None:
        self.error = error


class _ShardHost:
    """The actor body: one shard, with the run's context re-attached."""

    def __init__(self, payload: bytes, context: MindContext) -> None:
        self.shard: Any = pickle.loads(payload)
        self.shard.attach(context)
        self.loop = asyncio.new_event_loop()

    def start(self) -> None:
        self.loop.run_until_complete(self.shard.start())

    def run(self, method: str, args: tuple[Any, ...]) -> tuple[Any, dict[str, float]]:
        try:
            result = self.loop.run_until_complete(getattr(self.shard, method)(*args))
        except PopulaceError as exc:
            return _Refused(exc), self.shard.stats()
        return result, self.shard.stats()

    def state(self) -> bytes:
        return pickle.dumps(self.shard, protocol=pickle.HIGHEST_PROTOCOL)

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        self.loop.run_until_complete(self.shard.aclose())


class RayExecutor(Executor):
    """Runs each shard in its own Ray actor (``address``: an existing cluster, or None for local)."""

    name = "ray"
    keeps_state_elsewhere = True

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.actors: list[Any] = []
        self._checkpoint: list[Any] = []  # each shard's state at the last checkpoint (object refs)
        self._pending: list[Any] | None = None
        self._log: list[list[tuple[str, tuple[Any, ...]]]] = []  # each shard's calls since then
        self._stats: list[dict[str, float]] = []
        self.context = MindContext()
        self.recoveries = 0

    async def start(self, shards: Sequence[Any], context: MindContext) -> None:
        ray = _ray()
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, num_cpus=self.num_cpus if self.address is None else None,
                         include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                         configure_logging=False)
            except Exception as exc:  # ConnectionError and Ray's own errors for a bad address
                raise PopulaceError(f"cannot reach the Ray cluster at {self.address or 'local'}: {exc}") from None
        self.context = MindContext(context.run_path, dict(context.model), context.replay)
        # kept in the object store, not in the driver's heap: a region of a large world is big
        self._checkpoint = [ray.put(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in shards]
        self._log = [[] for _ in shards]
        self._stats = [{} for _ in shards]
        self.actors = [self._spawn(payload) for payload in self._checkpoint]
        await asyncio.gather(*(actor.start.remote() for actor in self.actors))

    def _spawn(self, payload: Any) -> Any:
        ray = _ray()
        host = ray.remote(num_cpus=0)(_ShardHost)
        return host.remote(payload, self.context)

    async def call(self, calls: Sequence[Call]) -> list[Any]:
        return list(await asyncio.gather(*(self._call_one(shard, method, args) for shard, method, args in calls)))

    async def _call_one(self, shard: int, method: str, args: tuple[Any, ...]) -> Any:
        ray = _ray()
        for attempt in range(MAX_RECOVERIES + 1):
            try:
                result, stats = await self.actors[shard].run.remote(method, args)
                break
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError):
                if attempt == MAX_RECOVERIES:
                    raise PopulaceError(f"shard {shard} failed {MAX_RECOVERIES + 1} times; giving up") from None
                await self._recover(shard)
        self._log[shard].append((method, args))
        self._stats[shard] = stats
        if isinstance(result, _Refused):
            raise result.error
        return result

    async def _recover(self, shard: int) -> None:
        """Rebuild a dead shard from its checkpoint and replay its calls since then."""
        self.recoveries += 1
        actor = self._spawn(self._checkpoint[shard])
        await actor.start.remote()
        for method, args in self._log[shard]:
            await actor.run.remote(method, args)
        self.actors[shard] = actor

    async def collect(self) -> list[Any]:
        refs = [actor.state.remote() for actor in self.actors]
        payloads = await asyncio.gather(*refs)
        self._pending = refs
        return [pickle.loads(p) for p in payloads]

    def checkpointed(self) -> None:
        if self._pending is not None:
            self._checkpoint, self._pending = self._pending, None
        self._log = [[] for _ in self.actors]

    def stats(self) -> dict[str, float]:
        return summed(self._stats)

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
