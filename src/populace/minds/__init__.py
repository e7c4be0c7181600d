"""Minds decide actions for batches of agents from their observations."""

from populace.minds.base import Decisions, Mind, MindConfig, MindContext, minds
from populace.minds.rules import RulesMind
from populace.policy import PolicyParams, policies, policy

__all__ = ["Decisions", "Mind", "MindConfig", "MindContext", "PolicyParams", "RulesMind", "minds", "policies",
           "policy"]
