"""The archetype tier (after AgentTorch's LLM archetypes): one model answer per group of similar agents.

Agents are grouped by exactly the persona and observation fields the prompt template uses
(continuous values by their declared ``bins``). Each distinct group costs one ``choose`` call
per step: the model scores the option labels, and the resulting distribution is sampled once
per agent with the mind's generator. Cost grows with the number of groups, not with the
population. The draws are made in agent order before any answer is used, so the outcome does
not depend on the order in which calls complete. A failed call becomes a failed decision for
its group's agents, with the cause.

    minds:
      - type: archetype
        prompt: "You hold opinion {obs.opinion} on a 0-1 scale; your neighbour holds
                 {obs.neighbour_opinion}. You are {persona.age} years old. Options: {options}."
        bins: {obs.opinion: [0.25, 0.5, 0.75], obs.neighbour_opinion: [0.25, 0.5, 0.75],
               persona.age: [30, 50, 70]}
        options:
          discuss: {action: discuss, args: {with: obs.neighbour}}
          ignore: null
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from populace.actions import Actions, ActionSpace
from populace.errors import PopulaceError
from populace.events import Events
from populace.llm.base import Choice, ModelError, ModelUnavailableError
from populace.minds.base import Decisions, Reads, minds
from populace.minds.language import LanguageMind, LanguageMindConfig
from populace.minds.prompting import PromptError, PromptTemplate, Trusted, plain
from populace.world import Column, Observations

NOTHING = None


class Bins(BaseModel):
    """Cut points for a continuous field; ``labels`` (one more than ``edges``) name the bins in prompts."""

    model_config = ConfigDict(extra="forbid")
    edges: list[float] = Field(min_length=1)
    labels: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> Bins:
        if any(b <= a for a, b in itertools.pairwise(self.edges)):
            raise ValueError("bin edges must increase")
        if self.labels is not None and len(self.labels) != len(self.edges) + 1:
            raise ValueError(f"give {len(self.edges) + 1} labels for {len(self.edges)} edges")
        return self

    def names(self) -> list[str]:
        """One label per bin; by default ``below 0.3``, ``0.3 to 0.6``, ``0.6 or more``."""
        if self.labels is not None:
            return self.labels
        e = [f"{x:g}" for x in self.edges]
        return [f"below {e[0]}", *(f"{a} to {b}" for a, b in itertools.pairwise(e)), f"{e[-1]} or more"]

    def assign(self, values: np.ndarray) -> np.ndarray:
        """Bin index per value; NaN goes to an extra last bin, ``unknown``."""
        numbers = np.asarray(values, dtype=np.float64)
        index = np.searchsorted(np.asarray(self.edges), numbers, side="right")
        return np.where(np.isnan(numbers), len(self.edges) + 1, index)


class OptionSpec(BaseModel):
    """What an option label does: an action with arguments (``obs.<col>``, ``persona.<col>`` or a constant)."""

    model_config = ConfigDict(extra="forbid")
    action: str
    args: dict[str, Any] = Field(default_factory=dict)

    def check(self, label: str, space: ActionSpace, owner: str, complete: bool = True) -> None:
        """Fail at build time, with one line, when the option names an unknown action or its
        arguments do not match the action's (``complete``: every argument must be given)."""
        if self.action not in space:
            raise PopulaceError(f"{owner} option {label!r}: unknown action {self.action!r} "
                                f"(known: {', '.join(space.names)})")
        wanted, given = set(space[self.action].args), set(self.args)
        if given - wanted or (complete and wanted - given):
            raise PopulaceError(f"{owner} option {label!r}: {self.action} takes arguments "
                                f"{sorted(wanted) or 'none'}, not {sorted(given) or 'none'}")


