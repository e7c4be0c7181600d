"""The population: agent attributes and state as columns; an agent is an integer id.

Mesa-style verbs (``select``, ``groupby``, ``agg``, ``shuffle``) run over whole columns, so a
million agents cost a few arrays, not a million Python objects.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from populace.errors import PopulationError

#: The longest CSV row a population file may have.
MAX_ROW_BYTES = 16 << 20

Selector = str | np.ndarray | Callable[["Population"], np.ndarray] | None


class Population:
    """Columns of equal length ``size``; row ``i`` is agent ``i``."""

    def __init__(self, columns: Mapping[str, Any] | None = None, size: int | None = None) -> None:
        self._columns: dict[str, np.ndarray] = {}
        if size is None:
            lengths = {len(v) for v in (columns or {}).values()}
            if len(lengths) > 1:
                raise PopulationError(f"columns have different lengths: {sorted(lengths)}")
            size = lengths.pop() if lengths else 0
        self.size = int(size)
        for name, values in (columns or {}).items():
            self[name] = values

    # -- columns -----------------------------------------------------------------------------
    @property
    def ids(self) -> np.ndarray:
        return np.arange(self.size, dtype=np.int64)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._columns[name]
        except KeyError:
            raise PopulationError(
                f"no population column {name!r} (columns: {', '.join(self._columns) or 'none'})"
            ) from None

    def __setitem__(self, name: str, values: Any) -> None:
        array = np.asarray(values)
        if array.ndim == 0:
            array = np.full(self.size, array)
        if len(array) != self.size:
            raise PopulationError(f"column {name!r} has {len(array)} rows, population has {self.size}")
        self._columns[name] = array

    def take(self, ids: np.ndarray) -> Population:
        """The agents ``ids`` as a population of their own (row ``k`` is agent ``ids[k]``)."""
        return Population({name: col[ids] for name, col in self._columns.items()}, size=len(ids))

    def row(self, agent: int) -> dict[str, Any]:
        """One agent's attributes as plain Python values (for prompts and inspection)."""
        return {name: col[agent].item() if hasattr(col[agent], "item") else col[agent]
                for name, col in self._columns.items()}

    # -- verbs -------------------------------------------------------------------------------
    def mask(self, where: Selector) -> np.ndarray:
        """Boolean mask of the agents a selector picks.

        A selector is ``None`` or ``"all"`` (everyone), a pandas-style query over the columns
        (``"age > 30 and gender == 'f'"``), a boolean mask, an array of ids, or a callable
        ``population -> mask``.
        """
        if where is None or (isinstance(where, str) and where.strip() == "all"):
            return np.ones(self.size, dtype=bool)
        if callable(where):
            where = where(self)
        if isinstance(where, str):
            return self._query(where)
        array = np.asarray(where)
        if array.dtype == bool:
            if len(array) != self.size:
                raise PopulationError(f"mask has {len(array)} entries, population has {self.size}")
            return array
        mask = np.zeros(self.size, dtype=bool)
        mask[array.astype(np.int64)] = True
        return mask

    def select(self, where: Selector = None) -> np.ndarray:
        """Ids of the agents a selector picks (see :meth:`mask`)."""
        return np.flatnonzero(self.mask(where))

    def shuffle(self, rng: np.random.Generator, ids: np.ndarray | None = None) -> np.ndarray:
        """The given ids (default: everyone) in a random order drawn from ``rng``."""
        ids = self.ids if ids is None else np.asarray(ids)
        return ids[rng.permutation(len(ids))]

    def groupby(self, by: str | list[str], ids: np.ndarray | None = None) -> dict[tuple[Any, ...], np.ndarray]:
        """Map each distinct value tuple of ``by`` to the ids that have it, in first-seen order."""
        names = [by] if isinstance(by, str) else list(by)
        ids = self.ids if ids is None else np.asarray(ids, dtype=np.int64)
        if not names:
            return {(): ids}
        codes = np.zeros(len(ids), dtype=np.int64)
        uniques = []
        for name in names:
            values, inverse = np.unique(self[name][ids], return_inverse=True)
            codes = codes * len(values) + inverse.reshape(-1)
            uniques.append(values)
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        groups: dict[tuple[Any, ...], np.ndarray] = {}
        for start, stop in zip(starts, np.r_[starts[1:], len(order)], strict=True):
            members = ids[order[start:stop]]
            key = tuple(_plain(self[name][members[0]]) for name in names)
            groups[key] = members
        return groups

    def agg(
        self, column: str, func: str | Callable[[np.ndarray], Any] = "mean",
        by: str | list[str] | None = None, ids: np.ndarray | None = None,
    ) -> Any:
        """Aggregate a column (``mean``, ``sum``, ``min``, ``max``, ``std``, ``count`` or a callable),
        over everyone, the given ids, or per group."""
        reducer = _REDUCERS.get(func) if isinstance(func, str) else func
        if reducer is None:
            raise PopulationError(f"unknown aggregate {func!r} (known: {', '.join(_REDUCERS)})")
        if by is None:
            values = self[column] if ids is None else self[column][ids]
            return _plain(reducer(values))
        return {key: _plain(reducer(self[column][members]))
                for key, members in self.groupby(by, ids).items()}

    # -- conversion --------------------------------------------------------------------------
    def to_arrow(self) -> Any:
        """The scalar columns as a ``pyarrow.Table`` (2-D columns become list columns)."""
        import pyarrow as pa

        arrays = {}
        for name, col in self._columns.items():
            arrays[name] = pa.array(list(col)) if col.ndim > 1 else pa.array(col)
        return pa.table(arrays)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame({n: c for n, c in self._columns.items() if c.ndim == 1}, index=pd.RangeIndex(self.size))

    @classmethod
    def from_file(cls, path: str | Path) -> Population:
        """Load agents from a CSV or Parquet file: one row per agent, one column per attribute.

        Text that is not valid UTF-8 is decoded here, once, with U+FFFD for each undecodable byte."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.is_file():
            raise PopulationError(f"population file {str(path)!r} does not exist")
        try:
            if path.suffix.lower() in {".parquet", ".pq"}:
                table = pq.read_table(path)
            elif path.suffix.lower() in {".csv", ".tsv"}:
                opts = pacsv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
                # one block must hold the longest row: 16 MiB lets a field carry a long text
                table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=MAX_ROW_BYTES),
                                       parse_options=opts)
            else:
                raise PopulationError(
                    f"population file {str(path)!r}: unsupported type {path.suffix!r} "
                    "(accepted: .csv, .tsv, .parquet)"
                )
            names = table.column_names
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "straddl" in first:
                first = f"a row is longer than {MAX_ROW_BYTES >> 20} MiB"
            elif isinstance(exc, UnicodeDecodeError):
                first = "column names are not valid UTF-8"
            raise PopulationError(f"population file {str(path)!r} cannot be read: {first}") from None
        if table.num_rows == 0:
            raise PopulationError(f"population file {str(path)!r} has no rows")
        repeated = sorted({n for n in names if n.strip() and names.count(n) > 1})  # nameless: see below
        if repeated:
            raise PopulationError(f"population file {str(path)!r} repeats column name(s) {repeated!r}")
        columns: dict[str, np.ndarray] = {}
        for index, name in enumerate(names):
            col = table.column(index)
            if not name.strip():  # a nameless column: a saved row index is the agent id already
                if pa.types.is_integer(col.type) and np.array_equal(col.to_numpy(zero_copy_only=False),
                                                                    np.arange(table.num_rows)):
                    continue
                name = f"column_{index}"
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                columns[name] = np.asarray(col.fill_null("").to_pylist(), dtype=object)
            elif pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
                # text that is not valid UTF-8: undecodable bytes become U+FFFD, once, here
                columns[name] = np.asarray([b.decode("utf-8", "replace") for b in col.fill_null(b"").to_pylist()],
                                           dtype=object)
            else:
                try:
                    columns[name] = col.to_numpy(zero_copy_only=False)
                except (pa.ArrowInvalid, NotImplementedError):
                    columns[name] = np.asarray(col.to_pylist(), dtype=object)
        return cls(columns)

    def _query(self, expression: str) -> np.ndarray:
        frame = self.to_pandas()
        try:
            result = frame.eval(expression)
        except Exception as exc:  # pandas raises many types for a bad expression
            unknown = re.fullmatch(r"name '(.+)' is not defined", str(exc)) if isinstance(exc, NameError) else None
            if unknown:
                name = unknown.group(1)
                close = difflib.get_close_matches(name, self.columns, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                columns = ", ".join(self.columns) or "none"
                raise PopulationError(f"selector {expression!r}: no column {name!r}{hint} "
                                      f"(columns: {columns}; `index` is the agent id)") from None
            raise PopulationError(f"selector {expression!r} is not valid: {exc}") from None
        mask = np.asarray(result)
        if mask.dtype != bool or mask.shape != (self.size,):
            raise PopulationError(f"selector {expression!r} does not give one true/false per agent")
        return mask


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


_REDUCERS: dict[str, Callable[[np.ndarray], Any]] = {
    "mean": np.mean, "sum": np.sum, "min": np.min, "max": np.max, "std": np.std,
    "median": np.median, "count": len,
}
