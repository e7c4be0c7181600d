"""The Mind contract: ``await decide(observations) -> Decisions`` over a batch of agents.

The contract is async so that language-model minds can batch and overlap their calls; a rules
mind simply returns at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar, cast

import numpy as np
from pydantic import BaseModel, ConfigDict

from populace.actions import Actions, ActionSpace
from populace.context import MindContext
from populace.events import Events
from populace.population import Population
from populace.registry import Registry
from populace.world import Column, Observations


class Reads(NamedTuple):
    """Observation columns a mind's parameters name: at ``field`` (``prompt``, ``options.like.args.post``),
    read by ``what`` (``'browse'``, ``the prompt``: the subject of the line that reports a missing one)."""

    field: str
    what: str
    columns: tuple[str, ...]


class MindConfig(BaseModel):
    """Base of every mind's parameters; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    def observation_reads(self, observed: Mapping[str, Column]) -> list[Reads]:
        """The observation columns these parameters name (a policy's, a template's ``{obs.<col>}``),
        checked against the world's declared columns ``observed`` when a scenario loads. Default: none."""
        return []


@dataclass
class Decisions:
    """What a mind decided: actions, the agents whose decision failed (with the cause), and notes on
    how it decided that the trace keeps as they are (e.g. which decisions a fallback made)."""

    actions: list[Actions] = field(default_factory=list)
    failures: list[Events] = field(default_factory=list)
    notes: list[Events] = field(default_factory=list)

    def extend(self, other: Decisions) -> None:
        self.actions.extend(other.actions)
        self.failures.extend(other.failures)
        self.notes.extend(other.notes)


M = TypeVar("M", bound=MindConfig)


class Mind(ABC, Generic[M]):
    """Base class of every mind tier."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[MindConfig]] = MindConfig

    def __init__(
        self, population: Population, action_space: ActionSpace,
        config: MindConfig | Mapping[str, Any] | None = None, *, rng: np.random.Generator | None = None,
        context: MindContext | None = None,
    ) -> None:
        self.population = population
        self.action_space = action_space
        #: the mind's parameters, typed as its ``Config`` where the class says ``Mind[ItsConfig]``
        given = config if isinstance(config, self.Config) else self.Config.model_validate(config or {})
        self.config: M = cast(M, given)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.context = context if context is not None else MindContext()

    def attach(self, context: MindContext) -> None:
        """Re-attach the run's context after a checkpoint was loaded (resume, fork, replay)."""
        self.context = context

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("context", None)  # live clients and handles are never checkpointed
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.context = MindContext()

    @abstractmethod
    async def decide(self, observations: Observations) -> Decisions:
        """Decide one action (or none) for each observed agent."""

    def stats(self) -> dict[str, float]:
        """Cumulative counters since the run began (e.g. model calls); the simulation records
        each step's increase. None by default."""
        return {}

    async def start(self) -> None:
        """Check what the mind needs before the first step (e.g. that its model answers), so a
        server that is down or a wrong model name stops the run with one line before step 0."""
        return None

    async def aclose(self) -> None:
        """Release resources (connections, model handles) at the end of a run."""
        return None


#: Mind tiers by name; the modules of ``populace.minds`` register themselves on first lookup.
minds: Registry[type[Mind]] = Registry("mind", discover=("populace.minds",), group="populace.minds")
