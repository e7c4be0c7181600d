"""Rules policies: vectorised functions over a world's observation columns, registered by name.

A policy belongs to the contract, beside :mod:`populace.world` and :mod:`populace.actions`, so a
world can ship its own policies without importing any mind. It is typed against
:class:`PolicyContext`, the little a policy may use of whatever runs it (the rules mind, in
:mod:`populace.minds.rules`)::

    class SaverParams(PolicyParams):
        share: float = Field(0.5, ge=0, le=1, description="share of one's cash deposited")

    @policy("saver", SaverParams, reads=("cash",))
    def saver(obs: Observations, mind: PolicyContext) -> list[Actions]:
        share = mind.settings(SaverParams).share
        return [Actions("deposit", obs.agents, {"amount": share * obs["cash"]})]

A scenario's ``params`` are validated against the model when it loads: an unknown key or a
value of the wrong type is a one-line error naming ``minds.N.params.KEY``. ``reads`` names the
observation columns the policy needs, and ``worlds`` (optional) the worlds it is written for:
``populace validate`` refuses the policy in a world that declares its observation
(:attr:`populace.world.World.observation`) without one of those columns, or in another world.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from populace.actions import Actions, ActionSpace
from populace.population import Population
from populace.registry import Registry
from populace.world import Observations


class PolicyParams(BaseModel):
    """Base of a policy's parameters: typed fields with defaults; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", bound=PolicyParams)
T = TypeVar("T")


class PolicyContext(Protocol):
    """What a policy may use of the mind that runs it."""

    population: Population
    action_space: ActionSpace
    rng: np.random.Generator

    def settings(self, model: type[P]) -> P:
        """The scenario's ``params`` as the policy's parameter model."""
        ...

    def policy_state(self, name: str, factory: Callable[[], T]) -> T:
        """Per-mind state kept between steps and in checkpoints, made by ``factory`` on first use."""
        ...


Policy = Callable[[Observations, PolicyContext], list[Actions]]

#: Rules policies by name; worlds define theirs beside them, so discovery imports the worlds.
policies: Registry[Policy] = Registry("policy", discover=("populace.worlds", "populace.minds"),
                                     group="populace.policies")


def policy(name: str, params: type[PolicyParams] = PolicyParams, *, reads: Iterable[str] = (),
           worlds: Iterable[str] = ()) -> Callable[[Callable[..., list[Actions]]], Policy]:
    """Decorator: register a rules policy under ``name``, taking ``params`` (default: none).

    ``reads``: the observation columns it needs (a column it reads only when present is not one);
    ``worlds``: the worlds it is written for, where no other can serve (default: any world that
    observes what it reads). A scenario is checked against both when it loads."""
    needs = (reads,) if isinstance(reads, str) else tuple(reads)  # reads="cash" is one column, not four
    where = (worlds,) if isinstance(worlds, str) else tuple(worlds)

    def decorate(function: Callable[..., list[Actions]]) -> Policy:
        function.__policy_params__ = params  # type: ignore[attr-defined]
        function.__policy_reads__ = needs  # type: ignore[attr-defined]
        function.__policy_worlds__ = where  # type: ignore[attr-defined]
        policies.add(name, function)
        return function

    return decorate


def params_model(name: str) -> type[PolicyParams]:
    """The parameter model of the policy called ``name`` (raises :class:`UnknownNameError`)."""
    model: type[PolicyParams] = getattr(policies.get(name), "__policy_params__", PolicyParams)
    return model


def policy_reads(name: str) -> tuple[str, ...]:
    """The observation columns the policy called ``name`` declares it reads (empty: undeclared)."""
    reads: tuple[str, ...] = getattr(policies.get(name), "__policy_reads__", ())
    return reads


def policy_worlds(name: str) -> tuple[str, ...]:
    """The worlds the policy called ``name`` is written for (empty: any)."""
    where: tuple[str, ...] = getattr(policies.get(name), "__policy_worlds__", ())
    return where


__all__ = ["Policy", "PolicyContext", "PolicyParams", "params_model", "policies", "policy", "policy_reads",
           "policy_worlds"]
