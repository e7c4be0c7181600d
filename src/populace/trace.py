"""The trace store: every event, step summary and metric of a run, as Parquet parts, and the
checkpoints a run resumes from. The run directory's names are :mod:`populace.layout`'s.

Why Parquet parts rather than one DuckDB database file: a part is written once, to a temporary
name, then renamed, so a killed run never leaves a torn file; and any number of readers
(``populace show``, the dashboard, pandas, polars, DuckDB) can read a run while it is being
written, which a single-writer database file does not allow. DuckDB queries the parts in place:
``SELECT * FROM read_parquet('runs/<id>/events/*.parquet')``.

Writes go through a background thread; a part never spans a checkpoint, so resuming deletes
exactly the parts written after the last checkpoint and loses nothing committed before it.
"""

from __future__ import annotations

import os
import pickle
import queue
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from populace import layout
from populace.errors import RunError
from populace.events import Events
from populace.records import EVENT_SCHEMA, events_table

TABLES = layout.TABLES

DICTIONARY_COLUMNS = ["step", "time", "action", "outcome", "reason", "request"]
STATISTICS_COLUMNS = ["step", "time", "agent", "action", "outcome"]


def write_part(path: Path, table: pa.Table) -> None:
    """Write one Parquet part of a run's table atomically (to a temporary name, then renamed), so a
    reader never sees a torn file: for tables written beside the trace (interviews)."""
    _atomic_write(path, lambda handle: pq.write_table(table, handle))


