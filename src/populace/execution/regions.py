"""Regions that step side by side: each holds its part of a :class:`~populace.regions.RegionalWorld`
and the minds of its agents, and is a shard for an executor (see :mod:`populace.regions` for how
regions hear each other).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from populace.clock import Clock
from populace.context import MindContext
from populace.errors import ScenarioError
from populace.events import NO_AGENT, Events, count_outcomes
from populace.execution.base import summed
from populace.execution.turns import by_shard, take_turn
from populace.minds.base import Decisions, Mind
from populace.population import Population
from populace.records import events_table
from populace.regions import REGIONS, RegionalWorld
from populace.world import Observations, World


@dataclass
class RegionStep:
    """One step's orders for a region: interventions, then turns of active agents (local ids)."""

    step: int
    time: datetime
    city: dict[str, float]
    keep: str = "all"  # which events the trace stores (``trace.events``)
    operations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: each turn's active agents; ``None`` means all of the region's agents
    turns: list[np.ndarray | None] = field(default_factory=list)


@dataclass
class RegionResult:
    """What a region hands back after a step: its events as a trace table (None when the trace keeps
    none), how many decisions ended ok, rejected or failed, and its tallies."""

    events: pa.Table | None
    counts: dict[str, int]
    tallies: dict[str, float]


class Region:
    """One region: its part of the world and the minds of its agents (a shard for an executor)."""

    def __init__(self, index: int, agents: np.ndarray, world: RegionalWorld,
                 minds: list[Mind], mind_of: np.ndarray) -> None:
        self.index = index
        self.agents = agents  # global ids; the world and minds use local ids 0..len-1
        self.world = world
        self.minds = minds
        self.mind_of = mind_of

    def placeholder(self, template: World) -> Region:
        """This region's ids alone, for a driver whose executor holds the region (``template``: the
        world's unreset instance, so nothing of the region's state is kept)."""
        assert isinstance(template, RegionalWorld)
        return Region(self.index, self.agents, template, [], np.empty(0, dtype=np.int32))

    def attach(self, context: MindContext) -> None:
        for mind in self.minds:
            mind.attach(context)

    async def start(self) -> None:
        for mind in self.minds:
            await mind.start()

    def stats(self) -> dict[str, float]:
        return summed([mind.stats() for mind in self.minds])

    async def aclose(self) -> None:
        for mind in self.minds:
            await mind.aclose()

    async def decide(self, observations: Observations) -> Decisions:
        """This region's minds decide for the observed agents (local ids), each for its own."""
        decisions = Decisions()
        requests = by_shard(observations, self.mind_of[observations.agents], len(self.minds))
        for result in await asyncio.gather(*(self.minds[i].decide(obs) for i, obs in requests)):
            decisions.extend(result)
        return decisions

    async def tallies(self) -> dict[str, float]:
        return {**self.world.tallies(), REGIONS: 1.0}

    async def step(self, orders: RegionStep) -> RegionResult:
        """Run one step here; return its events (with the run's agent ids), outcome counts and tallies."""
        world = self.world
        world.set_clock(orders.step, orders.time)
        world.hear(orders.city)
        events: list[Events] = []
        for name, args in orders.operations:
            for batch in world.call(name, **args):
                batch.data["region"] = np.full(len(batch), self.index, dtype=np.int64)
                events.append(batch)
        everyone = np.arange(len(self.agents), dtype=np.int64)
        for turn in orders.turns:
            ids = everyone if turn is None else turn
            if len(ids) == 0:
                continue
            events.extend(await take_turn(world, ids, orders.step, orders.time, self.decide))
        events.extend(world.tick())
        counts = count_outcomes(events)
        table = None
        if orders.keep != "none":
            for batch in events:  # local ids -> the run's ids
                if len(batch) and batch.agents.max() > NO_AGENT:
                    batch.agents = np.where(batch.agents > NO_AGENT, self.agents[np.maximum(batch.agents, 0)],
                                            NO_AGENT)
            table = events_table(events, orders.step, orders.time, orders.keep)
        return RegionResult(table, counts, await self.tallies())


def build_regions(world_cls: type[RegionalWorld], population: Population, params: Mapping[str, Any],
                  actions: list[str] | None, parts: int, seed: np.random.SeedSequence,
                  clock: Clock | None = None) -> list[Region]:
    """Cut the population into regions and give each its part of the world, reset with its own stream.

    Columns a region's world adds to its population (e.g. the epidemic's age groups, for mind
    selectors) are copied into the whole population. Minds are added by the caller.
    """
    cuts = world_cls.split(population.size, parts)
    if min(len(ids) for ids in cuts) == 0:
        raise ScenarioError(f"world.partitions: {parts} regions leave some empty with {population.size} agents "
                            f"(a region boundary falls on a multiple of {world_cls.region_align})")
    regions = []
    configs = world_cls.region_params(params, [len(ids) for ids in cuts])
    for index, (ids, region_params, region_seed) in enumerate(zip(cuts, configs, seed.spawn(parts), strict=True)):
        world = world_cls(population.take(ids), region_params, available=actions, clock=clock)
        world.agent_ids = ids
        world.reset(region_seed)
        regions.append(Region(index, ids, world, [], np.full(len(ids), -1, dtype=np.int32)))
    for name in regions[0].world.population.columns:
        if name not in population:
            population[name] = np.concatenate([r.world.population[name] for r in regions])
    return regions
