"""The ``grid`` world: SwarmBench's swarm tasks on a 2D grid (see :mod:`populace.worlds.grid.world`)."""

from populace.worlds.grid.config import GridConfig
from populace.worlds.grid.world import GridWorld

__all__ = ["GridConfig", "GridWorld"]