def _atomic_write(path: Path, write: Any) -> None:
    tmp = layout.temporary(path)
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class TraceStore:
    """Buffered, crash-safe recording of a run; ``path=None`` keeps everything in memory."""

    def __init__(self, path: Path | None, keep_events: str = "all") -> None:
        self.path = path
        self.keep_events = keep_events
        self._buffer: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
        self._buffer_steps: list[int] = []
        self._step_rows: list[dict[str, Any]] = []
        self._metric_rows: list[tuple[int, str, float]] = []
        self._memory: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
        self._queue: queue.Queue[tuple[int, int, dict[str, list[pa.Table]]] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if path is not None:
            for directory in (*(layout.table_dir(path, name) for name in TABLES), layout.checkpoint_dir(path),
                              layout.snapshot_dir(path)):
                directory.mkdir(parents=True, exist_ok=True)
            self._start_writer()

    def _start_writer(self) -> None:
        """Start the background writer (again, after :meth:`close`, when a paused run goes on)."""
        self._thread = threading.Thread(target=self._writer, name="populace-trace", daemon=True)
        self._thread.start()

    # -- recording ---------------------------------------------------------------------------
    def record(
        self, step: int, time: datetime, events: Iterable[Events],
        summary: Mapping[str, Any], metrics: Mapping[str, float], *, tables: Sequence[pa.Table] | None = None,
    ) -> None:
        """Buffer one step's events (or ``tables`` of them already made by :func:`events_table`),
        summary row and metrics."""
        self._raise_writer_error()
        if self.keep_events != "none":
            if tables is None:
                self._buffer[layout.EVENTS].append(events_table(events, step, time, self.keep_events))
            else:
                self._buffer[layout.EVENTS].extend(tables)
        self._step_rows.append({"step": step, "time": time, **summary})
        self._metric_rows.extend((step, name, float(value)) for name, value in metrics.items())
        self._buffer_steps.append(step)

    def flush(self, wait: bool = False) -> None:
        """Hand buffered rows to the writer as one part per table; ``wait`` blocks until written."""
        if self._buffer_steps:
            self._tabulate_rows()
            batch = {name: tables for name, tables in self._buffer.items() if tables}
            first, last = self._buffer_steps[0], self._buffer_steps[-1]
            self._buffer = {name: [] for name in TABLES}
            self._buffer_steps = []
            if self.path is None:
                for name, tables in batch.items():
                    self._memory[name].extend(tables)
            else:
                if self._thread is None:
                    self._start_writer()
                self._queue.put((first, last, batch))
        if wait and self.path is not None:
            self._queue.join()
        self._raise_writer_error()

    def _tabulate_rows(self) -> None:
        """Turn the buffered step and metric rows into one Arrow table each (once per flush,
        not once per step: building a tiny table costs more than the step it records)."""
        if self._step_rows:
            keys = list(dict.fromkeys(k for row in self._step_rows for k in row))  # a counter may appear late
            self._buffer[layout.STEPS].append(pa.Table.from_pydict({k: [row.get(k) for row in self._step_rows]
                                                               for k in keys}))
        if self._metric_rows:
            steps, names, values = zip(*self._metric_rows, strict=True)
            self._buffer[layout.METRICS].append(pa.table({
                "step": pa.array(steps, pa.int32()), "metric": pa.array(names, pa.string()),
                "value": pa.array(values, pa.float64()),
            }))
        self._step_rows, self._metric_rows = [], []

    def _writer(self) -> None:
        assert self.path is not None
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                first, last, batch = item
                if self._error is None:
                    for name, tables in batch.items():
                        table = pa.concat_tables(tables, promote_options="permissive")
                        target = layout.part_file(self.path, name, first, last)
                        # events: dictionary-encode only the repetitive columns (agents and arguments
                        # are mostly distinct; a dictionary for them doubles the write time), and keep
                        # min/max statistics only where readers filter (steps, agents, kinds)
                        options = {"use_dictionary": DICTIONARY_COLUMNS, "write_statistics": STATISTICS_COLUMNS} \
                            if name == layout.EVENTS else {}
                        _atomic_write(target, lambda handle, t=table, o=options: pq.write_table(t, handle, **o))
            except BaseException as exc:  # reported to the simulation thread on its next call
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise_writer_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise RunError(f"cannot write the trace under {self.path}: {error}") from error

    def close(self) -> None:
        """Write what is buffered and stop the writer."""
        self.flush(wait=True)
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, step: int, state: Any) -> None:
        """Flush everything up to ``step`` and then store ``state`` as resumable after ``step`` steps."""
        self.flush(wait=True)
        if self.path is None:
            self._memory_checkpoint = (step, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
            return
        write_checkpoint(self.path, step, state)

    def save_snapshot(self, step: int, tables: Mapping[str, pa.Table | None]) -> None:
        """Store the per-agent snapshot after ``step`` steps (see :func:`write_snapshot`); kept only
        in a run directory."""
        if self.path is not None:
            write_snapshot(self.path, step, tables)

    def checkpoints(self) -> list[int]:
        """Steps at which a checkpoint exists, ascending."""
        if self.path is None:
            cp = getattr(self, "_memory_checkpoint", None)
            return [cp[0]] if cp else []
        return layout.checkpoint_steps(self.path)

    def load_checkpoint(self, step: int) -> Any:
        if self.path is None:
            return unpickle(self._memory_checkpoint[1])
        return load_checkpoint(self.path, step)

    def truncate(self, steps_done: int) -> None:
        """Delete parts holding steps ``>= steps_done`` (written after the checkpoint resumed from)."""
        if self.path is None:
            return
        for name in TABLES:
            for part in layout.parts(self.path, name):
                first = layout.part_first(part)
                if first is not None and first >= steps_done:
                    part.unlink()
            for tmp in layout.table_dir(self.path, name).glob(".*.tmp"):
                tmp.unlink()
        for step in layout.checkpoint_steps(self.path):
            if step > steps_done:
                layout.checkpoint_file(self.path, step).unlink()
        snapshots = layout.snapshot_dir(self.path)
        if snapshots.is_dir():
            for file in snapshots.glob(layout.PARTS):
                found = layout.snapshot_step(file)
                if found is not None and found[0] > steps_done:
                    file.unlink()
            for tmp in snapshots.glob(".*.tmp"):
                tmp.unlink()

    # -- reading -----------------------------------------------------------------------------
    def read(self, name: str) -> pa.Table:
        """One of ``events``, ``steps``, ``metrics`` as an Arrow table, in step order."""
        self.flush(wait=True)
        tables = self._memory[name] if self.path is None else [pq.read_table(p) for p in layout.parts(self.path, name)]
        if not tables:
            return EVENT_SCHEMA.empty_table() if name == layout.EVENTS else pa.table({})
        return pa.concat_tables(tables, promote_options="permissive")


#: Classes that moved since a checkpoint may have been written: (old module, name) -> new module.
MOVED = {
    ("populace.regions", "Region"): "populace.execution.regions",
    ("populace.regions", "RegionStep"): "populace.execution.regions",
    ("populace.regions", "RegionResult"): "populace.execution.regions",
}


class _Unpickler(pickle.Unpickler):
    """Reads checkpoints written before a class moved module."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get((module, name), module), name)


def write_snapshot(run: Path, step: int, tables: Mapping[str, pa.Table | None]) -> list[Path]:
    """Write the snapshot after ``step`` steps: ``tables`` by kind (:data:`layout.AGENTS_SNAPSHOT`,
    ``memories``, ``network``; None: none of that kind), each file atomically, the agents' last so
    that a snapshot whose agents' file exists is whole. Returns the files written."""
    written = []
    for kind in sorted(tables, key=lambda k: k == layout.AGENTS_SNAPSHOT):
        table = tables[kind]
        file = layout.snapshot_file(run, step, kind)
        if table is None:
            file.unlink(missing_ok=True)  # a snapshot rewritten after a resume: no stale file of its kind
            continue
        file.parent.mkdir(parents=True, exist_ok=True)
        # dictionary pages for text only: on a million distinct agent ids a dictionary's hash table is
        # most of the writer's memory (benchmarks/checkpoint_cost.py measures what a snapshot costs)
        text = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        _atomic_write(file, lambda handle, t=table, d=text: pq.write_table(t, handle, use_dictionary=d))
        written.append(file)
    return written


def write_checkpoint(run: Path, step: int, state: Any) -> Path:
    """Store ``state`` as the run's checkpoint after ``step`` steps (atomically); returns its file."""
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    file = layout.checkpoint_file(run, step)
    file.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(file, lambda handle: handle.write(payload))
    return file


def load_checkpoint(run: Path, step: int) -> Any:
    """The state a run saved after ``step`` steps (what it resumes or forks from)."""
    file = layout.checkpoint_file(run, step)
    try:
        return unpickle(file.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise RunError(f"checkpoint {file} cannot be read: {exc}") from None


def unpickle(payload: bytes) -> Any:
    """A checkpoint's state, classes that moved since it was written found where they are now."""
    import io

    return _Unpickler(io.BytesIO(payload)).load()
