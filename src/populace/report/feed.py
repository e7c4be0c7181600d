"""The social world's feed rebuilt from the trace: posts, comments and their counts at a step.

Reads the events the ``social`` world records (``create_post``/``quote_post``/``repost`` with the
new ``post_id`` in ``data``; ``create_comment`` with ``comment_id``; votes with ``post_id`` or
``comment_id`` in ``args``). Texts are returned as they were written: escaping is the renderer's job.

:func:`build_feed` folds a table of events in memory. On a run's trace, :func:`most_engaged` and
:func:`feed_at` first let DuckDB pick the posts to show, then fold only the events that touch
them (the posts, the posts they share, their votes, reposts, comments and removals), so a feed
of ten posts costs ten posts' worth of memory however long the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from populace import layout
from populace.analysis.tables import RunLike, parse_json_column, query, sql_strings

if TYPE_CHECKING:
    from populace.scenario import Scenario

ORIGINALS = ("create_post", "inject_post")
POST_KINDS = (*ORIGINALS, "quote_post", "repost")
REMOVALS = ("remove_post", "delete_post", "takedown")
AUTHOR_REMOVALS = ("remove_posts", "ban_account", "ban_user")
POST_COUNTERS = {"like_post": ("likes", 1), "unlike_post": ("likes", -1), "dislike_post": ("dislikes", 1),
                 "undo_dislike_post": ("dislikes", -1)}
COMMENT_COUNTERS = {"like_comment": ("likes", 1), "unlike_comment": ("likes", -1),
                    "dislike_comment": ("dislikes", 1), "undo_dislike_comment": ("dislikes", -1)}
FEED_ACTIONS = (*POST_KINDS, *REMOVALS, *AUTHOR_REMOVALS, "create_comment", *POST_COUNTERS, *COMMENT_COUNTERS)


def _key(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def has_feed(events: pd.DataFrame) -> bool:
    """Whether the trace holds any post (i.e. it is a social run)."""
    return bool(len(events)) and bool(events["action"].isin(POST_KINDS).any())


def timed_interventions(scenario: Scenario) -> list[dict[str, Any]]:
    """A scenario's interventions as dicts, each with the ``step`` it runs at under the scenario's clock."""
    clock = scenario.clock.clock()
    return [{**iv.model_dump(), "step": iv.step(clock)} for iv in scenario.interventions]


def injected_texts(events: pd.DataFrame, interventions: list[dict[str, Any]]) -> dict[Any, str]:
    """Texts of posts published by ``inject_post`` interventions (their events carry only the id);
    ``interventions`` as :func:`timed_interventions` gives them."""
    texts: dict[Any, str] = {}
    injected = events[(events["action"] == "inject_post") & (events["outcome"] == "ok")]
    for step, group in injected.groupby("step"):
        calls = [iv for iv in interventions if iv.get("call") == "inject_post" and iv.get("step") == step]
        for data, iv in zip(group["data"], calls, strict=False):
            texts[_key(data.get("post_id"))] = str(iv.get("args", {}).get("content", ""))
    return texts


def build_feed(events: pd.DataFrame, upto: int | None = None, limit: int = 50,
               author: int | None = None, texts: dict[Any, str] | None = None) -> list[dict[str, Any]]:
    """Posts (newest first) as dicts with their comments and counts, from events up to step ``upto``.

    ``author`` keeps only one agent's posts; ``texts`` supplies contents the events lack (see
    :func:`injected_texts`). Each post: ``id, author, step, kind, content, parent, shared`` (the
    text of the post a repost or quote shares), ``likes, dislikes, reposts, comments (list), removed``.
    """
    texts = texts or {}
    chosen = events[(events["outcome"] == "ok") & events["action"].isin(FEED_ACTIONS)]
    if upto is not None:
        chosen = chosen[chosen["step"] <= upto]
    posts: dict[Any, dict[str, Any]] = {}
    comments: dict[Any, dict[str, Any]] = {}
    for step, agent, action, args, data in zip(chosen["step"], chosen["agent"], chosen["action"],
                                               chosen["args"], chosen["data"], strict=True):
        if action in POST_KINDS:
            pid = _key(data.get("post_id"))
            parent = _key(args.get("post_id")) if action not in ORIGINALS else None
            content = args.get("content", data.get("content", texts.get(pid, "")))
            posts[pid] = {"id": pid, "author": int(agent), "step": int(step), "kind": action,
                          "content": str(content), "parent": parent, "likes": 0, "dislikes": 0,
                          "reposts": 0, "comments": [], "removed": False, "shared": ""}
            if parent in posts:
                posts[parent]["reposts"] += 1
                posts[pid]["shared"] = posts[parent]["shared"] or posts[parent]["content"]
        elif action == "create_comment":
            cid, pid = _key(data.get("comment_id")), _key(args.get("post_id"))
            comment = {"id": cid, "post": pid, "author": int(agent), "step": int(step),
                       "content": str(args.get("content", "")), "likes": 0, "dislikes": 0}
            comments[cid] = comment
            if pid in posts:
                posts[pid]["comments"].append(comment)
        elif action in POST_COUNTERS:
            pid = _key(args.get("post_id"))
            if pid in posts:
                name, delta = POST_COUNTERS[action]
                posts[pid][name] += delta
        elif action in COMMENT_COUNTERS:
            cid = _key(args.get("comment_id"))
            if cid in comments:
                name, delta = COMMENT_COUNTERS[action]
                comments[cid][name] += delta
        elif action in REMOVALS:
            pid = _key(data.get("post_id", args.get("post_id")))
            if pid in posts:
                posts[pid]["removed"] = True
        elif action in AUTHOR_REMOVALS:
            for post in posts.values():
                if post["author"] == int(agent):
                    post["removed"] = True
    shown = [p for p in posts.values() if author is None or p["author"] == author]
    shown.sort(key=lambda p: (p["step"], str(p["id"])), reverse=True)
    return shown[:limit]


# -- reading a run's trace ---------------------------------------------------------------------

SHARES = tuple(k for k in POST_KINDS if k not in ORIGINALS)
#: the id of the post an event creates, and of the post it shares, votes on or comments on
NEW_POST = "json_extract_string(data, '$.post_id')"
ON_POST = "json_extract_string(args, '$.post_id')"


def _feed_events(upto: int | None) -> str:
    """The accepted feed events (up to ``upto``) with their recorded position, as a CTE body."""
    return (f"SELECT step, agent, action, args, data, filename, file_row_number FROM {{events}} "
            f"WHERE outcome = 'ok' AND action IN ({sql_strings(FEED_ACTIONS)})"
            + (f" AND step <= {int(upto)}" if upto is not None else ""))


def trace_has_feed(run: RunLike) -> bool:
    """Whether the run's trace holds any post (as :func:`has_feed`, without loading the events)."""
    return not query(run, f"SELECT 1 AS post FROM {{events}} WHERE action IN ({sql_strings(POST_KINDS)}) "
                          "LIMIT 1").empty


