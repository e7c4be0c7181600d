"""The local executor: every shard runs in this process, concurrently on one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from populace.context import MindContext
from populace.execution.base import Call, Executor, summed


class LocalExecutor(Executor):
    name = "local"

    def __init__(self) -> None:
        self.shards: list[Any] = []

    async def start(self, shards: Sequence[Any], context: MindContext) -> None:
        self.shards = list(shards)
        for shard in self.shards:
            shard.attach(context)
        for shard in self.shards:
            await shard.start()

    async def call(self, calls: Sequence[Call]) -> list[Any]:
        return list(await asyncio.gather(*(getattr(self.shards[i], method)(*args) for i, method, args in calls)))

    async def collect(self) -> list[Any]:
        return self.shards

    def stats(self) -> dict[str, float]:
        return summed([shard.stats() for shard in self.shards])

    async def close(self) -> None:
        for shard in self.shards:
            await shard.aclose()
