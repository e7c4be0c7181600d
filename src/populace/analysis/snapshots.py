"""Agent states at checkpoints, read from the run's per-agent snapshots (``snapshots/``, Parquet).

With every checkpoint a run writes ``snapshots/NNNNNNNN.parquet``: one row per agent, its
population columns and the world's per-agent state after that many steps (each field's metadata
says which: ``populace.source`` is ``population``, ``world`` or ``run``, ``populace.name`` the
value's own name); beside it the minds' memory streams (``NNNNNNNN-memories.parquet``) and the
world's contact network (``NNNNNNNN-network.parquet``), where there are any. Nothing here
unpickles a checkpoint: those are the simulation's, for resuming and forking.

A run recorded before snapshots existed has checkpoints and no snapshots: its states cannot be
read here, and every reader says so in one line (``populace.simulation.snapshot_checkpoints``
writes them from its checkpoints).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from populace import layout
from populace.analysis.tables import RunLike, run_path
from populace.errors import RunError
from populace.network import Network
from populace.population import Population

SOURCE, NAME, NODES = layout.FIELD_SOURCE, layout.FIELD_NAME, layout.NETWORK_NODES


def checkpoint_steps(run: RunLike) -> list[int]:
    """Steps after which a checkpoint was saved, ascending (the file names only: none is read)."""
    return layout.checkpoint_steps(run_path(run))


def checkpoint_at_or_before(run: RunLike, step: int) -> int | None:
    """The latest checkpoint step ``<= step``, or None."""
    earlier = [s for s in checkpoint_steps(run) if s <= step]
    return earlier[-1] if earlier else None


def snapshot_steps(run: RunLike) -> list[int]:
    """Steps after which the agents' states were snapshot, ascending. A run with checkpoints and no
    snapshot at all was recorded before snapshots existed: a :class:`RunError` says so."""
    path = run_path(run)
    steps = layout.snapshot_steps(path)
    if not steps and layout.checkpoint_steps(path):
        raise RunError(f"run {path.name} was recorded before per-agent snapshots: its checkpoints are pickled "
                       f"simulation states, read only to resume or fork it; `populace snapshot {path}` writes "
                       f"its snapshots from them")
    return steps


def snapshot_at_or_before(run: RunLike, step: int) -> int | None:
    """The latest snapshot step ``<= step``, or None."""
    earlier = [s for s in snapshot_steps(run) if s <= step]
    return earlier[-1] if earlier else None


def _file(run: RunLike, step: int, kind: str = layout.AGENTS_SNAPSHOT) -> Path:
    return layout.snapshot_file(run_path(run), step, kind)


def _agents_file(run: RunLike, step: int) -> Path:
    file = _file(run, step)
    if not file.is_file():
        known = snapshot_steps(run)
        raise RunError(f"run {run_path(run).name} has no snapshot after step {step} "
                       f"(snapshots after steps: {', '.join(map(str, known)) or 'none'})")
    return file


def sources(run: RunLike, step: int) -> dict[str, tuple[str, str]]:
    """Each column of the snapshot after ``step`` steps: ``(source, name)``, where source is
    ``population``, ``world`` or ``run`` (agent, region, id_in_region) and name the value's own."""
    schema = pq.read_schema(_agents_file(run, step))
    out = {}
    for f in schema:
        meta = f.metadata or {}
        out[f.name] = (meta.get(SOURCE, b"").decode(), meta.get(NAME, f.name.encode()).decode())
    return out


def agent_count(run: RunLike, step: int) -> int:
    """How many agents the snapshot after ``step`` steps holds (read from its footer)."""
    return int(pq.ParquetFile(_agents_file(run, step)).metadata.num_rows)


def snapshot_table(run: RunLike, step: int, columns: Sequence[str] | None = None,
                   agents: Sequence[int] | None = None) -> pa.Table:
    """The snapshot after ``step`` steps as Arrow (its ``columns``, default all; of ``agents``,
    default everyone): only what is asked is read."""
    file = _agents_file(run, step)
    wanted = None if columns is None else list(dict.fromkeys(["agent", *columns]))
    filters = None if agents is None else [("agent", "in", [int(a) for a in agents])]
    return pq.read_table(file, columns=wanted, filters=filters)


def snapshot(run: RunLike, step: int, columns: Sequence[str] | None = None,
             agents: Sequence[int] | None = None) -> pd.DataFrame:
    """The agents' states after ``step`` steps, one row per agent (see :func:`snapshot_table`)."""
    return snapshot_table(run, step, columns, agents).to_pandas()


