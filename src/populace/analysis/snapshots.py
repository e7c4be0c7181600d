"""Agent states at checkpoints: the population, world and minds a run saved every few steps."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from populace import layout
from populace.analysis.tables import RunLike, run_path
from populace.errors import RunError
from populace.network import Network
from populace.trace import unpickle


def checkpoint_steps(run: RunLike) -> list[int]:
    """Steps after which a checkpoint was saved, ascending."""
    return layout.checkpoint_steps(run_path(run))


def checkpoint(run: RunLike, step: int) -> dict[str, Any]:
    """The saved state after ``step`` steps: ``population``, ``world``, ``minds``, ... (a run's own file)."""
    file = layout.checkpoint_file(run_path(run), step)
    try:
        state = unpickle(Path(file).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise RunError(f"checkpoint {file} cannot be read: {exc}") from None
    if not isinstance(state, dict):
        raise RunError(f"checkpoint {file} is not a simulation state")
    return state


class Place(NamedTuple):
    """Where an agent lives in a checkpoint's state."""

    world: Any  # the world, or for a partitioned world the agent's region's part of it
    agent: int  # the agent's id there (a region numbers its agents from 0)
    minds: list[Any]  # the minds that hold its memories
    region: int | None  # the region's index, None where the world is whole


def locate(state: dict[str, Any], agent: int) -> Place:
    """Where ``agent`` lives in a checkpoint's state."""
    for region in state.get("regions") or []:
        start = int(region.agents[0])
        if start <= agent < start + len(region.agents):
            return Place(region.world, agent - start, list(region.minds), region.index)
    return Place(state.get("world"), agent, list(state.get("minds", [])), None)


def world_values(state: dict[str, Any], attribute: str) -> np.ndarray | None:
    """A per-agent array of the world in a checkpoint's state, joined over regions where it is partitioned."""
    regions = state.get("regions") or []
    if regions:
        parts = [getattr(region.world, attribute, None) for region in regions]
        return None if any(p is None for p in parts) else np.concatenate([np.asarray(p) for p in parts])
    value = getattr(state.get("world"), attribute, None)
    return None if value is None else np.asarray(value)


def checkpoint_at_or_before(run: RunLike, step: int) -> int | None:
    """The latest checkpoint step ``<= step``, or None."""
    earlier = [s for s in checkpoint_steps(run) if s <= step]
    return earlier[-1] if earlier else None


def network_at(run: RunLike, step: int | None = None) -> Network | None:
    """The world's contact network at the checkpoint at or before ``step`` (default: the last):
    a :class:`~populace.network.Network` it holds, or its follow relation seen as undirected
    ties (the social world); None when the world has neither."""
    steps = checkpoint_steps(run)
    chosen = steps[-1] if steps and step is None else checkpoint_at_or_before(run, step or 0)
    if chosen is None:
        return None
    world = checkpoint(run, chosen).get("world")
    for value in vars(world).values() if world is not None else ():
        if isinstance(value, Network):
            return value
    follows = getattr(getattr(world, "state", None), "follows", None)
    if follows is not None and hasattr(follows, "pairs"):
        left, right = follows.pairs()
        return Network.from_edges(int(getattr(world, "n_agents", 0)), np.asarray(left), np.asarray(right))
    return None


def states(run: RunLike, attribute: str) -> pd.DataFrame:
    """``step, agent, value`` for a per-agent array of the world (e.g. ``opinion``, ``wealth``) or a
    population column, at every checkpoint."""
    frames = []
    for step in checkpoint_steps(run):
        state = checkpoint(run, step)
        population = state.get("population")
        values: Any = world_values(state, attribute)
        if values is None and population is not None and attribute in population:
            values = population[attribute]
        if values is None:
            raise RunError(f"no per-agent state {attribute!r} in the world or population of the checkpoints")
        values = np.asarray(values)
        frames.append(pd.DataFrame({"step": step, "agent": np.arange(len(values)), "value": values}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "agent", "value"])
