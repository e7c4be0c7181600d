"""The response cache: content-addressed, one SQLite file per run, safe to resume.

A key is the SHA-256 of the canonical JSON of everything that determines an answer: the
request kind, the backend and model, the prompt, the sampling parameters (seed included), the
schema and the options. Each answer is committed as soon as it arrives (WAL journal), so a killed
run keeps every answer it paid for, and a resumed, forked or replayed run finds them again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from populace.llm.base import Prompt, Sampling

#: The file name inside a run's ``cache/`` directory.
CACHE_FILE = "responses.sqlite"


def request_key(kind: str, backend: str, prompt: Prompt, *, sampling: Sampling | None = None,
                schema: dict[str, Any] | None = None, options: Sequence[str] | None = None) -> str:
    """The content address of one request."""
    payload = {
        "kind": kind, "backend": backend,
        "prompt": prompt if isinstance(prompt, str) else [dict(m) for m in prompt],
        "sampling": asdict(sampling) if sampling is not None else None,
        "schema": schema, "options": list(options) if options is not None else None,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Answers by request key in a SQLite file (``path=None``: in memory, for tests)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db: sqlite3.Connection | None = sqlite3.connect(
            str(path) if path is not None else ":memory:", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses "
                         "(key TEXT PRIMARY KEY, kind TEXT, backend TEXT, record TEXT NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored record for ``key``, or None."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT record FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, kind: str, backend: str, record: dict[str, Any]) -> None:
        """Store (or replace) the record for ``key``; committed at once."""
        if self._db is None:
            return
        self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)",
                         (key, kind, backend, json.dumps(record, ensure_ascii=False)))

    def __len__(self) -> int:
        if self._db is None:
            return 0
        return int(self._db.execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
