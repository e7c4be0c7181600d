"""Worlds declare their observation columns, policies and prompts what they read: a scenario that
reads a column its world does not observe is refused when it loads, one line per field."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from populace import ScenarioError, load_scenario
from populace.actions import Actions, ActionSpace, ActionSpec
from populace.events import Events
from populace.policy import PolicyContext, policies, policy, policy_reads
from populace.world import Handler, Observations, World, worlds

BROWSE_IN_WEALTH = ("minds.0.policy: 'browse' reads feed_similarity, feed_liked, feed_post, feed_followed, "
                    "feed_author, question, stance, belief, which world 'wealth' does not observe")


def wealth(**changes: Any) -> dict[str, Any]:
    return {"name": "w", "steps": 3, "population": {"size": 10}, "world": {"type": "wealth"},
            "minds": [{"type": "rules", "policy": "random_gift"}], **changes}


def social(params: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    return {"name": "s", "steps": 3, "population": {"size": 10}, "world": {"type": "social", "params": params or {}},
            "minds": [{"type": "rules", "policy": "browse"}], **changes}


def problems(spec: Mapping[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(spec)
    return [line.removeprefix("scenario: ") for line in str(info.value).splitlines()]


def test_a_policy_reading_what_the_world_does_not_observe_is_one_line() -> None:
    assert problems(wealth(minds=[{"type": "rules", "policy": "browse"}])) == [BROWSE_IN_WEALTH]


def test_populace_validate_refuses_it_with_that_line(tmp_path: Path) -> None:
    spec = tmp_path / "browse-wealth.yaml"
    spec.write_text(yaml.safe_dump(wealth(minds=[{"type": "rules", "policy": "browse"}])), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "populace", "validate", str(spec)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "400"})
    assert done.returncode == 2 and "Traceback" not in done.stderr  # 2: the CLI's code for a user error
    assert done.stderr.strip().splitlines() == [f"error: browse-wealth.yaml: {BROWSE_IN_WEALTH}"]


def test_prompts_options_and_fallbacks_are_checked_too() -> None:
    minds = [
        {"type": "archetype", "select": "index < 5", "prompt": "You hold {obs.wealth}; you see {obs.feed}. {options}",
         "options": {"give": {"action": "give", "args": {"to": "obs.neighbour"}}, "keep": None},
         "fallback": [{"type": "rules", "policy": "bounded_confidence"}]},
        {"type": "similarity", "select": "index < 8", "interests": "{persona.age}", "content": "feed_items",
         "options": {"give": {"action": "give", "args": {"to": "obs.partner"}}}, "weights": {"give": {}}},
        {"type": "generative", "select": "all", "observation": "Wealth {obs.wealth}, feed {obs.feed}"},
    ]
    assert problems(wealth(minds=minds)) == [
        "minds.0.prompt: the prompt reads feed, which world 'wealth' does not observe",
        "minds.0.options.give.args.to: option 'give' reads neighbour, which world 'wealth' does not observe",
        "minds.0.fallback.0.policy: 'bounded_confidence' reads opinion, neighbour_opinion, neighbour, "
        "which world 'wealth' does not observe",
        "minds.1.content: the similarity mind reads feed_items, which world 'wealth' does not observe",
        "minds.1.options.give.args.to: option 'give' reads partner, which world 'wealth' does not observe",
        "minds.2.observation: the observation template reads feed, which world 'wealth' does not observe",
    ]


def test_similarity_popularity_and_age_are_columns_only_beside_text_content() -> None:
    similarity = {"type": "similarity", "interests": "{persona.age}", "options": {"like": {"action": "like_post",
                  "args": {"post_id": "item.post"}}}, "weights": {"like": {}}, "popularity": "likes", "age": "age"}
    load_scenario(social(minds=[{**similarity, "content": "feed_items"}]))  # keys of the feed's items
    assert problems(social(minds=[{**similarity, "content": "feed"}])) == [
        "minds.0.popularity: the similarity mind reads likes, which world 'social' does not observe",
        "minds.0.age: the similarity mind reads age, which world 'social' does not observe",
    ]


def test_the_players_of_a_game_master_are_checked_under_players() -> None:
    spec = load_scenario("town-meeting").model_dump(mode="json", exclude_none=True)
    spec["minds"][0]["players"] = {"type": "player", "observation": "{obs.situation} and {obs.weather}"}
    assert problems(spec) == ["minds.0.players.observation: the observation template reads weather, "
                              "which world 'narrative' does not observe"]


def test_what_a_world_observes_follows_its_parameters() -> None:
    archetype = {"type": "archetype", "prompt": "{obs.feed} {options}", "options": ["like_post"]}
    load_scenario(social(minds=[archetype]))
    assert problems(social({"text": False}, minds=[archetype])) == [
        "minds.0.prompt: the prompt reads feed, which world 'social' does not observe"]
    load_scenario(social(minds=[{"type": "rules", "policy": "herd"}]))  # herd reads the threads only where shown
    grid: dict[str, Any] = {"name": "g", "steps": 3, "population": {"size": 10}, "world": {"type": "grid", "params": {}},
            "minds": [{"type": "rules", "policy": "swarm_forage"}]}
    assert problems(grid) == ["minds.0.policy: 'swarm_forage' reads carrying, which world 'grid' does not observe"]
    grid["world"]["params"] = {"task": "foraging"}
    load_scenario(grid)


class Undeclared(World):
    """A third-party world that declares nothing: nothing is checked against it."""

    name = "obs_test_undeclared"
    actions = ActionSpace(ActionSpec("give", {}))

    def observe(self, agent_ids: np.ndarray) -> Observations:
        return Observations(agent_ids, {"wealth": np.zeros(len(agent_ids), dtype=np.int64)})

    def handlers(self) -> Mapping[str, Handler]:
        return {"give": Events.accepted}



@policy("obs_test_social_only", worlds=("social",))
def social_only(obs: Observations, mind: PolicyContext) -> list[Actions]:
    return []


def test_an_undeclared_world_is_not_checked_and_a_policy_may_name_its_worlds(monkeypatch: pytest.MonkeyPatch) -> None:
    worlds.names()  # the built-in worlds first, so that the test world alone is taken away afterwards
    monkeypatch.setitem(worlds._entries, "obs_test_undeclared", Undeclared)  # not for the other tests to see
    load_scenario(wealth(world={"type": "obs_test_undeclared"}, minds=[{"type": "rules", "policy": "browse"}]))
    assert problems(wealth(minds=[{"type": "rules", "policy": "obs_test_social_only"}])) == [
        "minds.0.policy: 'obs_test_social_only' is written for the 'social' world, not 'wealth'"]
    load_scenario(social(minds=[{"type": "rules", "policy": "obs_test_social_only"}]))


def test_every_built_in_policy_reads_columns_some_built_in_world_observes() -> None:
    """A misspelt column in ``reads=`` would refuse every scenario that uses the policy."""
    observed = [{c.name for c in worlds.get(name).observation} for name in worlds.names()]
    for name in policies.names():
        reads = set(policy_reads(name))
        assert any(reads <= columns for columns in observed), f"{name} reads {sorted(reads)}"