class ArchetypeConfig(LanguageMindConfig):
    prompt: str = Field(description="template over {persona.<col>}, {obs.<col>} and {options}")
    options: list[str] | dict[str, OptionSpec | None] | None = Field(
        None, description="labels the model scores; a label maps to an action or to null (do nothing). "
        "Default: the world's action names"
    )
    bins: dict[str, list[float] | Bins] = Field(default_factory=dict, description="field -> cut points")
    max_field_chars: int = Field(280, ge=8, description="cut for each substituted text value")

    @field_validator("bins")
    @classmethod
    def _bins(cls, value: dict[str, list[float] | Bins]) -> dict[str, list[float] | Bins]:
        for key, spec in value.items():
            if not key.startswith(("persona.", "obs.")):
                raise ValueError(f"bins key {key!r} must name persona.<col> or obs.<col>")
            if isinstance(spec, list):
                Bins(edges=spec)
        return value

    @model_validator(mode="after")
    def _template(self) -> ArchetypeConfig:
        try:
            template = PromptTemplate(self.prompt, extras=("options",))
        except PromptError as exc:
            raise ValueError(str(exc).removeprefix("prompt template: ")) from None
        unused = set(self.bins) - set(template.fields)
        if unused:
            raise ValueError(f"bins for {', '.join(sorted(unused))}, which the prompt does not use")
        return self

    def observation_reads(self, observed: Mapping[str, Column]) -> list[Reads]:
        """The prompt's ``{obs.<col>}`` fields and the options' ``obs.<col>`` arguments."""
        fields = PromptTemplate(self.prompt, extras=("options",)).observation_fields
        options = self.options if isinstance(self.options, dict) else {}
        return [Reads("prompt", "the prompt", fields), *option_reads(options)]


def option_reads(options: Mapping[str, OptionSpec | None]) -> list[Reads]:
    """The observation columns options take arguments from (``args: {with: obs.neighbour}``)."""
    return [Reads(f"options.{label}.args.{name}", f"option {label!r}", (value.removeprefix("obs."),))
            for label, spec in options.items() if spec is not None
            for name, value in spec.args.items() if isinstance(value, str) and value.startswith("obs.")]


