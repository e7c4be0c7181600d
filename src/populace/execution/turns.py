"""A turn: the world observes some agents, their minds decide, the world applies the actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import numpy as np

from populace.events import Events
from populace.minds.base import Decisions
from populace.world import Observations, World


def by_shard(observations: Observations, owner: np.ndarray, shards: int) -> list[tuple[int, Observations]]:
    """Split a batch of observations by the mind shard that owns each agent (``owner``: -1 for none)."""
    if shards == 1:
        sizes = np.array([np.count_nonzero(owner == 0)])
    else:
        sizes = np.bincount(owner + 1, minlength=shards + 1)[1:]
    requests = []
    for shard in np.flatnonzero(sizes).tolist():
        if sizes[shard] == len(owner):
            requests.append((shard, observations))
        else:
            requests.append((shard, observations.take(np.flatnonzero(owner == shard))))
    return requests


async def take_turn(world: World, ids: np.ndarray, step: int, time: datetime | None,
                    decide: Callable[[Observations], Awaitable[Decisions]]) -> list[Events]:
    """One turn of ``ids``: the world observes them, ``decide`` answers, the world applies the actions.

    Returns the world's events and the failed decisions. A whole world's turn decides through the
    executor; a region's through its own minds.
    """
    observations = world.observe(ids)
    observations.step, observations.time, observations.step_duration = step, time, world.clock.step
    decisions = await decide(observations)
    return [*world.apply(decisions.actions), *decisions.failures, *decisions.notes]
