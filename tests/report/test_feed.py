"""The feed rebuilt from social events: injected posts get their text, moderation hides an author's posts."""

from __future__ import annotations

import pandas as pd

from populace.report.feed import build_feed, has_feed, injected_texts


def _events(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["step", "agent", "action", "outcome", "args", "data"])


EVENTS = _events([
    (0, 32, "inject_post", "ok", {}, {"post_id": 0, "topic": "rumour"}),
    (0, 5, "repost", "ok", {"post_id": 0}, {"post_id": 1}),
    (1, 6, "create_post", "ok", {"content": "first!"}, {"post_id": 2}),
    (1, 7, "like_post", "ok", {"post_id": 0}, {}),
    (1, 8, "like_post", "rejected", {"post_id": 0}, {}),
    (2, 6, "remove_posts", "ok", {}, {"removed": 1}),
])


def test_injected_post_text_comes_from_the_scenario_intervention() -> None:
    texts = injected_texts(EVENTS, [{"at": 0, "call": "inject_post", "args": {"author": 32, "content": "a rumour"}},
                                    {"at": 6, "call": "inject_post", "args": {"author": 1, "content": "later"}}])
    assert texts == {0: "a rumour"}
    posts = {p["id"]: p for p in build_feed(EVENTS, texts=texts)}
    assert posts[0]["content"] == "a rumour" and posts[0]["likes"] == 1 and posts[0]["reposts"] == 1
    assert posts[1]["kind"] == "repost" and posts[1]["parent"] == 0 and posts[1]["shared"] == "a rumour"


def test_moderation_and_step_filter() -> None:
    assert has_feed(EVENTS) and not has_feed(EVENTS[EVENTS["action"] == "like_post"])
    assert {p["id"]: p["removed"] for p in build_feed(EVENTS)} == {0: False, 1: False, 2: True}
    assert [p["id"] for p in build_feed(EVENTS, upto=0)] == [1, 0]
    assert build_feed(EVENTS, upto=1)[0]["removed"] is False
    assert [p["id"] for p in build_feed(EVENTS, limit=1)] == [2]
