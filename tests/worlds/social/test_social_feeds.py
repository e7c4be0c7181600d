"""Feeds mix followed and recommended posts; observations carry numbers and text for minds."""

from __future__ import annotations

import numpy as np
from platform_fixtures import act, make_world

from populace.testing import check_world


def test_a_feed_mixes_followed_and_recommended_posts_in_proportion() -> None:
    world = make_world(n=20, feed={"size": 4, "followed_share": 0.5}, recommender={"type": "random"})
    act(world, "follow", [0], user=[1])
    followed = [int(act(world, "create_post", [1], content=[f"mine {i}"]).data["post_id"][0]) for i in range(5)]
    act(world, "create_post", list(range(2, 12)), content=["other"] * 10)
    obs = world.observe(np.array([0]))
    feed = obs["feed_post"][0].tolist()
    assert feed[:2] == followed[::-1][:2]  # the two newest followed posts come first
    assert len(set(feed)) == 4 and all(world.state.posts["author"][p] != 0 for p in feed)
    assert obs["feed_followed"][0, :2].all()


def test_own_posts_never_appear_and_feeds_are_padded() -> None:
    world = make_world(n=3, feed={"size": 5})
    act(world, "create_post", [0, 1], content=["by zero", "by one"])
    obs = world.observe(np.array([0, 1]))
    assert obs["feed_post"].tolist() == [[1, -1, -1, -1, -1], [0, -1, -1, -1, -1]]
    assert obs["feed_author"][0, 0] == 1 and obs["feed_author"][0, 1] == -1


def test_twitter_and_reddit_modes_differ_in_defaults() -> None:
    twitter, reddit = make_world(), make_world(mode="reddit")
    assert type(twitter.recommender).__name__ == "InterestRecommender" and twitter.followed_share == 0.5
    assert type(reddit.recommender).__name__ == "HotRecommender" and reddit.followed_share == 0.0
    assert not twitter.show_scores and reddit.show_scores and reddit.show_comments
    for world in (twitter, reddit):
        act(world, "create_post", [1], content=["what do you think"])
        act(world, "create_comment", [2, 3], post_id=[0, 0], content=["great", "meh"])
        act(world, "like_comment", [4], comment_id=[1])
    assert "thread_comment" not in twitter.observe(np.array([0])).columns
    obs = reddit.observe(np.array([0]))
    assert obs["thread_comment"][0, :2].tolist() == [1, 0]  # best-scored comment first
    assert obs["thread_score"][0, :2].tolist() == [1, 0]
    assert "[comment 1] @user3 (score 1): meh" in obs["feed"][0] and "score 0, 2 comments" in obs["feed"][0]


def test_observation_text_for_language_model_minds() -> None:
    world = make_world(dilemma="Ban cars?")
    world.state.users["stance"][0] = 0.25
    act(world, "create_post", [1], content=["hello there"])
    act(world, "follow", [2], user=[0])
    act(world, "create_post", [0], content=["my post"])
    act(world, "create_comment", [3], post_id=[1], content=["hi"])
    obs = world.observe(np.array([0]))
    row = obs.row(0)
    assert row["persona"].startswith("You are @user0. user 0 likes topic0") and "+0.25" in row["persona"]
    assert "@user1 (0m ago; 0 likes, 0 reposts, 0 comments): hello there" in row["feed"]
    assert row["notifications"] == "@user2 followed you; @user3 commented on your post 1"
    assert row["notify_followers"] == 1 and row["notify_replies"] == 1
    assert world.observe(np.array([0]))["notify_followers"][0] == 0  # shown once


def test_text_columns_can_be_switched_off() -> None:
    obs = make_world(text=False).observe(np.array([0, 1]))
    assert "feed" not in obs.columns and "persona" not in obs.columns and obs["feed_post"].shape == (2, 10)


def test_the_social_world_passes_the_conformance_check() -> None:
    for mode in ("twitter", "reddit"):
        world = make_world(n=40, mode=mode, follows={"kind": "random", "degree": 4})
        check_world(world, steps=4)


def test_reposts_travel_through_follows_and_a_feed_shows_each_content_once() -> None:
    world = make_world(n=5, recommender={"type": "random"}, feed={"size": 4, "followed_share": 0.5})
    act(world, "create_post", [1], content=["original"])
    act(world, "follow", [0], user=[2])
    act(world, "repost", [2], post_id=[0])
    assert world.view().candidates().tolist() == [0]  # recommenders see originals and quotes only
    assert world.view().candidates(reposts=True).tolist() == [0, 1]
    assert world.observe(np.array([0]))["feed_post"][0].tolist() == [1, -1, -1, -1]  # the repost, not both
    world.state.posts["hidden"][0] = True  # removing the original removes its reposts
    act(world, "refresh", [0])
    assert world.observe(np.array([0]))["feed_post"][0].tolist() == [-1, -1, -1, -1]
    assert act(world, "like_post", [3], post_id=[1]).reason[0] == "post removed"
