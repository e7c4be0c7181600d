"""Fallback chains: a mind tier that decides again with the next mind of a declared chain when its
decision fails after the model client's retries, and that steps down the chain when the run's
budget is spent (``budget.on_exhausted: degrade``).

    minds:
      - select: all
        type: generative
        fallback:                      # tried in order, for the agents whose decision failed
          - {type: archetype, prompt: "...", options: [...]}
          - {type: rules, policy: browse}

A long run whose model server fails then goes on with cheaper decisions instead of none. Each
decision a fallback made is recorded with its cause: a ``fallback`` event per agent (``data``: the
cause and the mind that decided; the action itself is the ordinary event beside it) and the step's
``fallback_<cause>`` count (``fallback_connection``, ``fallback_budget``). It is not a failed
decision: only an agent that every mind of the chain failed is, with the first mind's cause. When
the budget is spent, the chain steps down to its first mind that asks no model, and every
decision from then on counts as ``fallback_budget``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from populace.context import MindContext
from populace.events import FAILED, FALLBACK_BY, Events
from populace.minds.base import Decisions, Mind
from populace.minds.language import LanguageMind
from populace.world import Observations

#: the cause of decisions made by a mind stepped down because the budget is spent
BUDGET = "budget"
#: the event kind that marks an agent's decision as made by a fallback
FALLBACK_EVENT = "fallback"


class FallbackMind(Mind):
    """A mind (the chain's first) with the minds it falls back on, in order; all decide for the same
    agents, each with its own parameters and random stream."""

    name = "fallback"

    def __init__(self, chain: Sequence[Mind]) -> None:
        if len(chain) < 2:
            raise ValueError("a fallback chain needs a mind and at least one to fall back on")
        first = chain[0]
        super().__init__(first.population, first.action_space, rng=first.rng, context=first.context)
        self.chain = list(chain)
        self.level = 0  # the chain's mind that decides first (0 until the budget steps it down)
        self.cause: str | None = None  # why it was stepped down
        self._counters: dict[str, float] = {}

    @property
    def primary(self) -> Mind:
        """The mind the scenario declared; the others stand in for it."""
        return self.chain[0]

    @property
    def current(self) -> Mind:
        return self.chain[self.level]

    @property
    def asks_model(self) -> bool:
        """Whether the mind deciding first now asks a language model."""
        return isinstance(self.current, LanguageMind)

    @property
    def memory(self) -> Any:
        """The declared mind's memory stream, where it keeps one (readers of checkpoints look for it)."""
        return getattr(self.primary, "memory", None)

    def attach(self, context: MindContext) -> None:
        super().attach(context)
        for mind in self.chain:
            mind.attach(context)

    async def start(self) -> None:
        for mind in self.chain:
            await mind.start()

    async def aclose(self) -> None:
        for mind in self.chain:
            await mind.aclose()

    def stats(self) -> dict[str, float]:
        """Every mind's counters added up, and the fallback counts."""
        total: dict[str, float] = {}
        for one in [*(mind.stats() for mind in self.chain), self._counters]:
            for key, value in one.items():
                total[key] = total.get(key, 0) + value
        return total

    # -- stepping down and back up -----------------------------------------------------------
    async def degrade(self, cause: str = BUDGET) -> str | None:
        """Step down to the chain's first mind that asks no model; ``"generative -> rules"``, or
        None when there is none below or it is there already. (Async: executors call it on shards.)"""
        below = [level for level in range(self.level, len(self.chain))
                 if not isinstance(self.chain[level], LanguageMind)]
        if not below or below[0] == self.level:
            return None
        before = self.current.name
        self.level, self.cause = below[0], cause
        return f"{before} -> {self.current.name}"

    async def recover(self) -> str | None:
        """Decide with the declared mind again (a larger budget); ``"rules -> generative"`` or None."""
        if self.level == 0:
            return None
        before = self.current.name
        self.level, self.cause = 0, None
        return f"{before} -> {self.current.name}"

    # -- deciding ----------------------------------------------------------------------------
    async def decide(self, observations: Observations) -> Decisions:
        decisions = await self.current.decide(observations)
        if self.cause is not None and len(observations):
            self._count(self.cause, len(observations))
        decisions.failures, failed, causes = _split(decisions.failures)
        for lower in self.chain[self.level + 1:]:
            if not len(failed):
                break
            cause_of = dict(zip(failed.tolist(), causes, strict=True))
            retry = observations.take(np.flatnonzero(np.isin(observations.agents, failed)))
            result = await lower.decide(retry)
            kept, failed, _ = _split(result.failures)
            decisions.actions.extend(result.actions)
            decisions.failures.extend(kept)
            decisions.notes.extend(result.notes)
            rescued = retry.agents[~np.isin(retry.agents, failed)]
            causes = [cause_of[a] for a in failed.tolist()]
            if len(rescued):
                why = np.asarray([cause_of[a] for a in rescued.tolist()], dtype=object)
                decisions.notes.append(Events.world(FALLBACK_EVENT, rescued, cause=why, mind=lower.name))
                for cause in why.tolist():
                    self._count(cause, 1)
        if len(failed):
            decisions.failures.append(Events.failed(failed, np.asarray(causes, dtype=object)))
        return decisions

    def _count(self, cause: str, n: int) -> None:
        key = FALLBACK_BY + cause
        self._counters[key] = self._counters.get(key, 0) + n


def _split(failures: list[Events]) -> tuple[list[Events], np.ndarray, list[str]]:
    """Failed decisions apart from the other events a mind reported (e.g. rejections): the others,
    and the failed agents with their causes."""
    kept: list[Events] = []
    agents: list[np.ndarray] = []
    causes: list[str] = []
    for batch in failures:
        failed = (np.asarray(batch.outcome) == FAILED) & (batch.agents >= 0)
        if not failed.any():
            kept.append(batch)
            continue
        if not failed.all():
            kept.append(batch.take(~failed))
        agents.append(batch.agents[failed])
        reasons = batch.reason[failed].tolist() if batch.reason is not None else [None] * int(failed.sum())
        causes += [str(r) if r else "unknown" for r in reasons]
    found = np.concatenate(agents) if agents else np.zeros(0, dtype=np.int64)
    return kept, found, causes
