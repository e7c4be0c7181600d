"""Adapters that expose populace worlds to other ecosystems (e.g. PettingZoo for RL code)."""
