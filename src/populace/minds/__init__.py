"""Minds decide actions for batches of agents from their observations."""

from populace.context import MindContext
from populace.minds.base import Decisions, Mind, MindConfig, minds
from populace.minds.rules import RulesMind
from populace.policy import PolicyParams, policies, policy

__all__ = ["Decisions", "Mind", "MindConfig", "MindContext", "PolicyParams", "RulesMind", "minds", "policies",
           "policy"]
