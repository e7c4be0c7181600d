"""The rules tier: vectorised policies over columns, millions of agent decisions a second.

A policy is a plain function registered by name::

    @policy("random_gift")
    def random_gift(obs, mind):
        ...
        return [Actions("give", givers, {"to": targets})]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field, field_validator

from populace.actions import Actions
from populace.minds.base import Decisions, Mind, MindConfig, minds
from populace.registry import Registry
from populace.world import Observations

Policy = Callable[[Observations, "RulesMind"], list[Actions]]

#: Rules policies by name; worlds define theirs beside them, so discovery imports the worlds.
policies: Registry[Policy] = Registry("policy", discover=("populace.worlds", "populace.minds"))


def policy(name: str) -> Callable[[Policy], Policy]:
    """Decorator: register a rules policy under ``name``."""
    return policies.register(name)


class RulesConfig(MindConfig):
    policy: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("policy")
    @classmethod
    def _known(cls, name: str) -> str:
        policies.get(name)  # raises UnknownNameError with "did you mean"
        return name


class RulesMind(Mind):
    """Decides with a registered vectorised policy; ``params`` are handed to the policy."""

    name = "rules"
    Config = RulesConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert isinstance(self.config, RulesConfig)
        self.policy = policies.get(self.config.policy)
        self.params = self.config.params

    async def decide(self, observations: Observations) -> Decisions:
        return Decisions(self.policy(observations, self))


minds.add("rules", RulesMind)
