"""Information cascades: trees of reposts grown from one original post.

A cascade is the tree whose root is an original post and whose edges are reposts (a repost's
parent is the post it shares, which may itself be a repost). Measured per cascade, as OASIS
measures its Twitter cascades and as the social world's ``cascade_*`` metrics do: scale (distinct
users who posted in the tree, the root's author included), posts (its posts, root included),
depth (longest root-to-leaf path in edges), maximum breadth (most posts at one depth) and
structural virality (Goel, Anderson, Hofman & Watts 2016: the mean
shortest-path distance between all pairs of nodes; 0 for a lone post, 1 for a star, large for a
long chain of person-to-person spread).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from populace.analysis.tables import RunLike, field, query, sql_strings

#: event kinds that create an original post (``seed_post``: a post from the world's posts file), and
#: that share an existing one
POST_ACTIONS = ("create_post", "inject_post", "seed_post", "post")
SHARE_ACTIONS = ("repost", "quote_post", "share", "quote")


def posts_from_events(
    events: pd.DataFrame, post_actions: Sequence[str] = POST_ACTIONS, share_actions: Sequence[str] = SHARE_ACTIONS,
) -> pd.DataFrame:
    """Posts with their parent from parsed events: columns ``post, parent, agent, step``.

    The new post's id is read from the event's ``data`` (``post_id``, ``post`` or ``id``); a
    share's parent from its ``args`` (``post_id``, ``post``, ``parent``). Only accepted events count.
    """
    wanted = events[(events["outcome"] == "ok") & events["action"].isin([*post_actions, *share_actions])]
    if wanted.empty:
        return pd.DataFrame({"post": pd.Series(dtype=object), "parent": pd.Series(dtype=object),
                             "agent": pd.Series(dtype="int64"), "step": pd.Series(dtype="int64")})
    posts = pd.DataFrame({
        "post": field(wanted, "data", "post_id", "post", "id"),
        "parent": field(wanted, "args", "post_id", "post", "parent", "original"),
        "agent": wanted["agent"].astype("int64"),
        "step": wanted["step"].astype("int64"),
    })
    posts.loc[~wanted["action"].isin(share_actions), "parent"] = None
    return posts[posts["post"].notna()].reset_index(drop=True)


def _json_key(column: str, keys: Sequence[str]) -> str:
    """SQL: the JSON text of the first of ``keys`` present and not null in ``column`` (as :func:`field`)."""
    return "coalesce(" + ", ".join(f"nullif(json_extract({column}, '$.{k}')::VARCHAR, 'null')" for k in keys) + ")"


def _json_values(texts: pd.Series) -> list[Any]:
    """Values from their JSON text (None where missing), as :func:`posts_from_events` holds them."""
    return [None if not isinstance(t, str) else int(t) if t.lstrip("-").isdigit() else json.loads(t) for t in texts]


def posts_in_trace(run: RunLike, post_actions: Sequence[str] = POST_ACTIONS,
                   share_actions: Sequence[str] = SHARE_ACTIONS, limit: int | None = None) -> pd.DataFrame:
    """:func:`posts_from_events` of a run's trace, read by DuckDB (only these four columns are
    loaded); ``limit`` keeps the first posts recorded."""
    listed, shares = sql_strings([*post_actions, *share_actions]), sql_strings(share_actions) or "NULL"
    frame = query(run, f"""
        SELECT post, parent, agent, step FROM (
            SELECT {_json_key("data", ("post_id", "post", "id"))} AS post,
                   CASE WHEN action IN ({shares})
                        THEN {_json_key("args", ("post_id", "post", "parent", "original"))} END AS parent,
                   agent, step, filename, file_row_number
            FROM {{events}} WHERE outcome = 'ok' AND action IN ({listed}))
        WHERE post IS NOT NULL ORDER BY filename, file_row_number
        {f"LIMIT {int(limit)}" if limit is not None else ""}""", positions=True)
    if frame.empty:
        return posts_from_events(pd.DataFrame(columns=["action", "outcome"]))
    return pd.DataFrame({"post": pd.Series(_json_values(frame["post"]), dtype=object),
                         "parent": pd.Series(_json_values(frame["parent"]), dtype=object),
                         "agent": frame["agent"].astype("int64"), "step": frame["step"].astype("int64")})


def _roots_and_depths(posts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per post: its cascade root, its depth, and its parent's row (-1 for a root)."""
    ids = list(posts["post"])
    row_of = {p: i for i, p in enumerate(ids)}
    parent_row = np.array([row_of.get(p, -1) if p is not None else -1 for p in posts["parent"]], dtype=np.int64)
    has_parent = parent_row >= 0
    root = np.where(has_parent, parent_row, np.arange(len(ids)))
    depth = has_parent.astype(np.int64)
    # pointer jumping: every round doubles how far each post has climbed towards its root
    for _ in range(64):
        climbing = parent_row[root] >= 0
        if not climbing.any():
            break
        depth = depth + np.where(climbing, depth[root], 0)
        root = np.where(climbing, root[root], root)
    return root, depth, parent_row


