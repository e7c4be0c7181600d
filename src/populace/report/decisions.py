"""Agent decisions with the prompt a model was given and what it answered, where the run kept them.

Sources, first found wins:

1. a ``decisions/`` table of Parquet parts (``step, agent, prompt, response`` and optionally ``action``);
2. events whose ``request`` column names a request (the cache key or its prefix), joined to the
   run's response cache (``cache/responses.sqlite``: the answer's ``text`` or ``probabilities``,
   and the ``prompt`` where the record keeps it);
3. nothing: a rules-only run decides without prompts, and the report says so.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from populace import layout
from populace.analysis.tables import RunLike, has_table, latest, query, run_path

COLUMNS = ["step", "agent", "action", "prompt", "response", "request"]


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):  # a list column, as DuckDB hands it over
        value = value.tolist()
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, int | float | str) for v in value):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return "\n\n".join(f"[{m.get('role', '')}] {m['content']}" for m in value)
    return json.dumps(value, ensure_ascii=False, default=str, indent=1)


def _first(record: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if record.get(key) is not None:
            return record[key]
    return None


def _cache_records(path: Path, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Cache records by request id; an id is the cache key or a prefix of it (the client's short id)."""
    file = layout.responses_file(path)
    if not file.is_file() or not ids:
        return {}
    found: dict[str, dict[str, Any]] = {}
    with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as db:
        for length in sorted({len(i) for i in ids}):
            wanted = [i for i in ids if len(i) == length]
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                rows = db.execute(f"SELECT substr(key, 1, {int(length)}), record FROM responses "
                                  f"WHERE substr(key, 1, {int(length)}) IN ({','.join('?' * len(chunk))})",
                                  chunk).fetchall()
                for key, record in rows:
                    try:
                        found[key] = json.loads(record)
                    except json.JSONDecodeError:
                        continue
    return found


#: why a run shows no decisions, when no language model decided anything
NO_MODEL = "no decision in this run was made by a language model"


def decisions(run: RunLike, agent: int | None = None, limit: int = 20, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """Up to ``limit`` decisions (a seeded sample, or ``agent``'s latest) and where they came from.

    Returns ``(table, source)``; ``source`` is ``"decisions table"``, ``"response cache"`` or a
    sentence saying why there are none. The run's tables are read by DuckDB, which hands back only
    the rows shown.
    """
    path = run_path(run)
    if has_table(path, layout.DECISIONS):
        table = _chosen(path, layout.DECISIONS, "TRUE", agent, limit, seed)
        frame = pd.DataFrame({c: table.get(c) for c in COLUMNS}, index=table.index)
        frame["prompt"] = [_text(v) for v in frame["prompt"]]
        frame["response"] = [_text(v) for v in frame["response"]]
        return frame, "decisions table"
    # look up only what can be shown: the agent's latest, or a seeded sample (with room for misses)
    asked = _chosen(path, layout.EVENTS, "request IS NOT NULL", agent, 4 * limit, seed)
    if asked.empty and (agent is None or query(path, "SELECT 1 AS asked FROM {events} WHERE request IS NOT NULL "
                                                     "LIMIT 1").empty):
        return pd.DataFrame(columns=COLUMNS), NO_MODEL
    records = _cache_records(path, sorted(set(asked["request"].astype(str)))) if len(asked) else {}
    if not records and agent is None:
        return pd.DataFrame(columns=COLUMNS), "the run has model requests but no prompts or responses were kept"
    rows = []
    for step, who, action, request in zip(asked.get("step", []), asked.get("agent", []), asked.get("action", []),
                                          asked.get("request", []), strict=True):
        record = records.get(str(request))
        if record is None:
            continue
        rows.append({"step": int(step), "agent": int(who), "action": action, "request": str(request),
                     "prompt": _text(_first(record, "prompt", "messages")) or "(the prompt was not kept)",
                     "response": _text(_first(record, "text", "response", "content", "choice", "answer",
                                              "probabilities"))})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if agent is None and len(frame) > limit:
        frame = frame.sample(limit, random_state=seed).sort_values(["step", "agent"], kind="stable")
    return frame.tail(limit).reset_index(drop=True), "response cache"


def _chosen(path: Path, table: str, where: str, agent: int | None, limit: int, seed: int) -> pd.DataFrame:
    """Rows of ``table`` matching ``where``: ``agent``'s last ``limit`` as recorded (oldest first),
    or a seeded sample of ``limit`` ordered by step and agent; only those are read into memory."""
    if agent is not None:
        frame = latest(path, table, f"{where} AND agent = $agent", {"agent": int(agent)}, limit)
        return frame.iloc[::-1].reset_index(drop=True)
    return query(path, f"SELECT * EXCLUDE (filename, file_row_number) FROM (SELECT * FROM {{{table}}} WHERE {where} "
                       f"ORDER BY hash(filename, file_row_number, $seed) LIMIT {int(limit)}) "
                       "ORDER BY step, agent, filename, file_row_number", {"seed": int(seed)}, positions=True)
