"""Minds are tested through the real client over a scripted backend whose answers come from functions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from populace.llm.backends.scripted import ScriptedBackend
from populace.llm.base import Choice, Completion, Prompt, Sampling
from populace.llm.client import LanguageModel


class RecordingBackend(ScriptedBackend):
    """A scripted backend that records every prompt it is sent and can delay answers by prompt."""

    def __init__(self, choose: Callable[[str, Sequence[str]], Sequence[float]] | None,
                 complete: Callable[[str, dict[str, Any] | None], Any] | None,
                 delay: Callable[[str], float] | None) -> None:
        def respond(text: str, sampling: Sampling, schema: dict[str, Any] | None) -> str:
            value = complete(text, schema) if complete is not None else ""
            return value if isinstance(value, str) else json.dumps(value)

        super().__init__(respond, probabilities=choose)
        self.delay = delay
        self.prompts: list[str] = []

    async def _record(self, prompt: Prompt) -> None:
        self.prompts.append(str(prompt))
        if self.delay is not None:
            await asyncio.sleep(self.delay(str(prompt)))

    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        await self._record(prompt)
        return await super().complete(prompt, sampling, schema)

    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        await self._record(prompt)
        return await super().choose(prompt, options)


def scripted_model(choose: Callable[[str, Sequence[str]], Sequence[float]] | None = None,
                   complete: Callable[[str, dict[str, Any] | None], Any] | None = None,
                   delay: Callable[[str], float] | None = None) -> LanguageModel:
    """A client (no cache, no retries) over a recording scripted backend; ``.prompts`` lists what it was sent."""
    model = LanguageModel(RecordingBackend(choose, complete, delay), retries=0, repairs=0, concurrency=64)
    model.prompts = model.backend.prompts  # type: ignore[attr-defined]
    return model


@pytest.fixture
def scripted() -> Callable[..., LanguageModel]:
    return scripted_model
