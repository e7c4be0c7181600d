"""Events as the rows a run records: the event schema, and one step's event batches as an Arrow
table (built where the events happen: in the driver, or in a region's worker)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from populace.events import OK, Events

EVENT_SCHEMA = pa.schema([
    ("step", pa.int32()),
    ("time", pa.timestamp("ms")),  # Parquet stores milliseconds
    ("agent", pa.int64()),
    ("action", pa.string()),
    ("outcome", pa.string()),
    ("reason", pa.string()),
    ("args", pa.string()),
    ("data", pa.string()),
    ("request", pa.string()),
])


def events_table(events: Iterable[Events], step: int, time: datetime, keep: str = "all") -> pa.Table:
    """Turn a step's event batches into one Arrow table (vectorised, no per-row Python for numbers)."""
    tables = []
    for batch in events:
        if len(batch) == 0:
            continue
        if keep == "rejected":
            batch = batch.take(batch.outcome != OK)
            if len(batch) == 0:
                continue
        n = len(batch)
        tables.append(pa.table({
            "step": pa.array(np.full(n, step, dtype=np.int32)),
            "time": pa.array(np.full(n, np.datetime64(time.replace(tzinfo=None), "ms"))),
            "agent": pa.array(np.asarray(batch.agents, dtype=np.int64)),
            "action": _repeat(batch.kind, n),
            "outcome": _labels(batch.outcome, n),
            "reason": _text(batch.reason, n),
            "args": _json_objects(batch.args, n),
            "data": _json_objects(batch.data, n),
            "request": _text(batch.request, n),
        }, schema=EVENT_SCHEMA))
    return pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()


def _repeat(value: str, n: int) -> pa.Array:
    """One string ``n`` times, without ``n`` Python objects."""
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _labels(values: np.ndarray, n: int) -> pa.Array:
    """A column of a few distinct strings (outcomes); the usual all-equal case is one comparison."""
    first = values[0] if n else None
    if isinstance(first, str) and values.tolist().count(first) == n:  # list.count: identity first, fast
        return _repeat(first, n)
    return _text(values, n)


def _text(values: np.ndarray | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.string())
    if values.dtype.kind in "OU":
        try:  # strings and None convert in Arrow's C loop; anything else is turned into text below
            return pa.array(values, pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _json_objects(columns: Mapping[str, np.ndarray], n: int) -> pa.Array:
    """One JSON object per row, built column-wise by Arrow kernels."""
    if not columns:
        return pa.nulls(n, pa.string())
    pieces: list[Any] = []
    for i, (key, values) in enumerate(columns.items()):
        pieces.append(("{" if i == 0 else ",") + json.dumps(key) + ":")
        pieces.append(_json_values(np.asarray(values)))
    pieces.append("}")
    return pc.binary_join_element_wise(*pieces, "")


def _json_values(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "b":
        return pc.if_else(pa.array(values), "true", "false")
    if values.dtype.kind in "iu":
        return pc.cast(pa.array(values), pa.string())
    if values.dtype.kind == "f":
        finite = np.isfinite(values)
        return pc.if_else(pa.array(finite), pc.cast(pa.array(values), pa.string()), "null")
    return pa.array([json.dumps(_plain(v), ensure_ascii=False, default=str) for v in values], pa.string())


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
