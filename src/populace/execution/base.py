"""The executor contract: host a run's shards, call their methods each step, hand back their states.

A shard is a mind shard (``decide``) or, for a partitioned world, a region: a part of the world
with the minds of its agents (``step``). Either way it is an object the executor owns between
steps, so nothing heavy moves each step: only the call's arguments go out and its result comes back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol

from populace.context import MindContext
from populace.minds.base import Decisions
from populace.registry import Registry
from populace.world import Observations

#: one call: (shard index, async method name, positional arguments)
Call = tuple[int, str, tuple[Any, ...]]


class Shard(Protocol):
    """What an executor hosts: a mind shard or a region of a partitioned world."""

    def attach(self, context: MindContext) -> None: ...

    async def start(self) -> None: ...

    def stats(self) -> dict[str, float]: ...

    async def aclose(self) -> None: ...


class Executor(ABC):
    """Hosts shards; ``call`` runs a method of several shards concurrently."""

    name: str = ""
    #: the shards live in other processes: the objects handed to ``start`` are copies from then on
    keeps_state_elsewhere: bool = False

    @abstractmethod
    async def start(self, shards: Sequence[Any], context: MindContext) -> None:
        """Take ownership of the shards (after construction, or after a checkpoint was loaded)."""

    @abstractmethod
    async def call(self, calls: Sequence[Call]) -> list[Any]:
        """Await ``shard.method(*args)`` for each call concurrently; results in call order."""

    async def decide(self, requests: Sequence[tuple[int, Observations]]) -> list[Decisions]:
        """Decide for each ``(mind shard, observations)`` concurrently; results in request order."""
        return await self.call([(shard, "decide", (observations,)) for shard, observations in requests])

    @abstractmethod
    async def collect(self) -> list[Any]:
        """The shards' current states, for a checkpoint."""

    def checkpointed(self) -> None:
        """Called after a checkpoint was written (an executor may drop what it kept since the last)."""
        return None

    @abstractmethod
    def stats(self) -> dict[str, float]:
        """Counters summed over shards, cumulative (model calls, tokens...)."""

    async def close(self) -> None:
        return None


def summed(stats: Sequence[dict[str, float]]) -> dict[str, float]:
    """Shards' counters added up key by key."""
    total: dict[str, float] = {}
    for one in stats:
        for key, value in one.items():
            total[key] = total.get(key, 0) + value
    return total


executors: Registry[type[Executor]] = Registry(
    "executor", lazy={"local": "populace.execution.local:LocalExecutor",
                      "ray": "populace.execution.raycluster:RayExecutor"},
)
