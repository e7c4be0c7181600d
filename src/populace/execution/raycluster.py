"""The Ray executor: each shard (a mind shard, or a region of a partitioned world) lives in a Ray
actor that keeps its state between steps; with ``actors`` set, that many actors share the shards
round-robin (64 shards on 16 cores, say), and calls to the shards of one actor run in turn.

Only each call's arguments go out and its result comes back: memories, plans, model clients and a
region's part of the world stay in the actor. Checkpoints pull the shards' states. When a worker
dies mid-step, its actor is rebuilt from its shards' last checkpointed states, the calls they
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

from populace.context import MindContext
from populace.errors import PopulaceError
from populace.execution.base import Call, Executor, summed

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
    """The actor body: some of the run's shards (by index), with the run's context re-attached."""

    def __init__(self, context: MindContext, indices: list[int], *payloads: bytes) -> None:
        from populace.plugins import import_plugins

        import_plugins(context.plugins)  # the user's worlds, minds and policies the shards refer to
        self.shards: dict[int, Any] = {i: pickle.loads(p) for i, p in zip(indices, payloads, strict=True)}
        for shard in self.shards.values():
            shard.attach(context)
        self.loop = asyncio.new_event_loop()

    def start(self) -> None:
        for shard in self.shards.values():
            self.loop.run_until_complete(shard.start())

    def run(self, index: int, method: str, args: tuple[Any, ...]) -> tuple[Any, dict[str, float]]:
        shard = self.shards[index]
        try:
            result = self.loop.run_until_complete(getattr(shard, method)(*args))
        except PopulaceError as exc:
            return _Refused(exc), shard.stats()
        return result, shard.stats()

    def state(self, index: int) -> bytes:
        return pickle.dumps(self.shards[index], protocol=pickle.HIGHEST_PROTOCOL)

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        for shard in self.shards.values():
            self.loop.run_until_complete(shard.aclose())


class RayExecutor(Executor):
    """Runs the shards in Ray actors: one actor per shard, or ``actors`` actors sharing them round-robin
    (``address``: an existing cluster, or None to start a local one)."""

    name = "ray"
    keeps_state_elsewhere = True

    def __init__(self, address: str | None = None, num_cpus: int | None = None, actors: int | None = None) -> None:
        if actors is not None and actors < 1:
            raise PopulaceError(f"--actors must be at least 1, got {actors}")
        self.address = address
        self.num_cpus = num_cpus
        self.max_actors = actors
        self.actors: list[Any] = []
        self.home: list[int] = []  # the actor of each shard
        self._checkpoint: list[Any] = []  # each shard's state at the last checkpoint (object refs)
        self._pending: list[Any] | None = None
        self._log: list[list[tuple[str, tuple[Any, ...]]]] = []  # each shard's calls since then
        self._stats: list[dict[str, float]] = []
        self._rebuilds: list[int] = []  # per actor: how many times it was rebuilt
        self._locks: list[asyncio.Lock] = []
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
        self.context = MindContext(context.run_path, dict(context.model), context.replay, plugins=context.plugins)
        # kept in the object store, not in the driver's heap: a region of a large world is big
        self._checkpoint = [ray.put(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in shards]
        self._log = [[] for _ in shards]
        self._stats = [{} for _ in shards]
        count = min(self.max_actors or len(shards), len(shards))
        self.home = [i % count for i in range(len(shards))]
        self._rebuilds = [0] * count
        self._locks = [asyncio.Lock() for _ in range(count)]
        self.actors = [self._spawn(a) for a in range(count)]
        await asyncio.gather(*(actor.start.remote() for actor in self.actors))

    def _members(self, actor: int) -> list[int]:
        return [i for i, home in enumerate(self.home) if home == actor]

    def _spawn(self, actor: int) -> Any:
        ray = _ray()
        host = ray.remote(num_cpus=0)(_ShardHost)
        members = self._members(actor)
        return host.remote(self.context, members, *(self._checkpoint[i] for i in members))

    async def call(self, calls: Sequence[Call]) -> list[Any]:
        return list(await asyncio.gather(*(self._call_one(shard, method, args) for shard, method, args in calls)))

    async def _call_one(self, shard: int, method: str, args: tuple[Any, ...]) -> Any:
        ray = _ray()
        actor = self.home[shard]
        for attempt in range(MAX_RECOVERIES + 1):
            rebuilds = self._rebuilds[actor]
            try:
                result, stats = await self.actors[actor].run.remote(shard, method, args)
                break
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError):
                if attempt == MAX_RECOVERIES:
                    raise PopulaceError(f"shard {shard} failed {MAX_RECOVERIES + 1} times; giving up") from None
                async with self._locks[actor]:
                    if self._rebuilds[actor] == rebuilds:  # not yet rebuilt by another of its shards' calls
                        await self._recover(actor)
        self._log[shard].append((method, args))
        self._stats[shard] = stats
        if isinstance(result, _Refused):
            raise result.error
        return result

    async def _recover(self, actor: int) -> None:
        """Rebuild a dead actor from its shards' checkpoints and replay their calls since then."""
        self.recoveries += 1
        self._rebuilds[actor] += 1
        replacement = self._spawn(actor)
        await replacement.start.remote()
        for shard in self._members(actor):
            for method, args in self._log[shard]:
                await replacement.run.remote(shard, method, args)
        self.actors[actor] = replacement

    async def collect(self) -> list[Any]:
        refs = [self.actors[self.home[i]].state.remote(i) for i in range(len(self.home))]
        payloads = await asyncio.gather(*refs)
        self._pending = refs
        return [pickle.loads(p) for p in payloads]

    def checkpointed(self) -> None:
        if self._pending is not None:
            self._checkpoint, self._pending = self._pending, None
        self._log = [[] for _ in self.home]

    def stats(self) -> dict[str, float]:
        return summed(self._stats)

    async def pids(self) -> list[int]:
        """The worker process of each actor (tests kill one)."""
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
