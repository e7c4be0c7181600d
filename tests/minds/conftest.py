"""A scripted stand-in for the language-model client: answers come from plain functions."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from populace.llm.base import Choice, Completion, ModelError, Prompt, Sampling, Usage


class ScriptedModel:
    """Implements the client calls minds use; counts every call and every prompt."""

    def __init__(self, choose: Callable[[str, Sequence[str]], Sequence[float]] | None = None,
                 complete: Callable[[str, dict[str, Any] | None], Any] | None = None,
                 delay: Callable[[str], float] | None = None) -> None:
        self._choose = choose or (lambda prompt, options: [1.0] * len(options))
        self._complete = complete or (lambda prompt, schema: "")
        self._delay = delay
        self.usage = Usage()
        self.prompts: list[str] = []
        self._ids = itertools.count()

    async def _wait(self, prompt: str, usage: Usage | None) -> None:
        self.prompts.append(prompt)
        self.usage.calls += 1
        if usage is not None:
            usage.calls += 1
        if self._delay is not None:
            await asyncio.sleep(self._delay(prompt))

    async def choose(self, prompt: Prompt, options: Sequence[str], *, usage: Usage | None = None) -> Choice:
        text = str(prompt)
        await self._wait(text, usage)
        try:
            p = np.asarray(self._choose(text, options), dtype=float)
        except ModelError:
            self.usage.failures += 1
            if usage is not None:
                usage.failures += 1
            raise
        return Choice(list(options), p / p.sum(), f"r{next(self._ids)}")

    async def complete(self, prompt: Prompt, *, sampling: Sampling | None = None,
                       schema: dict[str, Any] | None = None, usage: Usage | None = None) -> Completion:
        text = str(prompt)
        await self._wait(text, usage)
        value = self._complete(text, schema)
        return Completion(text=str(value), request_id=f"r{next(self._ids)}", value=value,
                          tokens_in=len(text) // 4)


@pytest.fixture
def scripted() -> type[ScriptedModel]:
    return ScriptedModel