class ArchetypeMind(LanguageMind[ArchetypeConfig]):
    """One ``choose`` call per distinct group per step; each agent samples the group's distribution."""

    name = "archetype"
    Config = ArchetypeConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        assert isinstance(cfg, ArchetypeConfig)
        self.template = PromptTemplate(cfg.prompt, extras=("options",), max_field_chars=cfg.max_field_chars)
        self.bins = {k: v if isinstance(v, Bins) else Bins(edges=v) for k, v in cfg.bins.items()}
        for name in self.template.persona_fields:  # known now; observations only at the first step
            self._check_groupable(f"persona.{name}", self.population[name])
        options = cfg.options if cfg.options is not None else self.action_space.names
        if isinstance(options, list):
            options = {label: OptionSpec(action=label) for label in options}
        if not options:
            raise PromptError("archetype: give at least one option")
        explicit = isinstance(cfg.options, dict)
        for label, spec in options.items():
            if spec is not None:
                spec.check(label, self.action_space, "archetype", complete=explicit)
        self.labels: list[str] = list(options)
        self.options: dict[str, OptionSpec | None] = dict(options)

    # -- grouping ----------------------------------------------------------------------------
    def group(self, observations: Observations) -> tuple[np.ndarray, list[dict[str, dict[str, Any]]]]:
        """Group index per agent, and per group the values its prompt sees (by scope and field)."""
        agents = observations.agents
        columns: list[tuple[str, str, np.ndarray, list[Any]]] = []  # scope, name, codes, values by code
        for scope, names in (("persona", self.template.persona_fields), ("obs", self.template.observation_fields)):
            for name in names:
                raw = self.population[name][agents] if scope == "persona" else observations[name]
                key = f"{scope}.{name}"
                if key in self.bins:
                    spec = self.bins[key]
                    codes = spec.assign(raw)
                    labels: list[Any] = [Trusted(x) for x in [*spec.names(), "unknown"]]
                    columns.append((scope, name, codes, labels))
                    continue
                self._check_groupable(key, raw)
                columns.append((scope, name, *_factorize(raw, key)))
        combined = np.zeros(len(agents), dtype=np.int64)
        for _, _, codes, by_code in columns:
            combined = combined * len(by_code) + codes
        _, first, group_of = np.unique(combined, return_index=True, return_inverse=True)
        groups = []
        for member in first:
            seen: dict[str, dict[str, Any]] = {"persona": {}, "obs": {}}
            for scope, name, codes, by_code in columns:
                seen[scope][name] = by_code[codes[member]]
            groups.append(seen)
        return group_of.reshape(-1), groups

    def _check_groupable(self, key: str, values: np.ndarray) -> None:
        """A continuous field must declare bins, or every agent would be a group of its own."""
        if key not in self.bins and np.asarray(values).dtype.kind == "f":
            raise PromptError(f"archetype: {key} is continuous; declare bins for it (bins: {{{key}: [...]}})")

    def prompt(self, values: Mapping[str, Mapping[str, Any]]) -> str:
        """The prompt one group is asked."""
        return self.template.render(values["persona"], values["obs"], {"options": ", ".join(self.labels)})

    # -- deciding ----------------------------------------------------------------------------
    async def decide(self, observations: Observations) -> Decisions:
        n = len(observations)
        if n == 0:
            return Decisions()
        group_of, groups = self.group(observations)
        draws = self.rng.random(n)  # drawn in agent order before any answer arrives
        prompts = [self.prompt(values) for values in groups]
        answers = await asyncio.gather(*(self.choose(p, self.labels) for p in prompts), return_exceptions=True)
        self.count(archetype_calls=len(prompts), archetype_groups=len(groups), archetype_agents=n)
        cdf = np.ones((len(groups), len(self.labels)))
        request = np.empty(len(groups), dtype=object)
        failed = np.zeros(len(groups), dtype=bool)
        causes = np.empty(len(groups), dtype=object)
        for g, answer in enumerate(answers):
            if isinstance(answer, ModelUnavailableError):
                raise answer  # the model cannot be used at all: stop the run with one clear line
            if isinstance(answer, ModelError):
                failed[g], causes[g] = True, answer.cause
                continue
            if isinstance(answer, BaseException):
                raise answer
            cdf[g] = _cdf(answer)
            request[g] = answer.request_id
        chosen = (draws[:, None] >= cdf[group_of]).sum(axis=1)  # inverse-CDF sampling per agent
        decisions = Decisions()
        agent_failed = failed[group_of]
        if agent_failed.any():
            decisions.failures.append(Events.failed(observations.agents[agent_failed], causes[group_of][agent_failed]))
            self.count(archetype_failed=int(agent_failed.sum()))
        for k, label in enumerate(self.labels):
            spec = self.options[label]
            index = np.flatnonzero((chosen == k) & ~agent_failed)
            if spec is NOTHING or len(index) == 0:
                continue
            agents = observations.agents[index]
            args = {name: self._argument(value, observations, index) for name, value in spec.args.items()}
            decisions.actions.append(Actions(spec.action, agents, args, request[group_of[index]]))
        return decisions

    def _argument(self, value: Any, observations: Observations, index: np.ndarray) -> np.ndarray:
        if isinstance(value, str) and value.startswith("obs."):
            return np.asarray(observations[value[4:]])[index]
        if isinstance(value, str) and value.startswith("persona."):
            return np.asarray(self.population[value[8:]])[observations.agents[index]]
        out = np.empty(len(index), dtype=object)
        out[:] = [value] * len(index)
        return out


def _factorize(values: np.ndarray, key: str) -> tuple[np.ndarray, list[Any]]:
    """A code per value and the value of each code; missing values (None, NaN) share one code."""
    try:
        codes, uniques = pd.factorize(np.asarray(values), use_na_sentinel=True)
    except TypeError:
        raise PromptError(f"archetype: {key} holds values that cannot be grouped (lists?); "
                          "a prompt field for grouping must be a scalar") from None
    known = [plain(u) for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(known), codes)
        known.append(None)
    return np.asarray(codes, dtype=np.int64), known


def _cdf(choice: Choice) -> np.ndarray:
    p = np.clip(np.asarray(choice.probabilities, dtype=np.float64), 0, None)
    total = p.sum()
    p = p / total if total > 0 else np.full(len(p), 1 / len(p))
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    return cdf


minds.add("archetype", ArchetypeMind)
