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

import difflib
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from populace.actions import Actions
from populace.minds.base import Decisions, Mind, MindConfig, minds
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
        model = params_model(self.policy)
        try:
            self.params = model.model_validate(self.params).model_dump()
        except ValidationError as exc:
            known = sorted(model.model_fields)
            raise ValidationError.from_exception_data(
                exc.title, [_located(error, known) for error in exc.errors()]) from None
        return self


def _located(error: Any, known: list[str]) -> InitErrorDetails:
    """A policy's parameter error under ``params``; an unknown key names the accepted ones."""
    loc = ("params", *error["loc"])
    if error["type"] != "extra_forbidden":
        return {"type": error["type"], "loc": loc, "input": error["input"], "ctx": error.get("ctx") or {}}
    close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    message = f"unknown parameter{hint} (accepted: {', '.join(known) or 'none'})"
    return {"type": PydanticCustomError("unknown_parameter", message), "loc": loc, "input": error["input"]}


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
