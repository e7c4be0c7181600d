"""Minds decide actions for batches of agents from their observations."""

from populace.minds.base import Decisions, Mind, MindConfig, minds
from populace.minds.rules import RulesMind, policies, policy

__all__ = ["Decisions", "Mind", "MindConfig", "RulesMind", "minds", "policies", "policy"]
