"""The local executor: every shard decides in this process, concurrently on one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from populace.execution.base import Executor
from populace.minds.base import Decisions, Mind, MindContext
from populace.world import Observations


class LocalExecutor(Executor):
    name = "local"

    def __init__(self) -> None:
        self.minds: list[Mind] = []

    async def start(self, minds: Sequence[Mind], context: MindContext) -> None:
        self.minds = list(minds)
        for mind in self.minds:
            mind.attach(context)
        for mind in self.minds:
            await mind.start()

    async def decide(self, requests: Sequence[tuple[int, Observations]]) -> list[Decisions]:
        return list(await asyncio.gather(*(self.minds[i].decide(obs) for i, obs in requests)))

    async def collect(self) -> list[Mind]:
        return self.minds

    def stats(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for mind in self.minds:
            for key, value in mind.stats().items():
                total[key] = total.get(key, 0) + value
        return total

    async def close(self) -> None:
        for mind in self.minds:
            await mind.aclose()
