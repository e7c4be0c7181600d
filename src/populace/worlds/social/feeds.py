"""Feeds and observations: what a user sees when they open the app.

A feed mixes the newest posts of the accounts a user follows with the recommender's picks, in a
configurable proportion, without duplicates, the user's own posts or muted authors. The
observation handed to minds has numeric columns (``feed_post``, ``feed_likes``, ... as
``(agents, feed size)`` arrays, for vectorised rules) and text columns (``persona``, ``feed``,
``notifications``, ``results``) for language-model minds to prompt on; in Reddit mode the
comment threads are rendered under each post of ``feed``.
"""

from __future__ import annotations

import numpy as np

from populace.worlds.social.recommenders import FeedView, Recommender, followed_posts
from populace.worlds.social.state import SocialState

NO_POST = -1


def assemble_feeds(users: np.ndarray, view: FeedView, recommender: Recommender, size: int,
                   followed_share: float) -> np.ndarray:
    """``(len(users), size)`` post ids: ``followed_share`` from followees first, the rest recommended."""
    n_followed = round(size * followed_share)
    followed = followed_posts(users, size, view) if n_followed else np.full((len(users), 0), -1, np.int64)
    recommended = recommender.recommend(users, 2 * size, view) if n_followed < size else \
        np.full((len(users), 0), -1, np.int64)
    candidates = np.concatenate([followed[:, :n_followed], recommended, followed[:, n_followed:]], axis=1)
    return _clean_rows(candidates, users, view.state, size)


def _clean_rows(candidates: np.ndarray, users: np.ndarray, state: SocialState, size: int) -> np.ndarray:
    """Drop repeated content, padding, own posts and muted authors per row; keep order; cut to ``size``."""
    n, m = candidates.shape
    out = np.full((n, size), NO_POST, dtype=np.int64)
    if m == 0:
        return out
    # one post per content: a repost and the post it reposts count as the same item
    content = np.where(candidates >= 0, state.posts["source"][np.maximum(candidates, 0)], -1) \
        if len(state.posts) else candidates
    order = np.argsort(content, axis=1, kind="stable")
    ordered = np.take_along_axis(content, order, axis=1)
    repeat_sorted = np.zeros_like(ordered, dtype=bool)
    repeat_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    drop = np.zeros_like(repeat_sorted)
    np.put_along_axis(drop, order, repeat_sorted, axis=1)
    drop |= candidates < 0
    authors = state.posts["author"][np.maximum(candidates, 0)] if len(state.posts) else np.zeros_like(candidates)
    viewer = np.broadcast_to(users[:, None], candidates.shape)
    drop |= authors == viewer
    if len(state.mutes):
        drop |= state.mutes.contains(viewer.ravel(), authors.ravel()).reshape(candidates.shape)
    keep = np.argsort(drop, axis=1, kind="stable")[:, :size]
    picked = np.take_along_axis(candidates, keep, axis=1)
    picked[np.take_along_axis(drop, keep, axis=1)] = NO_POST
    out[:, : picked.shape[1]] = picked
    return out


def top_comments(state: SocialState, posts: np.ndarray, per_post: int) -> np.ndarray:
    """The ``per_post`` best-scored comments of each post in ``posts`` (any shape), as ``posts.shape + (c,)``."""
    out = np.full((*posts.shape, per_post), -1, dtype=np.int64)
    c = state.comments
    if len(c) == 0 or per_post == 0:
        return out
    ids = np.arange(len(c))
    order = np.lexsort((ids, -state.comment_score(ids), c["post"]))
    by_post = c["post"][order]
    flat = posts.ravel()
    start = np.searchsorted(by_post, flat)
    stop = np.searchsorted(by_post, flat, side="right")
    flat_out = out.reshape(len(flat), per_post)
    for j in range(per_post):
        has = (flat >= 0) & (start + j < stop)
        flat_out[has, j] = order[start[has] + j]
    return out


def age_text(seconds: float) -> str:
    """'5m', '3h' or '2d' for an age in seconds."""
    if seconds < 3600:
        return f"{max(int(seconds // 60), 0)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def feed_items(state: SocialState, feed: np.ndarray, now_s: float) -> np.ndarray:
    """Per row of ``feed``, the list of its posts as dicts (``post``, ``author``, ``text``, ``likes``,
    ``reposts``, ``age`` in hours, ``topic``), for minds that score items one by one (similarity).
    Each post's dict is built once and shared by every feed showing it."""
    p = state.posts
    shown, where = np.unique(feed, return_inverse=True)
    where = where.reshape(feed.shape)
    items: list[dict[str, object] | None] = []
    for post in shown.tolist():
        items.append(None if post < 0 else {
            "post": post, "author": int(p["author"][post]), "text": str(p["content"][post]),
            "likes": int(p["likes"][post]), "reposts": int(p["reposts"][post]),
            "age": max(0.0, (now_s - float(p["created_s"][post])) / 3600.0), "topic": str(p["topic"][post]),
        })
    out = np.empty(len(feed), dtype=object)
    rows = np.asarray(where).reshape(len(feed), -1).tolist()
    out[:] = [[items[j] for j in row if items[j] is not None] for row in rows]
    return out


def feed_text(state: SocialState, feed: np.ndarray, now_s: float, show_scores: bool,
              threads: np.ndarray | None) -> list[str]:
    """One rendered feed per row of ``feed`` (post ids, -1 padded); each post is rendered once."""
    p, names = state.posts, state.users["name"]
    shown, where = np.unique(feed, return_inverse=True)
    where = where.reshape(feed.shape)
    author, kind, parent, content = p["author"], p["kind"], p["parent"], p["content"]
    likes, dislikes, reposts, comments, created = p["likes"], p["dislikes"], p["reposts"], p["comments"], \
        p["created_s"]
    rendered = []
    for post in shown.tolist():
        if post < 0:
            rendered.append("")
            continue
        if show_scores:
            counts = f"score {likes[post] - dislikes[post]}, {comments[post]} comments"
        else:
            counts = f"{likes[post]} likes, {reposts[post]} reposts, {comments[post]} comments"
        lead = ""
        if kind[post] != 0:
            verb = "reposted" if kind[post] == 1 else "quoted"
            lead = f"{verb} @{names[author[parent[post]]]}: "
        rendered.append(f"[post {post}] @{names[author[post]]} ({age_text(now_s - created[post])} ago; {counts}): "
                        f"{lead}{content[post]}")
    if threads is not None:
        c = state.comments
        listed = np.unique(threads[threads >= 0])
        scores = state.comment_score(listed)
        comment_text = {int(i): f"    [comment {i}] @{names[c['author'][i]]} (score {s}): {c['content'][i]}"
                        for i, s in zip(listed.tolist(), scores.tolist(), strict=True)}
    out = []
    for r, row in enumerate(where):
        lines = []
        for j, slot in enumerate(row.tolist()):
            if shown[slot] < 0:
                continue
            lines.append(rendered[slot])
            if threads is not None:
                lines.extend(comment_text[i] for i in threads[r, j].tolist() if i >= 0)
        out.append("\n".join(lines) if lines else "(your feed is empty)")
    return out
