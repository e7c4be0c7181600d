"""The rules tier: a registered vectorised policy (:mod:`populace.policy`) decides for every
agent of the mind at once, millions of agent decisions a second. :class:`RulesMind` is what a
policy sees as its :class:`~populace.policy.PolicyContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import Field, field_validator, model_validator

from populace.minds.base import Decisions, Mind, MindConfig, Reads, minds
from populace.parameters import validate_params
from populace.policy import P, PolicyParams, params_model, policies, policy, policy_reads
from populace.world import Column, Observations

T = TypeVar("T")

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

    def observation_reads(self, observed: Mapping[str, Column]) -> list[Reads]:
        """What the policy declares it reads (``@policy(..., reads=...)``)."""
        return [Reads("policy", repr(self.policy), policy_reads(self.policy))]


class RulesMind(Mind[RulesConfig]):
    """Decides with a registered vectorised policy; ``params`` (validated, with defaults) are
    handed to the policy, typed by :meth:`settings`."""

    name = "rules"
    Config = RulesConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policies.get(self.config.policy)
        self.params = self.config.params

    def settings(self, model: type[P]) -> P:
        """``params`` as the policy's parameter model."""
        return model.model_validate(self.params)

    def policy_state(self, name: str, factory: Callable[[], T]) -> T:
        """Per-mind state of the policy, an attribute of the mind so that checkpoints keep it."""
        if name not in self.__dict__:
            self.__dict__[name] = factory()
        value: T = self.__dict__[name]
        return value

    async def decide(self, observations: Observations) -> Decisions:
        return Decisions(self.policy(observations, self))


minds.add("rules", RulesMind)

__all__ = ["PolicyParams", "RulesConfig", "RulesMind", "policies", "policy"]