def cascades(posts: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """One row per cascade (root post): ``root, scale, posts, depth, max_breadth, structural_virality, start``.

    ``posts`` has columns ``post``, ``parent`` (None for an original), ``agent`` (the author) and
    ``step``; a parent not among the posts makes its child a root. ``scale`` counts distinct
    authors, ``posts`` posts. Sorted by scale, largest first (then posts, then earliest);
    ``limit`` measures only that many of the largest (a run of a million lone posts takes as long
    as one cascade then, not a million).
    """
    columns = ["root", "scale", "posts", "depth", "max_breadth", "structural_virality", "start"]
    if posts.empty:
        return pd.DataFrame(columns=columns)
    root, depth, parent_row = _roots_and_depths(posts)
    authors = posts["agent"].to_numpy(dtype=np.int64)
    ids = posts["post"].to_numpy(dtype=object)
    rows = []
    order = np.argsort(root, kind="stable")
    roots, starts, sizes = np.unique(root[order], return_index=True, return_counts=True)
    if limit is not None:  # the order of the result: scale down, posts down, start up, then as recorded
        pairs = np.unique(np.stack([root, authors]), axis=1)[0]  # one (root, author) per pair
        users = np.bincount(pairs, minlength=len(root))[roots]
        chosen = np.lexsort((posts["step"].to_numpy()[roots], -sizes, -users))[:limit]
        roots, starts, sizes = roots[chosen], starts[chosen], sizes[chosen]
    for r, start, size in zip(roots, starts, sizes, strict=True):
        members = order[start:start + size]
        breadth = np.bincount(depth[members])
        rows.append({
            "root": ids[r], "scale": len(np.unique(authors[members])), "posts": len(members),
            "depth": int(depth[members].max()),
            "max_breadth": int(breadth.max()),
            "structural_virality": _structural_virality(members, parent_row, depth),
            "start": int(posts["step"].iloc[r]),
        })
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["scale", "posts", "start"], ascending=[False, False, True],
                             kind="stable").reset_index(drop=True)


def _structural_virality(members: np.ndarray, parent_row: np.ndarray, depth: np.ndarray) -> float:
    """Mean distance over all node pairs of a tree: sum over edges of s (n - s) / C(n, 2)."""
    n = len(members)
    if n < 2:
        return 0.0
    local = {int(m): i for i, m in enumerate(members)}
    parent = np.array([local.get(int(parent_row[m]), -1) for m in members], dtype=np.int64)
    # subtree sizes: accumulate children into parents, deepest first
    size = np.ones(n, dtype=np.int64)
    for i in np.argsort(-depth[members], kind="stable"):
        if parent[i] >= 0:
            size[parent[i]] += size[i]
    edges = size[parent >= 0]
    return float(np.sum(edges * (n - edges)) / (n * (n - 1) / 2))


def cascade_growth(posts: pd.DataFrame) -> pd.DataFrame:
    """Each cascade over time: ``root, step, scale, posts, depth, max_breadth`` after every step it
    grew (``scale``: distinct authors so far, as :func:`cascades` counts them)."""
    columns = ["root", "step", "scale", "posts", "depth", "max_breadth"]
    if posts.empty:
        return pd.DataFrame(columns=columns)
    root, depth, _ = _roots_and_depths(posts)
    frame = pd.DataFrame({"root": root, "step": posts["step"].to_numpy(dtype=np.int64), "depth": depth,
                          "agent": posts["agent"].to_numpy(dtype=np.int64)})
    # new posts per (cascade, step, depth); cumulative over steps within a cascade
    counts = frame.groupby(["root", "step", "depth"]).size().unstack("depth", fill_value=0)
    at_depth = counts.groupby(level="root").cumsum()
    # an author counts from the first step they post in the cascade
    first = frame.groupby(["root", "agent"])["step"].min().reset_index()
    joined = first.groupby(["root", "step"]).size().groupby(level="root").cumsum()
    grown = pd.DataFrame({
        "posts": at_depth.sum(axis=1),
        "depth": np.asarray(at_depth.columns)[(at_depth.to_numpy() > 0).cumsum(axis=1).argmax(axis=1)],
        "max_breadth": at_depth.max(axis=1),
    }, index=at_depth.index)
    # every step the cascade grew has a row; authors joined by then (a step of repeat posters adds none)
    grown["scale"] = joined.reindex(grown.index).groupby(level="root").ffill().fillna(0)
    grown = grown.reset_index()
    grown["root"] = posts["post"].to_numpy(dtype=object)[grown["root"].to_numpy()]
    return grown[columns].astype({"step": "int64", "scale": "int64", "posts": "int64", "depth": "int64",
                                  "max_breadth": "int64"})


def cascade_tree(posts: pd.DataFrame, root: Any, limit: int = 300) -> pd.DataFrame:
    """The posts of the cascade grown from ``root``: ``post, parent, agent, step, depth`` plus
    ``parent_agent`` (whose post was shared), the first ``limit`` recorded (a parent is recorded
    before its reposts, so the cut is still one tree), in recorded order."""
    columns = ["post", "parent", "agent", "step", "depth", "parent_agent"]
    if posts.empty:
        return pd.DataFrame(columns=columns)
    roots, depth, parent_row = _roots_and_depths(posts)
    ids = posts["post"].to_numpy(dtype=object)
    at = np.flatnonzero(ids == root)
    if not len(at):
        return pd.DataFrame(columns=columns)
    members = np.flatnonzero(roots == roots[at[0]])[:limit]
    agents = posts["agent"].to_numpy()
    parents = parent_row[members]
    return pd.DataFrame({
        "post": ids[members], "parent": [ids[p] if p >= 0 else None for p in parents],
        "agent": agents[members], "step": posts["step"].to_numpy()[members], "depth": depth[members],
        "parent_agent": [int(agents[p]) if p >= 0 else -1 for p in parents],
    }, columns=columns)
