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

import pandas as pd

from populace.analysis.tables import RunLike, has_table, read_table, run_path

COLUMNS = ["step", "agent", "action", "prompt", "response", "request"]


def _text(value: Any) -> str:
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
    file = path / "cache" / "responses.sqlite"
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


def decisions(run: RunLike, events: pd.DataFrame | None = None, agent: int | None = None,
              limit: int = 20, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """Up to ``limit`` decisions (a seeded sample, or ``agent``'s latest) and where they came from.

    Returns ``(table, source)``; ``source`` is ``"decisions table"``, ``"response cache"`` or a
    sentence saying why there are none.
    """
    path = run_path(run)
    if has_table(path, "decisions"):
        table = read_table(path, "decisions")
        frame = pd.DataFrame({c: table.get(c) for c in COLUMNS}, index=table.index)
        frame["prompt"] = [_text(v) for v in frame["prompt"]]
        frame["response"] = [_text(v) for v in frame["response"]]
        source = "decisions table"
    else:
        if events is None:
            from populace.analysis.tables import events as read_events

            events = read_events(path)
        asked = events[events["request"].notna()] if "request" in events else events.iloc[0:0]
        if asked.empty:
            return pd.DataFrame(columns=COLUMNS), "no decision in this run was made by a language model"
        # look up only what can be shown: the agent's latest, or a seeded sample (with room for misses)
        if agent is not None:
            asked = asked[asked["agent"] == agent].tail(4 * limit)
        elif len(asked) > 4 * limit:
            asked = asked.sample(4 * limit, random_state=seed).sort_index()
        records = _cache_records(path, sorted(set(asked["request"].astype(str))))
        if not records and agent is None:
            return pd.DataFrame(columns=COLUMNS), "the run has model requests but no prompts or responses were kept"
        rows = []
        for step, who, action, request in zip(asked["step"], asked["agent"], asked["action"], asked["request"],
                                              strict=True):
            record = records.get(str(request))
            if record is None:
                continue
            rows.append({"step": int(step), "agent": int(who), "action": action, "request": str(request),
                         "prompt": _text(_first(record, "prompt", "messages")) or "(the prompt was not kept)",
                         "response": _text(_first(record, "text", "response", "content", "choice", "answer",
                                                  "probabilities"))})
        frame = pd.DataFrame(rows, columns=COLUMNS)
        source = "response cache"
    if agent is not None:
        frame = frame[frame["agent"] == agent].sort_values("step", kind="stable").tail(limit)
    elif len(frame) > limit:
        frame = frame.sample(limit, random_state=seed).sort_values(["step", "agent"], kind="stable")
    return frame.reset_index(drop=True), source