def population_at(run: RunLike, step: int | None = None, agents: Sequence[int] | None = None) -> Population:
    """The population's columns as they were after ``step`` steps (default: the last snapshot); with
    ``agents``, only theirs (row ``k`` is ``agents[k]``, in the order of their ids)."""
    if step is None:
        steps = snapshot_steps(run)
        if not steps:
            raise RunError(f"run {run_path(run).name} has no snapshot yet (one is written with each checkpoint)")
        step = steps[-1]
    names = {column: name for column, (source, name) in sources(run, step).items() if source == "population"}
    table = snapshot_table(run, step, list(names), agents).sort_by("agent")
    return Population({name: _numpy(table[column]) for column, name in names.items()}, size=table.num_rows)


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A snapshot column as NumPy: scalars as their dtype, fixed-size lists as a 2-D array."""
    if pa.types.is_fixed_size_list(column.type):
        flat = pa.concat_arrays([chunk.flatten() for chunk in column.chunks]) if column.num_chunks else pa.array([])
        return np.asarray(flat.to_numpy(zero_copy_only=False)).reshape(len(column), column.type.list_size)
    return np.asarray(column.to_numpy())


def _column(run: RunLike, step: int, attribute: str) -> str | None:
    """The snapshot's column holding ``attribute``: the world's of that name, else the population's."""
    found = sources(run, step)
    for wanted in ("world", "population"):
        for column, (source, name) in found.items():
            if source == wanted and name == attribute:
                return column
    return None


def states(run: RunLike, attribute: str) -> pd.DataFrame:
    """``step, agent, value`` for a per-agent array of the world (e.g. ``opinion``, ``wealth``) or a
    population column, at every snapshot (every checkpoint)."""
    frames = []
    for step in snapshot_steps(run):
        column = _column(run, step, attribute)
        if column is None:
            raise RunError(f"no per-agent state {attribute!r} in the world or population of the snapshots")
        table = snapshot_table(run, step, [column])
        values = _numpy(table[column])
        frames.append(pd.DataFrame({"step": step, "agent": table["agent"].to_numpy(),
                                    "value": list(values) if values.ndim > 1 else values}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "agent", "value"])


def memories(run: RunLike, step: int, agents: Sequence[int] | None = None) -> pd.DataFrame:
    """The minds' memories after ``step`` steps (of ``agents``, default everyone's): ``agent``,
    ``mind`` (its shard, or its index in the agent's region), ``row`` (its place in that mind's
    stream, oldest first), ``kind``, ``text``, ``created``, ``accessed`` (simulated hours) and
    ``importance``; empty where no mind keeps a memory stream."""
    _agents_file(run, step)
    file = _file(run, step, layout.MEMORIES_SNAPSHOT)
    if not file.is_file():
        return pd.DataFrame(columns=["agent", "mind", "row", "kind", "text", "created", "accessed", "importance"])
    filters = None if agents is None else [("agent", "in", [int(a) for a in agents])]
    return pq.read_table(file, filters=filters).to_pandas()


def network_at(run: RunLike, step: int | None = None) -> Network | None:
    """The world's contact network at the snapshot at or before ``step`` (default: the last): a
    :class:`~populace.network.Network` it holds, or its follow relation seen as undirected ties
    (the social world); None when the world has neither or no snapshot is that early."""
    steps = snapshot_steps(run)
    chosen = steps[-1] if steps and step is None else snapshot_at_or_before(run, step or 0)
    if chosen is None:
        return None
    file = _file(run, chosen, layout.NETWORK_SNAPSHOT)
    if not file.is_file():
        return None
    edges = pq.read_table(file)
    nodes = int((edges.schema.metadata or {}).get(NODES, b"0"))
    return Network.from_edges(nodes, edges["source"].to_numpy(), edges["target"].to_numpy())


def network_bytes(run: RunLike, step: int) -> int:
    """The size of the network file of the snapshot after ``step`` steps (0: none)."""
    file = _file(run, step, layout.NETWORK_SNAPSHOT)
    return file.stat().st_size if file.is_file() else 0


def describe(run: RunLike, step: int, agent: int) -> dict[str, Any]:
    """One agent's row of the snapshot after ``step`` steps, as plain Python values by source:
    ``{"population": {...}, "world": {...}, "run": {...}}`` (names as their sources call them)."""
    table = snapshot_table(run, step, agents=[agent])
    if table.num_rows == 0:
        raise RunError(f"agent {agent} is not in the snapshot after step {step} "
                       f"(agents 0 to {agent_count(run, step) - 1})")
    row = table.slice(0, 1).to_pylist()[0]
    out: dict[str, dict[str, Any]] = {"population": {}, "world": {}, "run": {}}
    for column, (source, name) in sources(run, step).items():
        out.setdefault(source or "run", {})[name] = row[column]
    return out
