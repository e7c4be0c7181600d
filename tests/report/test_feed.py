"""The feed rebuilt from social events: injected posts get their text, moderation hides an author's posts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

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
    texts = injected_texts(EVENTS, [{"step": 0, "call": "inject_post", "args": {"author": 32, "content": "a rumour"}},
                                    {"step": 6, "call": "inject_post", "args": {"author": 1, "content": "later"}}])
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


def test_the_trace_feed_matches_the_feed_folded_from_every_event(tmp_path_factory: pytest.TempPathFactory) -> None:
    """most_engaged and feed_at read only the chosen posts' events, yet show what build_feed shows."""
    from populace import Simulation, analysis
    from populace.report.feed import feed_at, most_engaged, timed_interventions, trace_has_feed, trace_injected_texts

    sim = Simulation.from_scenario("misinformation", ["steps=16", "trace.flush_every=3"],
                                   tmp_path_factory.mktemp("runs")).run()
    assert sim.path is not None
    events = analysis.events(sim.path)
    interventions = timed_interventions(sim.scenario)
    texts = injected_texts(events, interventions)
    assert trace_has_feed(sim.path) and trace_injected_texts(sim.path, interventions) == texts and texts
    every = build_feed(events, limit=len(events), texts=texts)
    assert sum(p["reposts"] for p in every) > 0 and sum(p["likes"] for p in every) > 0  # a feed worth checking
    ranked = sorted(every, key=lambda p: (-(p["likes"] + p["reposts"]), p["step"]))[:10]
    assert most_engaged(sim.path, 10, texts) == ranked
    assert any(p["shared"] for p in feed_at(sim.path, None, 500, None, texts))  # reposts quote their original
    for step in (0, 5, 15):
        assert feed_at(sim.path, step, 20, None, texts) == build_feed(events, step, 20, None, texts)
    author = ranked[0]["author"]
    assert feed_at(sim.path, None, 5, author, texts) == build_feed(events, None, 5, author, texts)


def test_a_run_without_posts_has_no_trace_feed(tmp_path: Path) -> None:
    from populace import Simulation
    from populace.report.feed import feed_at, most_engaged, trace_has_feed

    sim = Simulation.from_scenario("wealth", ["population.size=20", "steps=2"], tmp_path).run()
    assert sim.path is not None
    assert not trace_has_feed(sim.path) and most_engaged(sim.path) == [] and feed_at(sim.path) == []
