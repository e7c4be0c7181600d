"""Seeding the platform from data: users from population columns, a follow graph, and posts.

Formats (CSV or Parquet; see ``docs/worlds/social.md``):

- users: the population file itself. Optional columns ``name`` (or ``username``), ``bio`` (or
  ``description`` / ``user_char``), ``stance`` (a number in [-1, 1]), a follow list column such as
  OASIS's ``following_agentid_list`` (``"[3, 17]"``) and a column of earlier posts such as OASIS's
  ``previous_tweets`` (``"['text one', 'text two']"``).
- follows: columns ``follower`` and ``followee`` (user ids, i.e. population rows).
- posts: columns ``author`` and ``content``; optional ``time`` (when the post appears: simulated
  time from the start, ``90m``, or a timestamp) or ``step`` (a step index; default: the start),
  ``topic`` (e.g. ``rumour``) and ``stance``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np

from populace.clock import Clock, parse_instant
from populace.datafiles import data_path
from populace.errors import ScenarioError
from populace.network import random_network, small_world
from populace.population import Population

NAME_COLUMNS = ("name", "username", "user_name")
BIO_COLUMNS = ("bio", "description", "user_char")


def first_column(population: Population, names: tuple[str, ...]) -> np.ndarray | None:
    """The first of ``names`` that the population has, as text, or None."""
    for name in names:
        if name in population:
            return np.asarray(["" if v is None else str(v) for v in population[name]], dtype=object)
    return None


def parse_list(value: Any) -> list[Any]:
    """A list from a list, an array, or its text form (``"[1, 2]"``, ``"['a', 'b']"``); else []."""
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            parsed = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return []
        return list(parsed) if isinstance(parsed, list | tuple) else []
    return []


def resolve(path: str) -> Path:
    """A data path: absolute, else relative to the working directory, else to the built-in scenarios."""
    return data_path(path)


def read_table(path: str, required: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """Columns of a CSV or Parquet file, checking that ``required`` ones exist."""
    from populace.errors import PopulationError

    try:
        table = Population.from_file(resolve(path))
    except PopulationError as exc:
        raise ScenarioError(f"world.params.{what}: {exc}") from None
    missing = [c for c in required if c not in table]
    if missing:
        raise ScenarioError(f"world.params.{what}: {path!r} lacks column(s) {', '.join(missing)} "
                            f"(has: {', '.join(table.columns)})")
    return {name: table[name] for name in table.columns}


def numbers(values: Any, what: str, *, whole: bool = False) -> np.ndarray:
    """A column as float64 (``whole``: as int64 ids), or a one-line error naming the first bad value."""
    values = np.asarray(values)
    try:
        if values.dtype.kind in "biuf":
            out = values.astype(np.float64)
        else:
            if not all(_is_number(v) for v in values.tolist()):
                raise ValueError
            out = np.asarray([float(v) for v in values.tolist()], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        bad = next((v for v in values.tolist() if not _is_number(v)), None)
        raise ScenarioError(f"{what}: {_show(bad)} is not a number") from None
    if whole:
        finite = np.isfinite(out)
        ok = finite & (out == np.round(out)) & (np.abs(out) < 2.0**62)
        if not ok.all():
            bad = values.tolist()[int(np.flatnonzero(~ok)[0])]
            raise ScenarioError(f"{what}: {_show(bad)} is not a whole number")
        return out.astype(np.int64)
    return out


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | str | np.integer | np.floating):
        return False
    try:
        float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _show(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def follow_lists(values: np.ndarray, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(follower, followee) from a column of followee lists; an empty cell follows nobody."""
    what = f"world.params.follows.column {column!r}"
    follower: list[int] = []
    followee: list[Any] = []
    for user, value in enumerate(values):
        blank = value is None or (isinstance(value, float) and value != value)
        if blank or (isinstance(value, str) and not value.strip()):
            continue
        items = parse_list(value)
        if not items and not (isinstance(value, str) and value.strip().replace(" ", "") == "[]") \
                and not isinstance(value, list | tuple | np.ndarray):
            raise ScenarioError(f"{what}: row {user} holds {_show(value)}, not a list of user ids like \"[3, 17]\"")
        follower.extend([user] * len(items))
        followee.extend(items)
    ids = numbers(np.asarray(followee, dtype=object), what, whole=True) if followee else np.empty(0, np.int64)
    return np.asarray(follower, dtype=np.int64), ids


