"""A run's trace as pandas tables: events (with parsed ``args``/``data``), steps, metrics, extra tables.

Every table is a directory of Parquet parts under the run directory (``events/``, ``steps/``,
``metrics/``, and whatever else a component records, e.g. ``decisions/``); reading one is a
plain ``pyarrow.parquet`` read, so pandas, polars and DuckDB read the same files directly.

:func:`events` and :func:`read_table` load a whole table into memory: fine for a small run, not
for 100 million events. :func:`query` runs SQL over the parts with DuckDB instead, in bounded
memory, and returns only its result; the report and the dashboard read runs through it.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from populace import layout
from populace.errors import RunError
from populace.runs import Run

RunLike = str | Path | Run

#: DuckDB's working memory for one query; beyond it, its joins, sorts and aggregates spill to disk
QUERY_MEMORY = "1GB"
_TABLE = re.compile(r"\{([a-z_]+)\}")


def run_path(run: RunLike) -> Path:
    """The directory of a run given as a path, an id under ``./runs`` or a :class:`Run`."""
    return run.path if isinstance(run, Run) else Run.open(Path(run)).path


def has_table(run: RunLike, name: str) -> bool:
    """Whether the run recorded any part of table ``name``."""
    return layout.has_parts(run_path(run), name)


def parts(run: RunLike, name: str, upto: int | None = None) -> list[Path]:
    """The Parquet parts of table ``name`` in step order (a part is named ``FIRST-LAST.parquet``);
    ``upto`` keeps only the parts that begin at or before that step."""
    found = layout.parts(run_path(run), name)
    if upto is not None:
        found = [p for p in found if (first := layout.part_first(p)) is None or first <= upto]
    return found


def read_arrow(run: RunLike, name: str) -> pa.Table:
    """Table ``name`` as one Arrow table (parts concatenated in step order; empty if none)."""
    found = parts(run, name)
    if not found:
        return pa.table({})
    return pa.concat_tables([pq.read_table(p) for p in found], promote_options="permissive")


def sql_strings(values: Sequence[str]) -> str:
    """Strings as a SQL list body: ``'a', 'b'`` (quotes doubled)."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def parquet_source(files: Sequence[Path], positions: bool = False) -> str:
    """A DuckDB relation reading ``files``; ``positions`` adds ``filename`` and ``file_row_number``,
    which order rows as they were recorded (parts sort by step, rows within a part as written)."""
    extra = ", filename=true, file_row_number=true" if positions else ""
    return f"read_parquet([{sql_strings([str(f) for f in files])}], union_by_name=true{extra})"


def _empty_events(positions: bool) -> str:
    """An events relation with no rows (a run that recorded none), typed as the trace writes it."""
    from populace.records import EVENT_SCHEMA

    types = {"int32": "INTEGER", "int64": "BIGINT", "timestamp[ms]": "TIMESTAMP", "string": "VARCHAR"}
    columns = [f"NULL::{types[str(f.type)]} AS {f.name}" for f in EVENT_SCHEMA]
    if positions:
        columns += ["''::VARCHAR AS filename", "0::BIGINT AS file_row_number"]
    return f"(SELECT {', '.join(columns)} WHERE false)"


def _source(sources: dict[str, str], match: re.Match[str]) -> str:
    return sources[match.group(1)]


def query(run: RunLike, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *,
          positions: bool = False, upto: int | None = None,
          files: Mapping[str, Sequence[Path]] | None = None) -> pd.DataFrame:
    """The result of DuckDB ``sql`` over the run's tables, named in braces: ``{events}``, ``{steps}``...

    Only the result is held in memory: DuckDB streams the parts, and spills what exceeds
    :data:`QUERY_MEMORY` to a temporary directory. ``params`` fill ``?`` or ``$name``; ``positions``
    adds ``filename, file_row_number`` to every table (their recorded order); ``upto`` skips parts
    that begin after that step (filter ``step`` in ``sql`` too); ``files`` names the parts to read
    of a table (default: all of them).
    A run without events reads as an empty events table; without any other table it names, the
    result is empty.
    """
    import duckdb

    for attempt in (1, 2):
        sources: dict[str, str] = {}
        for name in dict.fromkeys(_TABLE.findall(sql)):
            found = list(files[name]) if files and name in files else parts(run, name, upto)
            if found:
                sources[name] = parquet_source(found, positions)
            elif name == layout.EVENTS:
                sources[name] = _empty_events(positions)
            else:
                return pd.DataFrame()
        text = _TABLE.sub(partial(_source, sources), sql)
        with tempfile.TemporaryDirectory(prefix="populace-query-") as spill, \
                duckdb.connect(config={"memory_limit": QUERY_MEMORY, "temp_directory": spill}) as con:
            try:
                return con.execute(text, params).df()
            except duckdb.IOException as exc:  # a part removed under us (a resume): list the parts again
                if attempt == 2:
                    raise RunError(f"cannot read the trace of {run_path(run)}: {exc}") from None
            except duckdb.Error as exc:
                raise RunError(f"cannot query the trace of {run_path(run)}: {str(exc).splitlines()[0]}") from None
    raise AssertionError("unreachable")


def latest(run: RunLike, table: str, where: str = "TRUE", params: Mapping[str, Any] | None = None,
           limit: int = 10, upto: int | None = None) -> pd.DataFrame:
    """The last ``limit`` rows of ``table`` matching ``where`` (in parts up to step ``upto``), newest
    first, as recorded. The parts are searched from the newest back in windows that double, so an
    agent's recent rows cost a read of the last few parts, not of the whole run."""
    found = parts(run, table, upto)
    frames: list[pd.DataFrame] = []
    end, width, wanted = len(found), 1, limit
    while end > 0 and wanted > 0:
        frame = query(run, f"SELECT * EXCLUDE (filename, file_row_number) FROM {{{table}}} WHERE {where} "
                           f"ORDER BY filename DESC, file_row_number DESC LIMIT {int(wanted)}",
                      params, positions=True, files={table: found[max(0, end - width):end]})
        frames.append(frame)
        wanted -= len(frame)
        end, width = end - width, 2 * width
    frames = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_table(run: RunLike, name: str) -> pd.DataFrame:
    """Table ``name`` as a pandas DataFrame (empty if the run has none)."""
    return read_arrow(run, name).to_pandas()


def events(run: RunLike) -> pd.DataFrame:
    """The events table with ``args`` and ``data`` parsed from JSON into dicts (``{}`` when null)."""
    frame = read_table(run, layout.EVENTS)
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
    return read_table(run, layout.STEPS)


def metrics(run: RunLike) -> pd.DataFrame:
    """The world's metrics, indexed by step, one column per metric (empty if none)."""
    frame = read_table(run, layout.METRICS)
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
