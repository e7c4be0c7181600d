"""The rules tier: vectorised policies over columns, millions of agent decisions a second.

A policy is a plain function registered by name, with a typed model of its ``params``::

    class SaverParams(PolicyParams):
        share: float = Field(0.5, ge=0, le=1, description="share of one's cash deposited")

    @policy("saver", SaverParams)
    def saver(obs, mind):
        share = mind.settings(SaverParams).share
        return [Actions("deposit", obs.agents, {"amount": share * obs["cash"]})]

A scenario's ``params`` are validated against the model when it loads: an unknown key or a
value of the wrong type is a one-line error naming ``minds.N.params.KEY``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from populace.actions import Actions
from populace.minds.base import Decisions, Mind, MindConfig, minds
from populace.parameters import validate_params
from populace.registry import Registry
from populace.world import Observations

Policy = Callable[[Observations, "RulesMind"], list[Actions]]

#: Rules policies by name; worlds define theirs beside them, so discovery imports the worlds.
policies: Registry[Policy] = Registry("policy", discover=("populace.worlds", "populace.minds"))


class PolicyParams(BaseModel):
    """Base of a policy's parameters: typed fields with defaults; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", bound=PolicyParams)


def policy(name: str, params: type[PolicyParams] = PolicyParams) -> Callable[[Policy], Policy]:
    """Decorator: register a rules policy under ``name``, taking ``params`` (default: none)."""

    def decorate(function: Policy) -> Policy:
        function.__policy_params__ = params  # type: ignore[attr-defined]
        policies.add(name, function)
        return function

    return decorate


def params_model(name: str) -> type[PolicyParams]:
    """The parameter model of the policy called ``name`` (raises :class:`UnknownNameError`)."""
    model: type[PolicyParams] = getattr(policies.get(name), "__policy_params__", PolicyParams)
    return model


class RulesConfig(MindConfig):
    policy: str
    params: dict[str, Any] = Field(default_factory=dict, description="the policy's own parameters")

    @field_validator("policy")
    @classmethod
    def _known(cls, name: str) -> str:
        policies.get(name)  # raises UnknownNameError with "did you mean"
        return name

    @model_validator(mode="after")
    def _params(self) -> RulesConfig:
        """Check ``params`` against the policy's model and fill in its defaults."""
        self.params = validate_params(params_model(self.policy), self.params, ("params",)).model_dump()
        return self


class RulesMind(Mind):
    """Decides with a registered vectorised policy; ``params`` (validated, with defaults) are
    handed to the policy, typed by :meth:`settings`."""

    name = "rules"
    Config = RulesConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert isinstance(self.config, RulesConfig)
        self.policy = policies.get(self.config.policy)
        self.params = self.config.params

    def settings(self, model: type[P]) -> P:
        """``params`` as the policy's parameter model."""
        return model.model_validate(self.params)

    async def decide(self, observations: Observations) -> Decisions:
        return Decisions(self.policy(observations, self))


minds.add("rules", RulesMind)