def injected_events(run: RunLike, files: Sequence[Path] | None = None) -> pd.DataFrame:
    """The run's accepted ``inject_post`` events (of ``files``, default every part), ``data`` parsed."""
    frame = query(run, "SELECT step, action, outcome, data FROM {events} WHERE action = 'inject_post' "
                       "AND outcome = 'ok' ORDER BY filename, file_row_number", positions=True,
                  files=None if files is None else {layout.EVENTS: files})
    frame["data"] = parse_json_column(frame["data"].tolist()) if len(frame) else []
    return frame


def trace_injected_texts(run: RunLike, interventions: list[dict[str, Any]]) -> dict[Any, str]:
    """:func:`injected_texts` of the run's trace (only the ``inject_post`` events are read)."""
    return injected_texts(injected_events(run), interventions)


def most_engaged(run: RunLike, limit: int = 10, texts: dict[Any, str] | None = None) -> list[dict[str, Any]]:
    """The ``limit`` posts with the most likes plus reposts (earlier first among equals), as
    :func:`build_feed` shows them; DuckDB counts every post's votes and reposts, only the chosen
    posts are rebuilt."""
    chosen = query(run, f"""
        WITH ev AS NOT MATERIALIZED ({_feed_events(None)}),
        posts AS (SELECT {NEW_POST} AS id, step FROM ev WHERE action IN ({sql_strings(POST_KINDS)})),
        votes AS (SELECT {ON_POST} AS id, sum(CASE WHEN action = 'like_post' THEN 1 ELSE -1 END) AS n
                  FROM ev WHERE action IN ('like_post', 'unlike_post') GROUP BY ALL),
        shares AS (SELECT {ON_POST} AS id, count(*) AS n FROM ev WHERE action IN ({sql_strings(SHARES)}) GROUP BY ALL)
        SELECT posts.id FROM posts LEFT JOIN votes USING (id) LEFT JOIN shares USING (id)
        WHERE posts.id IS NOT NULL
        ORDER BY coalesce(votes.n, 0) + coalesce(shares.n, 0) DESC, posts.step, posts.id DESC LIMIT {int(limit)}
        """, positions=True)
    posts = _rebuild(run, chosen["id"].tolist() if len(chosen) else [], None, texts)
    return sorted(posts, key=lambda p: (-(p["likes"] + p["reposts"]), p["step"]))


