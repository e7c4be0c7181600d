"""Growable tables, pair sets, and counters that always agree with the relations they count."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from platform_fixtures import make_world

from populace import Actions
from populace.worlds.social import PairSet, SocialWorld, Table
from populace.worlds.social.state import QUOTE, REPOST


def test_a_table_grows_and_keeps_its_rows() -> None:
    table = Table({"a": np.int64, "text": object}, capacity=2)
    first = table.append(a=[1, 2], text=["x", "y"])
    second = table.append(a=np.arange(5))
    assert first.tolist() == [0, 1] and second.tolist() == [2, 3, 4, 5, 6]
    assert table["a"].tolist() == [1, 2, 0, 1, 2, 3, 4]
    assert table["text"].tolist() == ["x", "y", "", "", "", "", ""]
    assert table.valid(np.array([-1, 0, 6, 7])).tolist() == [False, True, True, False]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=8)),
                max_size=25))
def test_a_pair_set_behaves_like_a_set(batches: list[tuple[bool, list[tuple[int, int]]]]) -> None:
    pairs, model = PairSet(), set()
    for i, (adding, batch) in enumerate(batches):
        left = np.array([a for a, _ in batch], dtype=np.int64)
        right = np.array([b for _, b in batch], dtype=np.int64)
        changed = (pairs.add if adding else pairs.remove)(left, right)
        expected = []
        for pair in batch:
            hit = (pair not in model) if adding else (pair in model)
            expected.append(hit)
            if adding:
                model.add(pair)
            else:
                model.discard(pair)
        assert changed.tolist() == expected
        if i % 3 == 0:
            pairs.compact()
        probe = np.array([(a, b) for a in range(7) for b in range(7)])
        assert pairs.contains(probe[:, 0], probe[:, 1]).tolist() == [tuple(p) in model for p in probe.tolist()]
        assert len(pairs) == len(model)
    left, right = pairs.pairs()
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == sorted(model)
    owner, rights = pairs.rights_of(np.array([3, 1]))
    assert sorted(rights[owner == 0].tolist()) == sorted(b for a, b in model if a == 3)


ACTION_NAMES = ["create_post", "create_comment", "like_post", "unlike_post", "dislike_post", "undo_dislike_post",
                "like_comment", "unlike_comment", "dislike_comment", "undo_dislike_comment", "repost", "quote_post",
                "follow", "unfollow", "create_group", "join_group", "leave_group"]
ARGS = {"create_post": ("content",), "create_comment": ("post_id", "content"), "repost": ("post_id",),
        "quote_post": ("post_id", "content"), "follow": ("user",), "unfollow": ("user",),
        "create_group": ("name",), "join_group": ("group_id",), "leave_group": ("group_id",)}


def batch(name: str, rows: list[tuple[int, int]]) -> Actions:
    agents = np.array([a for a, _ in rows], dtype=np.int64)
    targets = np.array([t for _, t in rows], dtype=np.int64)
    if name in ("follow", "unfollow"):
        targets %= 5  # users 0..4: every action passes type validation and reaches the handler
    keys = ARGS.get(name, ("comment_id",) if "comment" in name else ("post_id",))
    args: dict[str, np.ndarray] = {}
    for key in keys:
        args[key] = np.array(["some words"] * len(rows), dtype=object) if key in ("content", "name") else targets
    return Actions(name, agents, args)


def assert_counters_match_relations(world: SocialWorld) -> None:
    s = world.state
    n, posts, comments = s.n_users, len(s.posts), len(s.comments)
    assert s.users["followers"].tolist() == s.follows.count_right(n).tolist()
    assert s.users["following"].tolist() == s.follows.count_left(n).tolist()
    assert s.users["posts"].tolist() == np.bincount(s.posts["author"], minlength=n).tolist()
    assert s.posts["likes"].tolist() == s.post_likes.count_right(posts).tolist()
    assert s.posts["dislikes"].tolist() == s.post_dislikes.count_right(posts).tolist()
    assert s.comments["likes"].tolist() == s.comment_likes.count_right(comments).tolist()
    assert s.comments["dislikes"].tolist() == s.comment_dislikes.count_right(comments).tolist()
    assert s.posts["comments"].tolist() == np.bincount(s.comments["post"], minlength=posts).tolist()
    for kind, counter in ((REPOST, "reposts"), (QUOTE, "quotes")):
        children = s.posts["parent"][s.posts["kind"] == kind]
        assert s.posts[counter].tolist() == np.bincount(children, minlength=posts).tolist()
    assert len(s.reposted) == int(np.count_nonzero(s.posts["kind"] == REPOST))
    assert s.groups["members"].tolist() == s.members.count_left(len(s.groups)).tolist()
    assert (s.posts["root"][s.posts["root"]] == s.posts["root"]).all()
    source = s.posts["source"]
    assert (source[source] == source).all() and ((source == np.arange(posts)) == (s.posts["kind"] != REPOST)).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ACTION_NAMES),
                          st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), min_size=1, max_size=6)),
                max_size=30))
def test_counters_stay_consistent_with_relations(script: list[tuple[str, list[tuple[int, int]]]]) -> None:
    world = make_world(n=5, follows={"kind": "random", "degree": 2})
    for name, rows in script:
        events = world.apply([batch(name, rows)])
        assert sum(len(e) for e in events) == len(rows)
    assert_counters_match_relations(world)
