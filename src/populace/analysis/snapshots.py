"""Agent states at checkpoints: the population, world and minds a run saved every few steps."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from populace.analysis.tables import RunLike, run_path
from populace.errors import RunError
from populace.network import Network


def checkpoint_steps(run: RunLike) -> list[int]:
    """Steps after which a checkpoint was saved, ascending."""
    directory = run_path(run) / "checkpoints"
    return sorted(int(p.stem) for p in directory.glob("*.pkl") if p.stem.isdigit()) if directory.is_dir() else []


def checkpoint(run: RunLike, step: int) -> dict[str, Any]:
    """The saved state after ``step`` steps: ``population``, ``world``, ``minds``, ... (a run's own file)."""
    file = run_path(run) / "checkpoints" / f"{step:08d}.pkl"
    try:
        state = pickle.loads(Path(file).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise RunError(f"checkpoint {file} cannot be read: {exc}") from None
    if not isinstance(state, dict):
        raise RunError(f"checkpoint {file} is not a simulation state")
    return state


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
        world, population = state.get("world"), state.get("population")
        values: Any = getattr(world, attribute, None)
        if values is None and population is not None and attribute in population:
            values = population[attribute]
        if values is None:
            raise RunError(f"no per-agent state {attribute!r} in the world or population of the checkpoints")
        values = np.asarray(values)
        frames.append(pd.DataFrame({"step": step, "agent": np.arange(len(values)), "value": values}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "agent", "value"])
