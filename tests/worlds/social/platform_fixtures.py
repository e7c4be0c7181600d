"""Small social worlds and a one-line way to act in them (imported by the tests beside it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from populace import Actions, Population
from populace.events import Events
from populace.worlds.social import SocialWorld

Act = Callable[..., Events]


def make_world(n: int = 6, **config: Any) -> SocialWorld:
    config.setdefault("follows", {"kind": "none"})
    world = SocialWorld(Population({"bio": np.asarray([f"user {i} likes topic{i % 3}" for i in range(n)],
                                                      dtype=object)}), config)
    world.reset(0)
    return world


def act(world: SocialWorld, action: str, agents: list[int], **args: list[Any]) -> Events:
    """Apply one batch and return its single event batch."""
    arrays = {}
    for key, values in args.items():
        array = np.empty(len(values), dtype=object)
        array[:] = values
        arrays[key] = array
    (events,) = world.apply([Actions(action, np.asarray(agents, dtype=np.int64), arrays)])
    return events