def feed_at(run: RunLike, upto: int | None = None, limit: int = 50, author: int | None = None,
            texts: dict[Any, str] | None = None) -> list[dict[str, Any]]:
    """:func:`build_feed` of the run's trace, reading only the ``limit`` newest posts up to ``upto``
    (by ``author``) and the events that touch them."""
    by = f" AND agent = {int(author)}" if author is not None else ""
    chosen = query(run, f"""
        WITH ev AS NOT MATERIALIZED ({_feed_events(upto)})
        SELECT {NEW_POST} AS id FROM ev WHERE action IN ({sql_strings(POST_KINDS)}){by} AND {NEW_POST} IS NOT NULL
        ORDER BY step DESC, id DESC LIMIT {int(limit)}""", positions=True, upto=upto)
    return _rebuild(run, chosen["id"].tolist() if len(chosen) else [], upto, texts)[:limit]


def _rebuild(run: RunLike, ids: list[str], upto: int | None, texts: dict[Any, str] | None) -> list[dict[str, Any]]:
    """The posts ``ids`` (post ids as text), newest first, rebuilt by :func:`build_feed` from the
    events that touch them and from the posts they share, all the way up their chains."""
    if not ids:
        return []
    ev = f"WITH ev AS NOT MATERIALIZED ({_feed_events(upto)})"
    posts, counters, comments = sql_strings(POST_KINDS), sql_strings([*SHARES, *POST_COUNTERS, "create_comment"]), \
        sql_strings(list(COMMENT_COUNTERS))
    frames = [query(run, f"""{ev},
        shown AS (SELECT unnest($ids::VARCHAR[]) AS id),
        authors AS (SELECT DISTINCT agent FROM ev WHERE action IN ({posts}) AND {NEW_POST} IN (SELECT id FROM shown)),
        comments AS (SELECT json_extract_string(data, '$.comment_id') AS id FROM ev
                     WHERE action = 'create_comment' AND {ON_POST} IN (SELECT id FROM shown))
        SELECT * FROM ev WHERE (action IN ({posts}) AND {NEW_POST} IN (SELECT id FROM shown))
           OR (action IN ({counters}) AND {ON_POST} IN (SELECT id FROM shown))
           OR (action IN ({comments}) AND json_extract_string(args, '$.comment_id') IN (SELECT id FROM comments))
           OR (action IN ({sql_strings(REMOVALS)}) AND coalesce({NEW_POST}, {ON_POST}) IN (SELECT id FROM shown))
           OR (action IN ({sql_strings(AUTHOR_REMOVALS)}) AND agent IN (SELECT agent FROM authors))""",
        {"ids": ids}, positions=True, upto=upto)]
    known = set(ids)
    wanted = _parents(frames[0], known)
    for _ in range(1000):  # one query per level of sharing above the shown posts
        if not wanted:
            break
        known |= wanted
        found = query(run, f"{ev} SELECT * FROM ev WHERE action IN ({posts}) AND {NEW_POST} IN "
                           f"(SELECT unnest($ids::VARCHAR[]))", {"ids": sorted(wanted)}, positions=True, upto=upto)
        frames.append(found)
        wanted = _parents(found, known)
    events = pd.concat(frames, ignore_index=True).drop_duplicates(["filename", "file_row_number"])
    events = events.sort_values(["filename", "file_row_number"], kind="stable").reset_index(drop=True)
    events["outcome"] = "ok"
    for column in ("args", "data"):
        events[column] = parse_json_column(events[column].tolist())
    shown = set(ids)
    return [p for p in build_feed(events, upto, len(events), None, texts) if str(p["id"]) in shown]


def _parents(events: pd.DataFrame, known: set[str]) -> set[str]:
    """Ids of the posts that the shares among ``events`` share, not yet in ``known``."""
    shares = events[events["action"].isin(SHARES)]
    args = parse_json_column(shares["args"].tolist()) if len(shares) else []
    return {str(_key(a["post_id"])) for a in args if a.get("post_id") is not None} - known