def follow_edges(population: Population, kind: str, degree: int, rewire: float, column: str | None,
                 path: str | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(follower, followee) arrays for the configured initial follow graph."""
    n = population.size
    if kind == "none":
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if kind in ("random", "small_world"):
        build = small_world if kind == "small_world" else random_network
        net = build(n, degree, rewire, rng)
        follower = np.repeat(np.arange(n), np.diff(net.indptr))
        return follower.astype(np.int64), net.indices.astype(np.int64)
    if kind == "column":
        if column is None or column not in population:
            raise ScenarioError(f"world.params.follows.column: {column!r} is not a population column")
        follower, followee = follow_lists(population[column], column)
    else:
        if path is None:
            raise ScenarioError("world.params.follows.path: a follows file is needed for kind 'file'")
        table = read_table(path, ("follower", "followee"), "follows.path")
        follower = numbers(table["follower"], "world.params.follows.path: column follower", whole=True)
        followee = numbers(table["followee"], "world.params.follows.path: column followee", whole=True)
    ok = (follower >= 0) & (follower < n) & (followee >= 0) & (followee < n) & (follower != followee)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise ScenarioError(f"world.params.follows: edge {follower[bad]} -> {followee[bad]} is not between two "
                            f"different users 0..{n - 1}")
    return follower, followee


def column_posts(population: Population, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(author, content) of the earlier posts listed in a population column."""
    if column not in population:
        raise ScenarioError(f"world.params.posts_column: {column!r} is not a population column")
    rows = [(u, str(text)) for u, value in enumerate(population[column]) for text in parse_list(value)
            if str(text).strip()]
    return (np.asarray([u for u, _ in rows], dtype=np.int64),
            np.asarray([t for _, t in rows], dtype=object))


def file_posts(path: str, n_users: int, clock: Clock) -> dict[str, np.ndarray]:
    """Posts to inject, by step: author, content, step, topic, stance (NaN = the author's). A
    ``time`` column becomes the first step that begins then or later on ``clock``."""
    table = read_table(path, ("author", "content"), "posts_file")
    n = len(table["author"])
    if "time" in table and "step" in table:
        raise ScenarioError("world.params.posts_file: give a time column or a step column, not both")
    steps = _steps(table["time"], clock) if "time" in table else \
        numbers(table.get("step", np.zeros(n)), "world.params.posts_file: column step", whole=True)
    author = numbers(table["author"], "world.params.posts_file: column author", whole=True)
    if ((author < 0) | (author >= n_users)).any():
        raise ScenarioError(f"world.params.posts_file: author ids must be users 0..{n_users - 1}")
    return {
        "author": author,
        "content": np.asarray([str(c) for c in table["content"]], dtype=object),
        "step": steps,
        "topic": np.asarray([str(t) for t in table.get("topic", np.full(n, ""))], dtype=object),
        "stance": numbers(table.get("stance", np.full(n, np.nan)), "world.params.posts_file: column stance"),
    }


def _steps(times: Any, clock: Clock) -> np.ndarray:
    """The step at which each post of a ``time`` column appears (see :meth:`Clock.step_at`)."""
    out = np.zeros(len(times), dtype=np.int64)
    for row, value in enumerate(times):
        try:
            if isinstance(value, np.datetime64):  # a CSV reader's timestamp
                value = value.astype("datetime64[us]").item()
            elif isinstance(value, np.generic):
                value = value.item()
            out[row] = clock.step_at(parse_instant(value))
        except ValueError as exc:
            raise ScenarioError(f"world.params.posts_file: column time, row {row + 1}: {exc}") from None
    return out
