"""Partitioned worlds: a world split into regions that step side by side and hear each other
through additive tallies.

A world that partitions (the epidemic by region, repeated games by pair, the grid by arena) subclasses
:class:`RegionalWorld`. With ``world.partitions: K`` in the scenario, the population is cut into
K regions of consecutive agent ids; each region holds its part of the world (an instance of the
same world class over its own agents, with its own random stream) and the minds of its agents.
A region is a shard: the local executor steps the K regions in this process, the Ray executor
in K actors, so the world's state is spread over the workers and each step only the active
agents' ids go out and events come back. Regions interact only through :meth:`RegionalWorld.tallies`:
numbers that add up over regions (infectious agents, cases, payoffs). The driver sums them after
each step, computes the metrics from the sum, and hands the sum to every region at the start of
the next step (:meth:`RegionalWorld.hear`). So what one region learns of the others is one step
old, which is what lets them run in parallel; and since the split is part of the scenario, the
local and the Ray executor give bit-identical runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from populace.world import C, World

#: the tally every region adds as 1, so metrics can tell sums from values every region shares
REGIONS = "regions"


class RegionalWorld(World[C]):
    """A world that can be split into regions coupled only through additive tallies.

    ``metrics()`` is computed from ``tallies()`` with :meth:`metrics_of`, whole or partitioned,
    so a metric means the same in both.
    """

    #: a region boundary falls on a multiple of this (games: 2, so pairs are never cut)
    region_align: ClassVar[int] = 1

    @classmethod
    def split(cls, size: int, parts: int) -> list[np.ndarray]:
        """The agent ids of each region: ``parts`` runs of consecutive ids, as equal as alignment allows."""
        units = -(-size // cls.region_align)
        bounds = [min(size, (units * k // parts) * cls.region_align) for k in range(parts + 1)]
        return [np.arange(lo, hi, dtype=np.int64) for lo, hi in itertools.pairwise(bounds)]

    def tallies(self) -> dict[str, float]:
        """Numbers about this region that add up over regions (counts, sums)."""
        return {}

    @classmethod
    def metrics_of(cls, tallies: Mapping[str, float]) -> dict[str, float]:
        """The world's metrics from tallies summed over regions (``tallies['regions']``: how many)."""
        return {}

    def metrics(self) -> dict[str, float]:
        return self.metrics_of({**self.tallies(), REGIONS: 1.0})

    def hear(self, city: Mapping[str, float]) -> None:
        """Take in every region's tallies summed, as they were after the last step (default: ignore)."""
        return None

    @classmethod
    def region_params(cls, params: Mapping[str, Any], sizes: Sequence[int]) -> list[dict[str, Any]]:
        """The world's parameters for each region (default: the same for all)."""
        return [dict(params) for _ in sizes]

    @classmethod
    def region_args(cls, operation: str, args: Mapping[str, Any], sizes: Sequence[int]) -> list[dict[str, Any]]:
        """An intervention's arguments for each region (default: the same for all)."""
        return [dict(args) for _ in sizes]


def regional_worlds() -> list[str]:
    """The names of the registered worlds that can be partitioned."""
    from populace.world import worlds

    return [name for name, cls in worlds.items() if issubclass(cls, RegionalWorld)]


def apportion(total: int, sizes: Sequence[int]) -> np.ndarray:
    """``total`` shared out in proportion to ``sizes`` in whole numbers (largest remainders; ties to the first)."""
    weights = np.asarray(sizes, dtype=np.float64)
    exact = total * weights / max(weights.sum(), 1.0)
    share = np.floor(exact).astype(np.int64)
    share[np.argsort(-(exact - share), kind="stable")[: total - int(share.sum())]] += 1
    return share
