"""Every platform action: its effect, and its rejection with a reason."""

from __future__ import annotations

import numpy as np
import pytest
from platform_fixtures import act, make_world

from populace.events import Events
from populace.worlds.social import SocialWorld
from populace.worlds.social.state import QUOTE, REPOST


def outcomes(events: Events) -> list[str]:
    reasons = events.reason if events.reason is not None else [None] * len(events)
    return [o if o == "ok" else str(r) for o, r in zip(events.outcome, reasons, strict=True)]


def post(world: SocialWorld, author: int = 0, text: str = "hello world") -> int:
    return int(act(world, "create_post", [author], content=[text]).data["post_id"][0])


def test_create_post_stores_it_and_counts_it(world: SocialWorld) -> None:
    events = act(world, "create_post", [1, 2], content=["first post", "   "])
    assert outcomes(events) == ["ok", "empty content"]
    pid = events.data["post_id"][0]
    assert world.state.posts["content"][pid] == "first post" and world.state.posts["author"][pid] == 1
    assert world.state.posts["root"][pid] == pid and world.state.users["posts"][1] == 1
    assert np.linalg.norm(world.state.post_embedding[pid]) == pytest.approx(1.0, abs=1e-5)


def test_comment_on_a_post_and_not_on_a_missing_one(world: SocialWorld) -> None:
    pid = post(world)
    events = act(world, "create_comment", [1, 1], post_id=[pid, 99], content=["nice", "where?"])
    assert outcomes(events) == ["ok", "no such post"]
    assert world.state.posts["comments"][pid] == 1 and world.state.comments["post"][0] == pid
    assert world.state.notifications["kind"].tolist() == ["reply"]


@pytest.mark.parametrize(("do", "undo", "counter", "twice", "never"), [
    ("like_post", "unlike_post", "likes", "already liked", "not liked"),
    ("dislike_post", "undo_dislike_post", "dislikes", "already disliked", "not disliked"),
])
def test_post_votes(world: SocialWorld, do: str, undo: str, counter: str, twice: str, never: str) -> None:
    pid = post(world)
    assert outcomes(act(world, do, [1, 1, 2], post_id=[pid, pid, 42])) == ["ok", twice, "no such post"]
    assert outcomes(act(world, do, [1], post_id=[pid])) == [twice]
    assert world.state.posts[counter][pid] == 1
    assert outcomes(act(world, undo, [2, 1], post_id=[pid, pid])) == [never, "ok"]
    assert world.state.posts[counter][pid] == 0


@pytest.mark.parametrize(("do", "undo", "counter", "twice", "never"), [
    ("like_comment", "unlike_comment", "likes", "already liked", "not liked"),
    ("dislike_comment", "undo_dislike_comment", "dislikes", "already disliked", "not disliked"),
])
def test_comment_votes(world: SocialWorld, do: str, undo: str, counter: str, twice: str, never: str) -> None:
    pid = post(world)
    cid = int(act(world, "create_comment", [1], post_id=[pid], content=["hm"]).data["comment_id"][0])
    assert outcomes(act(world, do, [2, 2, 3], comment_id=[cid, cid, 7])) == ["ok", twice, "no such comment"]
    assert world.state.comments[counter][cid] == 1
    assert outcomes(act(world, undo, [3, 2], comment_id=[cid, cid])) == [never, "ok"]
    assert world.state.comments[counter][cid] == 0


def test_repost_builds_a_tree_and_is_once_per_original(world: SocialWorld) -> None:
    root = post(world, 0, "breaking news")
    first = act(world, "repost", [1], post_id=[root])
    assert outcomes(first) == ["ok"]
    child = int(first.data["post_id"][0])
    second = act(world, "repost", [2, 1, 3], post_id=[child, child, 77])
    assert outcomes(second) == ["ok", "already reposted", "no such post"]
    grandchild = int(second.data["post_id"][0])
    p = world.state.posts
    assert p["kind"][child] == REPOST and p["parent"][grandchild] == child
    assert p["root"][grandchild] == root and p["depth"][grandchild] == 2
    assert p["content"][grandchild] == "breaking news"
    assert p["reposts"][root] == 1 and p["reposts"][child] == 1


def test_quote_post_adds_text_and_inherits_the_topic(world: SocialWorld) -> None:
    world.inject_post(0, "the rumour", topic="rumour")
    events = act(world, "quote_post", [1, 2, 3], post_id=[0, 0, 5], content=["not sure", "", "x"])
    assert outcomes(events) == ["ok", "empty content", "no such post"]
    quote = int(events.data["post_id"][0])
    p = world.state.posts
    assert p["kind"][quote] == QUOTE and p["content"][quote] == "not sure" and p["topic"][quote] == "rumour"
    assert p["quotes"][0] == 1 and world.state.users["belief"][1] == 1


def test_follow_unfollow(world: SocialWorld) -> None:
    assert outcomes(act(world, "follow", [0, 0, 1], user=[1, 1, 1])) == [
        "ok", "already following", "cannot follow yourself"]
    assert outcomes(act(world, "follow", [2], user=[99])) == ["user: no such agent"]
    u = world.state.users
    assert u["followers"][1] == 1 and u["following"][0] == 1
    assert outcomes(act(world, "unfollow", [0, 2], user=[1, 1])) == ["ok", "not following"]
    assert u["followers"][1] == 0 and u["following"][0] == 0


