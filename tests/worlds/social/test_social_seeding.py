"""Seeding users, follows and posts from CSV and Parquet files, including a real cascade's graph."""

from __future__ import annotations

import ast
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from populace import Population, load_scenario
from populace.clock import Clock
from populace.errors import ScenarioError
from populace.scenario import scenarios_dir
from populace.worlds.social import SocialWorld

CASCADE = scenarios_dir() / "data" / "oasis_false_business_0_users.csv"


def test_the_oasis_cascade_seeds_users_bios_and_follows() -> None:
    population = Population.from_file(CASCADE)
    world = SocialWorld(population, {"follows": {"kind": "column", "column": "following_agentid_list"},
                                     "posts_column": "previous_tweets"})
    world.reset(0)
    s = world.state
    raw = pd.read_csv(CASCADE)
    assert s.n_users == 111 and s.users["name"][32] == "user_32"
    assert s.users["bio"][32].startswith("Mashable is for superfans")
    assert len(s.follows) == sum(len(ast.literal_eval(x)) for x in raw["following_agentid_list"])
    assert s.users["followers"][32] == 73
    assert len(s.posts) == 1 and s.posts["author"][0] == 32 and "amazon" in s.posts["content"][0]
    (seeded,) = world.tick()  # the seeded post is an event of step 0, so analysis sees the cascade's root
    assert seeded.kind == "seed_post" and seeded.agents.tolist() == [32] and seeded.data["post_id"].tolist() == [0]


def test_follows_and_posts_from_files(tmp_path: Path) -> None:
    pd.DataFrame({"follower": [0, 1, 2], "followee": [1, 2, 0]}).to_parquet(tmp_path / "follows.parquet")
    pd.DataFrame({"author": [0, 1, 2], "content": ["early", "later", "latest"], "step": [0, 2, 3],
                  "topic": ["", "rumour", ""]}).to_csv(tmp_path / "posts.csv", index=False)
    world = SocialWorld(Population(size=3), {
        "follows": {"kind": "file", "path": str(tmp_path / "follows.parquet")},
        "posts_file": str(tmp_path / "posts.csv")})
    world.reset(0)
    assert world.state.users["followers"].tolist() == [1, 1, 1]
    assert world.state.posts["content"].tolist() == ["early"]
    world.set_clock(0, None)
    (seeded,) = world.tick()  # step 0 records the posts that were there from the start
    assert seeded.kind == "seed_post" and seeded.agents.tolist() == [0] and seeded.data["post_id"].tolist() == [0]
    world.set_clock(1, None)
    (injected,) = world.tick()  # at the end of step 1: the posts of step 2 appear
    assert injected.kind == "seed_post" and world.state.posts["topic"].tolist() == ["", "rumour"]
    world.set_clock(3, None)
    assert world.tick() == []  # nothing is due after the last post


def test_a_posts_file_may_time_its_posts_in_simulated_time(tmp_path: Path) -> None:
    """90 minutes and 10:30 (a timestamp) at half-hour steps from 08:00 are steps 3 and 5; the
    same file at 20-minute steps puts them at steps 5 and 8, the same simulated times."""
    pd.DataFrame({"author": [0, 1, 2], "content": ["now", "in 90 minutes", "at 10:30"],
                  "time": ["0h", "90m", "2025-01-01T10:30:00"]}).to_csv(tmp_path / "posts.csv", index=False)
    for minutes, due in ((30, [0, 3, 5]), (20, [0, 5, 8])):
        clock = Clock(datetime(2025, 1, 1, 8, 0), timedelta(minutes=minutes))
        world = SocialWorld(Population(size=3), {"follows": {"kind": "none"}, "posts_file": str(tmp_path / "posts.csv")},
                            clock=clock)
        world.reset(0)
        assert world.scheduled is not None and world.scheduled["step"].tolist() == due
    pd.DataFrame({"author": [0], "content": ["x"], "time": ["soon"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ScenarioError, match="posts_file: column time, row 1: 'soon' is neither a time"):
        SocialWorld(Population(size=3), {"posts_file": str(tmp_path / "bad.csv")}).reset(0)


def test_bad_seed_files_are_one_line_errors(tmp_path: Path) -> None:
    pd.DataFrame({"from": [0], "to": [1]}).to_csv(tmp_path / "f.csv", index=False)
    world = SocialWorld(Population(size=3), {"follows": {"kind": "file", "path": str(tmp_path / "f.csv")}})
    with pytest.raises(ScenarioError, match=r"lacks column\(s\) follower, followee"):
        world.reset(0)
    pd.DataFrame({"follower": [0], "followee": [7]}).to_csv(tmp_path / "g.csv", index=False)
    world = SocialWorld(Population(size=3), {"follows": {"kind": "file", "path": str(tmp_path / "g.csv")}})
    with pytest.raises(ScenarioError, match="0 -> 7 is not between two different users"):
        world.reset(0)
    with pytest.raises(ScenarioError, match="does not exist"):
        SocialWorld(Population(size=3), {"posts_file": "nope.csv"}).reset(0)


def test_misinformation_starts_from_the_real_cascade() -> None:
    scenario = load_scenario("misinformation")
    assert scenario.resolve(scenario.population.file or "") == CASCADE
    assert Population.from_file(CASCADE).size == 111
