"""Minds decide actions for batches of agents from their observations."""

from populace.minds.base import Decisions, Mind, MindConfig, MindContext, minds
from populace.minds.rules import RulesMind, policies, policy

__all__ = ["Decisions", "Mind", "MindConfig", "MindContext", "RulesMind", "minds", "policies", "policy"]
