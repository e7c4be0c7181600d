"""Each analysis function against values computed by hand on a small fixture."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from populace import analysis
from populace.network import Network


def _events(rows: list[tuple]) -> pd.DataFrame:
    """Parsed events from (step, agent, action, outcome, args, data) tuples."""
    frame = pd.DataFrame(rows, columns=["step", "agent", "action", "outcome", "args", "data"])
    for column in ("args", "data"):
        frame[column] = [analysis.parse_json(json.dumps(v) if v is not None else None) for v in frame[column]]
    return frame


CASCADE_EVENTS = _events([
    (0, 1, "create_post", "ok", {"content": "hello"}, {"post_id": 10}),
    (1, 2, "repost", "ok", {"post_id": 10}, {"post_id": 11}),
    (1, 3, "repost", "ok", {"post_id": 10}, {"post_id": 12}),
    (1, 4, "repost", "rejected", {"post_id": 10}, None),
    (2, 4, "repost", "ok", {"post_id": 11}, {"post_id": 13}),
    (2, 5, "create_post", "ok", {"content": "other"}, {"post_id": 14}),
    (2, 6, "like_post", "ok", {"post_id": 10}, None),
])


def test_posts_from_events_reads_ids_and_parents_of_accepted_posts() -> None:
    posts = analysis.posts_from_events(CASCADE_EVENTS)
    assert list(posts["post"]) == [10, 11, 12, 13, 14]
    assert list(posts["parent"]) == [None, 10, 10, 11, None]
    assert list(posts["step"]) == [0, 1, 1, 2, 2]


def test_a_post_seeded_from_a_posts_file_roots_its_cascade() -> None:
    seeded = _events([
        (0, -1, "seed_post", "ok", None, {"post_id": 0, "content": "rumour"}),
        (1, 2, "repost", "ok", {"post_id": 0}, {"post_id": 1}),
        (2, 3, "repost", "ok", {"post_id": 1}, {"post_id": 2}),
    ])
    (cascade,) = analysis.cascades(analysis.posts_from_events(seeded)).itertuples()
    assert (cascade.root, cascade.scale, cascade.depth) == (0, 3, 2)


def test_cascade_scale_depth_breadth_and_structural_virality() -> None:
    table = analysis.cascades(analysis.posts_from_events(CASCADE_EVENTS))
    big, lone = table.iloc[0], table.iloc[1]
    # tree 10 -> {11, 12}, 11 -> 13: pair distances 1,1,2,2,1,3 sum to 10 over 6 pairs
    assert (big["root"], big["scale"], big["depth"], big["max_breadth"]) == (10, 4, 2, 2)
    assert big["structural_virality"] == pytest.approx(10 / 6)
    assert (lone["root"], lone["scale"], lone["depth"], lone["structural_virality"]) == (14, 1, 0, 0.0)


def test_structural_virality_of_star_is_below_chain() -> None:
    star = pd.DataFrame({"post": [0, 1, 2, 3], "parent": [None, 0, 0, 0], "agent": [0, 1, 2, 3], "step": [0, 1, 1, 1]})
    chain = pd.DataFrame({"post": [0, 1, 2, 3], "parent": [None, 0, 1, 2], "agent": [0, 1, 2, 3], "step": [0, 1, 2, 3]})
    # star: three pairs at 1, three at 2 -> 9/6; chain: 1*3 + 2*2 + 3*1 = 10 -> 10/6 over 6 pairs
    assert analysis.cascades(star)["structural_virality"].iloc[0] == pytest.approx(9 / 6)
    assert analysis.cascades(chain)["structural_virality"].iloc[0] == pytest.approx(10 / 6)
    assert analysis.cascades(chain)["depth"].iloc[0] == 3


def test_cascade_growth_over_time() -> None:
    growth = analysis.cascade_growth(analysis.posts_from_events(CASCADE_EVENTS))
    first = growth[growth["root"] == 10]
    assert first[["step", "scale", "depth", "max_breadth"]].to_numpy().tolist() == [[0, 1, 0, 1], [1, 3, 1, 2],
                                                                                     [2, 4, 2, 2]]


def test_degree_distribution_and_friendship_paradox_on_a_star() -> None:
    star = Network.from_edges(4, np.array([0, 0, 0]), np.array([1, 2, 3]))
    dist = analysis.degree_distribution(star.degree())
    assert dist.to_numpy().tolist() == [[1, 3, 0.75], [3, 1, 0.25]]
    row = analysis.friendship_paradox(star).iloc[0]
    assert row["mean_degree"] == pytest.approx(1.5)
    assert row["mean_friend_degree"] == pytest.approx((1 + 3 + 3 + 3) / 4)
    assert row["edge_friend_degree"] == pytest.approx((9 + 1 + 1 + 1) / 4 / 1.5)  # E[k^2]/E[k]
    assert row["share_paradox"] == pytest.approx(0.75)


def test_degrees_from_directed_edges_count_followers() -> None:
    degrees = analysis.degrees_from_edges(3, np.array([0, 1, 2]), np.array([2, 2, 0]), directed=True)
    assert degrees.tolist() == [1, 0, 2]
    assert analysis.degrees_from_edges(3, np.array([0]), np.array([2])).tolist() == [1, 0, 1]


def test_polarization_measures() -> None:
    # two equal modes, n = 10: skew 0, excess kurtosis -2 -> BC = 1 / (-144/56 + 243/56) = 56/99
    assert analysis.bimodality_coefficient(np.array([0.0] * 5 + [1.0] * 5)) == pytest.approx(56 / 99)
    assert np.isnan(analysis.bimodality_coefficient(np.ones(10)))
    result = analysis.polarization(np.array([0.05, 0.5, 0.95, 0.2]))
    assert result["share_extreme"] == pytest.approx(0.5)
    assert result["variance"] == pytest.approx(np.var([0.05, 0.5, 0.95, 0.2]))
    states = pd.DataFrame({"step": [0, 0, 0, 0, 1, 1, 1, 1], "agent": [0, 1, 2, 3] * 2,
                           "value": [0.5, 0.5, 0.5, 0.5, 0.0, 0.0, 1.0, 1.0]})
    over_time = analysis.polarization_over_time(states)
    assert over_time["share_extreme"].tolist() == [0.0, 1.0]
    assert over_time["variance"].tolist() == [0.0, 0.25]


def test_gini_over_time() -> None:
    states = pd.DataFrame({"step": [0] * 4 + [1] * 4, "agent": [0, 1, 2, 3] * 2, "value": [1, 1, 1, 1, 0, 0, 0, 4]})
    # one agent holds all of 4: 2 * (4 * 4) / (4 * 4) - 5/4 = 0.75
    assert analysis.gini_over_time(states)["gini"].tolist() == [0.0, pytest.approx(0.75)]


def test_actions_per_step_counts_accepted_events_by_action() -> None:
    table = analysis.actions_per_step(CASCADE_EVENTS)
    assert table.loc[1, "repost"] == 2
    assert table.loc[2].to_dict() == {"create_post": 1, "like_post": 1, "repost": 1}
    assert analysis.actions_per_step(CASCADE_EVENTS, outcome=None).loc[1, "repost"] == 3


def test_cooperation_rates_by_action_and_by_move() -> None:
    by_action = _events([(0, 0, "cooperate", "ok", {}, None), (0, 1, "cooperate", "ok", {}, None),
                         (0, 2, "defect", "ok", {}, None), (1, 0, "defect", "ok", {}, None),
                         (1, 1, "cooperate", "rejected", {}, None)])
    rates = analysis.cooperation_rates(by_action)
    assert rates.to_numpy().tolist() == [[0, 2, 1, pytest.approx(2 / 3)], [1, 0, 1, 0.0]]
    by_move = _events([(0, 0, "play", "ok", {"move": "C"}, None), (0, 1, "play", "ok", {"move": "D"}, None)])
    assert analysis.cooperation_rates(by_move, cooperate=["C"], defect=["D"], move="move")["rate"].tolist() == [0.5]


def test_herd_scores_compare_each_treatment_with_control() -> None:
    choices = pd.DataFrame({"treatment": ["control"] * 4 + ["up"] * 4 + ["down"] * 2,
                            "outcome": [1, 0, 0, 0, 1, 1, 1, 0, 0, 0]})
    scores = analysis.herd_scores(choices).set_index("treatment")
    assert scores.loc["control", "rate"] == 0.25 and scores.loc["control", "lift"] == 0.0
    assert scores.loc["up", "n"] == 4 and scores.loc["up", "lift"] == pytest.approx(0.5)
    assert scores.loc["up", "relative"] == pytest.approx(3.0)
    assert scores.loc["down", "lift"] == pytest.approx(-0.25)


def test_herd_choices_from_treated_comments_and_later_votes() -> None:
    ev = _events([(0, -1, "treat_comment", "ok", {}, {"comment_id": 1, "group": "up"}),
                  (0, -1, "treat_comment", "ok", {}, {"comment_id": 2, "group": "control"}),
                  (1, 5, "like_comment", "ok", {"comment_id": 1}, None),
                  (1, 6, "like_comment", "ok", {"comment_id": 1}, None),
                  (1, 7, "dislike_comment", "ok", {"comment_id": 2}, None),
                  (2, 8, "like_comment", "ok", {"comment_id": 2}, None),
                  (2, 9, "like_comment", "ok", {"comment_id": 3}, None),  # untreated: not counted
                  (2, 4, "like_comment", "rejected", {"comment_id": 1}, None)])
    choices = analysis.herd_choices(ev)
    assert choices[["comment", "treatment", "outcome"]].to_numpy().tolist() == [
        [1, "up", 1], [1, "up", 1], [2, "control", 0], [2, "control", 1]]
    scores = analysis.herd_scores(choices).set_index("treatment")
    assert scores.loc["up", "rate"] == 1.0 and scores.loc["up", "lift"] == pytest.approx(0.5)


def test_epidemic_curve_from_infection_and_recovery_events() -> None:
    ev = _events([(0, 1, "infect", "ok", {}, None), (0, 2, "infect", "ok", {}, None),
                  (1, 3, "infect", "ok", {}, None), (1, 1, "recover", "ok", {}, None),
                  (2, 2, "recover", "ok", {}, None), (2, 3, "recover", "ok", {}, None)])
    curve = analysis.epidemic_curve(ev, population=10, initial=1)
    assert curve["new_infections"].tolist() == [2, 1, 0]
    assert curve["susceptible"].tolist() == [7, 6, 6]
    assert curve["infected"].tolist() == [3, 3, 1]
    assert curve["recovered"].tolist() == [0, 1, 3]
    assert curve["incidence"].tolist() == [pytest.approx(2 / 9), pytest.approx(1 / 7), 0.0]


def test_compartments_count_agents_per_stage() -> None:
    states = pd.DataFrame({"step": [5] * 4 + [10] * 4, "agent": [0, 1, 2, 3] * 2, "value": [0, 0, 0, 2, 0, 3, 3, 4]})
    table = analysis.compartments(states, ["susceptible", "exposed", "infectious", "recovered", "dead"])
    assert table.loc[5].tolist() == [3, 0, 1, 0, 0]
    assert table.loc[10].to_dict() == {"susceptible": 1, "exposed": 0, "infectious": 0, "recovered": 2, "dead": 1}
    assert analysis.compartments(states).loc[10].to_dict() == {0: 1, 2: 0, 3: 2, 4: 1}


def test_model_usage_reads_llm_columns() -> None:
    steps = pd.DataFrame({"step": [0, 1], "active": [5, 5], "llm_calls": [2, 0], "llm_cache_hits": [1, 3],
                          "llm_prompt_tokens": [100, 0]})
    usage = analysis.model_usage(steps)
    assert list(usage.columns) == ["step", "calls", "cache_hits", "prompt_tokens", "cache_hit_rate"]
    assert usage["cache_hit_rate"].tolist() == [pytest.approx(1 / 3), 1.0]
    assert analysis.model_usage(steps[["step", "active"]]).empty
