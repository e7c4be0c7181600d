"""The executor contract: run minds' ``decide`` calls and hand back their states for checkpoints."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from populace.minds.base import Decisions, Mind, MindContext
from populace.registry import Registry
from populace.world import Observations


class Executor(ABC):
    """Runs mind shards. ``minds[i]`` is shard ``i``; requests name a shard and its observations."""

    name: str = ""

    @abstractmethod
    async def start(self, minds: Sequence[Mind], context: MindContext) -> None:
        """Take ownership of the shards (after construction, or after a checkpoint was loaded)."""

    @abstractmethod
    async def decide(self, requests: Sequence[tuple[int, Observations]]) -> list[Decisions]:
        """Decide for each ``(shard, observations)`` concurrently; results in request order."""

    @abstractmethod
    async def collect(self) -> list[Mind]:
        """The shards' current states, for a checkpoint."""

    def checkpointed(self) -> None:
        """Called after a checkpoint was written (an executor may drop what it kept since the last)."""
        return None

    @abstractmethod
    def stats(self) -> dict[str, float]:
        """Counters summed over shards for the step just run (model calls, tokens...)."""

    async def close(self) -> None:
        return None


executors: Registry[type[Executor]] = Registry(
    "executor", lazy={"local": "populace.execution.local:LocalExecutor",
                      "ray": "populace.execution.raycluster:RayExecutor"},
)
