"""The social world's feed rebuilt from the trace: posts, comments and their counts at a step.

Reads the events the ``social`` world records (``create_post``/``quote_post``/``repost`` with the
new ``post_id`` in ``data``; ``create_comment`` with ``comment_id``; votes with ``post_id`` or
``comment_id`` in ``args``). Texts are returned as they were written: escaping is the renderer's job.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

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


def injected_texts(events: pd.DataFrame, interventions: list[dict[str, Any]]) -> dict[Any, str]:
    """Texts of posts published by ``inject_post`` interventions (their events carry only the id)."""
    texts: dict[Any, str] = {}
    injected = events[(events["action"] == "inject_post") & (events["outcome"] == "ok")]
    for step, group in injected.groupby("step"):
        calls = [iv for iv in interventions if iv.get("call") == "inject_post" and iv.get("at") == step]
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
