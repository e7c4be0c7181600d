"""A run's trace as pandas tables: events (with parsed ``args``/``data``), steps, metrics, extra tables.

Every table is a directory of Parquet parts under the run directory (``events/``, ``steps/``,
``metrics/``, and whatever else a component records, e.g. ``decisions/``); reading one is a
plain ``pyarrow.parquet`` read, so pandas, polars and DuckDB read the same files directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from populace.runs import Run

RunLike = str | Path | Run


def run_path(run: RunLike) -> Path:
    """The directory of a run given as a path, an id under ``./runs`` or a :class:`Run`."""
    return run.path if isinstance(run, Run) else Run.open(Path(run)).path


def has_table(run: RunLike, name: str) -> bool:
    """Whether the run recorded any part of table ``name``."""
    directory = run_path(run) / name
    return directory.is_dir() and any(directory.glob("*.parquet"))


def read_arrow(run: RunLike, name: str) -> pa.Table:
    """Table ``name`` as one Arrow table (parts concatenated in step order; empty if none)."""
    parts = sorted((run_path(run) / name).glob("*.parquet")) if has_table(run, name) else []
    if not parts:
        return pa.table({})
    return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")


def read_table(run: RunLike, name: str) -> pd.DataFrame:
    """Table ``name`` as a pandas DataFrame (empty if the run has none)."""
    return read_arrow(run, name).to_pandas()


def events(run: RunLike) -> pd.DataFrame:
    """The events table with ``args`` and ``data`` parsed from JSON into dicts (``{}`` when null)."""
    frame = read_table(run, "events")
    if frame.empty:
        return pd.DataFrame(columns=["step", "time", "agent", "action", "outcome", "reason", "args", "data",
                                     "request"])
    for column in ("args", "data"):
        frame[column] = parse_json_column(frame[column].tolist())
    return frame


def parse_json_column(values: list[Any]) -> list[dict[str, Any]]:
    """Parse a column of JSON objects in one pass (one ``json.loads`` over the joined text);
    falls back to row by row when some row is not a JSON object."""
    texts = [v if isinstance(v, str) and v else "null" for v in values]
    try:
        parsed = json.loads("[" + ",".join(texts) + "]")
    except json.JSONDecodeError:
        return [parse_json(v) for v in values]
    if len(parsed) != len(values):
        return [parse_json(v) for v in values]
    return [p if isinstance(p, dict) else {} for p in parsed]


def steps(run: RunLike) -> pd.DataFrame:
    """One row per step: active agents, outcomes, wall time and the minds' counters."""
    return read_table(run, "steps")


def metrics(run: RunLike) -> pd.DataFrame:
    """The world's metrics, indexed by step, one column per metric (empty if none)."""
    frame = read_table(run, "metrics")
    if frame.empty:
        return pd.DataFrame()
    return frame.pivot_table(index="step", columns="metric", values="value", aggfunc="last")


def parse_json(value: Any) -> dict[str, Any]:
    """A JSON object from the trace as a dict; null or malformed text gives ``{}``."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def field(frame: pd.DataFrame, column: str, *keys: str) -> pd.Series:
    """The first of ``keys`` present in each row's parsed ``column`` (``args`` or ``data``), else None."""
    def pick(obj: dict[str, Any]) -> Any:
        for key in keys:
            if key in obj and obj[key] is not None:
                return obj[key]
        return None

    return pd.Series([pick(v) for v in frame[column]], index=frame.index, dtype=object)
