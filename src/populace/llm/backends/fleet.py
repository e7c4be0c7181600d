"""Several servers of the same model behind one backend: a vLLM fleet, one server per GPU.

Each request goes to the server with the lowest share of its own concurrency limit in use
(the first such server on a tie), so a server never has more requests in flight than its limit
while the client admits at most the sum of the limits. Every server serves the same model, so
the backend's name, and with it the response cache's keys, does not depend on which server
answered: a run replays exactly whatever the routing was.

    model:
      backend: openai
      model: Qwen/Qwen2.5-7B-Instruct
      servers:
        - {base_url: "http://gpu-0:8000/v1", concurrency: 64}
        - {base_url: "http://gpu-1:8000/v1", concurrency: 64}
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from populace.llm.base import Backend, Choice, Completion, Prompt, Sampling

T = TypeVar("T")


class FleetBackend(Backend):
    """Routes each request to the least-loaded of several backends serving one model."""

    def __init__(self, members: Sequence[Backend], limits: Sequence[int]) -> None:
        if not members or len(members) != len(limits):
            raise ValueError("a fleet needs one concurrency limit per server")
        self.members = list(members)
        self.limits = [max(1, int(limit)) for limit in limits]
        self.name = self.members[0].name
        self.in_flight = [0] * len(self.members)
        self.served = [0] * len(self.members)  # requests each server answered or failed

    def _pick(self) -> int:
        return min(range(len(self.members)), key=lambda i: (self.in_flight[i] / self.limits[i], i))

    async def _routed(self, call: Callable[[Backend], Awaitable[T]]) -> T:
        index = self._pick()
        self.in_flight[index] += 1
        try:
            return await call(self.members[index])
        finally:
            self.in_flight[index] -= 1
            self.served[index] += 1

    async def start(self) -> None:
        """Every server must answer: one that is down stops the run before step 0."""
        await asyncio.gather(*(member.start() for member in self.members))

    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        return await self._routed(lambda member: member.complete(prompt, sampling, schema))

    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        return await self._routed(lambda member: member.choose(prompt, options))

    async def aclose(self) -> None:
        await asyncio.gather(*(member.aclose() for member in self.members))
