"""The narrative world: free-text actions ruled by a game master, grounded in typed state."""

from populace.worlds.narrative.ledger import Ledger, RulingError, VariableSpec
from populace.worlds.narrative.scenes import SceneSpec
from populace.worlds.narrative.world import NarrativeConfig, NarrativeWorld

__all__ = ["Ledger", "NarrativeConfig", "NarrativeWorld", "RulingError", "SceneSpec", "VariableSpec"]