def test_mute_hides_the_author_from_feeds(world: SocialWorld) -> None:
    post(world, 1, "from one")
    assert outcomes(act(world, "mute", [0, 0, 0], user=[1, 1, 0])) == ["ok", "already muted", "cannot mute yourself"]
    assert 1 not in world.observe(np.array([0]))["feed_author"][0]
    assert outcomes(act(world, "unmute", [0, 0], user=[1, 1])) == ["ok", "not muted"]
    act(world, "refresh", [0])
    assert 1 in world.observe(np.array([0]))["feed_author"][0]


def test_search_posts_and_users(world: SocialWorld) -> None:
    post(world, 0, "cats and dogs")
    post(world, 1, "stock market crash")
    found = act(world, "search_posts", [2, 3], query=["stock market", " "])
    assert found.data["results"][0].split(",")[0] == "1"
    assert outcomes(found) == ["ok", "empty query"]
    people = act(world, "search_user", [2, 3], query=["topic1", ""])
    assert people.data["results"][0] == "1,4" and outcomes(people) == ["ok", "empty query"]
    assert "users matching" in world.observe(np.array([2]))["results"][0]


def test_trend_lists_the_most_engaged_posts(world: SocialWorld) -> None:
    a, b = post(world, 0), post(world, 1, "other")
    act(world, "like_post", [2, 3], post_id=[b, b])
    act(world, "like_post", [2], post_id=[a])
    assert act(world, "trend", [4]).data["results"][0] == f"{b},{a}"


def test_refresh_recomputes_a_cached_feed() -> None:
    world = make_world(feed={"refresh_every": "100h"})
    assert world.observe(np.array([0]))["feed_post"][0, 0] == -1
    post(world, 1)
    assert world.observe(np.array([0]))["feed_post"][0, 0] == -1  # cached
    assert outcomes(act(world, "refresh", [0])) == ["ok"]
    assert world.observe(np.array([0]))["feed_post"][0, 0] == 0


def test_do_nothing_is_accepted_and_changes_nothing(world: SocialWorld) -> None:
    assert outcomes(act(world, "do_nothing", [0, 1])) == ["ok", "ok"]
    assert len(world.state.posts) == 0


def test_reports_hide_a_post_at_the_threshold() -> None:
    world = make_world(report_threshold=2)
    pid = post(world)
    assert outcomes(act(world, "report_post", [1, 1], post_id=[pid, pid], reason=["spam", "spam"])) == [
        "ok", "already reported"]
    assert not world.state.posts["hidden"][pid]
    act(world, "report_post", [2], post_id=[pid], reason=["spam"])
    assert world.state.posts["hidden"][pid]
    assert outcomes(act(world, "like_post", [3], post_id=[pid])) == ["post removed"]


def test_groups(world: SocialWorld) -> None:
    created = act(world, "create_group", [0, 1], name=["book club", " "])
    assert outcomes(created) == ["ok", "empty name"]
    gid = int(created.data["group_id"][0])
    assert outcomes(act(world, "send_to_group", [1], group_id=[gid], content=["hi"])) == ["not a member"]
    assert outcomes(act(world, "join_group", [1, 1, 2], group_id=[gid, gid, 9])) == [
        "ok", "already a member", "no such group"]
    assert world.state.groups["members"][gid] == 2
    assert outcomes(act(world, "send_to_group", [1], group_id=[gid], content=["hi"])) == ["ok"]
    assert world.state.messages["content"].tolist() == ["hi"]
    assert outcomes(act(world, "leave_group", [1, 1], group_id=[gid, gid])) == ["ok", "not a member"]
    assert world.state.groups["members"][gid] == 1


def test_interview_answers_only_a_question_asked(world: SocialWorld) -> None:
    assert outcomes(act(world, "interview", [0], answer=["yes"])) == ["no question was asked"]
    world.ask("Do you believe it?", share=1.0)
    assert world.observe(np.array([0]))["question"][0] == "Do you believe it?"
    events = act(world, "interview", [0, 0], answer=["yes", "again"])
    assert outcomes(events) == ["ok", "already answered"]
    assert events.data["question"][0] == "Do you believe it?"


def test_actions_are_typed() -> None:
    world = make_world()
    events = act(world, "like_post", [0], post_id=["seven"])
    assert outcomes(events) == ["post_id: must be an integer"]
    assert set(world.action_space["create_comment"].json_schema()["required"]) == {"post_id", "content"}


def test_a_scenario_chooses_the_available_actions() -> None:
    from populace import Population

    world = SocialWorld(Population(size=3), {"follows": {"kind": "none"}}, available=["create_post", "like_post"])
    world.reset(0)
    assert world.action_space.names == ["create_post", "like_post"]
    (events,) = world.apply([__import__("populace").Actions("follow", np.array([0]), {"user": np.array([1])})])
    assert events.outcome[0] == "rejected" and "unknown action" in events.reason[0]


@pytest.mark.parametrize("action", ["trend", "refresh", "do_nothing"])
def test_argument_free_actions_are_rejected_only_for_a_missing_user(world: SocialWorld, action: str) -> None:
    events = act(world, action, [world.n_users + 3])
    assert outcomes(events) == ["no such agent"]
