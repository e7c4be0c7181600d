"""The repeated matrix games: Akata et al.'s payoffs, scripted opponents, metrics, every mind tier."""

from __future__ import annotations

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.errors import ScenarioError
from populace.testing import check_world
from populace.worlds.games.matrix import MatrixGameWorld

PAIR = {"name": "pair", "seed": 0, "steps": 10, "population": {"size": 2, "attributes": {
    "player": {"dist": "constant", "value": "x"}}}, "trace": {"events": "none"}}


def play(row: str, column: str, game: str = "prisoners_dilemma", **params: object) -> MatrixGameWorld:
    """Run one pair for 10 rounds: agent 0 plays ``row``, agent 1 plays ``column``."""
    sim = Simulation.from_scenario({**PAIR, "world": {"type": "games", "params": {"game": game}}, "minds": [
        {"select": "index == 0", "type": "rules", "policy": row, "params": params},
        {"select": "all", "type": "rules", "policy": column},
    ]}).run()
    assert isinstance(sim.world, MatrixGameWorld)
    return sim.world


@pytest.mark.parametrize("n", [2, 7])
def test_conforms_to_the_world_contract(n: int) -> None:
    check_world(MatrixGameWorld(Population(size=n)))
    check_world(MatrixGameWorld(Population(size=n), {"game": "battle_of_sexes", "labels": ["A", "B"]}))


def test_tit_for_tat_against_always_defect_over_ten_rounds_scores_45_to_55() -> None:
    # round 1: C against D pays 0/10; rounds 2-10: D against D pays 5/5, nine times
    world = play("tit_for_tat", "always_defect")
    assert world.earned.sum(axis=0).tolist() == [45.0, 55.0]
    assert world.choices[:, 0].tolist() == [0] + [1] * 9


@pytest.mark.parametrize(("row", "column", "scores"), [
    ("tit_for_tat", "always_cooperate", [80, 80]),
    ("tit_for_tat", "defect_once", [74, 74]),
    ("tit_for_tat", "alternate", [48, 58]),
    ("grim", "defect_once", [90, 10]),
    ("always_defect", "always_cooperate", [100, 0]),
])
def test_scripted_strategies_reproduce_exact_prisoners_dilemma_payoffs(row: str, column: str,
                                                                       scores: list[int]) -> None:
    assert play(row, column).earned.sum(axis=0).tolist() == scores


def test_forgiveness_separates_tit_for_tat_from_grim() -> None:
    assert play("tit_for_tat", "defect_once").metrics()["forgiveness"] == 1.0
    grim = play("grim", "defect_once").metrics()
    # grim cooperates once, its partner nine times; grim never returns to cooperation
    assert grim["cooperation_overall"] == pytest.approx(10 / 20)
    assert grim["forgiveness"] == 0.0


def test_battle_of_the_sexes_rewards_coordinated_alternation() -> None:
    both = play("alternate", "alternate", "battle_of_sexes")
    assert both.earned.sum(axis=0).tolist() == [85, 85]
    assert both.metrics()["alternation"] == 1.0 and both.metrics()["coordination"] == 1.0
    stubborn = play("always_cooperate", "alternate", "battle_of_sexes")
    assert stubborn.earned.sum(axis=0).tolist() == [50, 35]
    assert "alternation" not in stubborn.metrics()  # never coordinated twice in a row


def test_options_are_labelled_neutrally_and_rules_are_told_from_each_side() -> None:
    world = MatrixGameWorld(Population(size=2), {"game": "battle_of_sexes", "labels": ["Q", "Z"]})
    world.reset(0)
    world.apply([Actions("play", np.array([0, 1]), {"option": np.array(["Q", "Z"], dtype=object)})])
    world.tick()
    obs = world.observe(np.array([0, 1]))
    row, column = obs.row(0), obs.row(1)
    assert "cooperat" not in row["rules"].lower() and "defect" not in row["rules"].lower()
    assert "choose Option Q and the other player chooses Option Q, then you win 10 points" in row["rules"]
    assert "choose Option Q and the other player chooses Option Q, then you win 7 points" in column["rules"]
    assert row["history"] == ("In round 1, you chose Option Q and the other player chose Option Z. "
                              "Thus, you won 0 points and the other player won 0 points.")
    assert (row["their_last"], column["their_last"]) == (1, 0)


def test_bad_plays_are_rejected_with_reasons() -> None:
    world = MatrixGameWorld(Population(size=3), {"rounds": 1})
    world.reset(0)
    (events,) = world.apply([Actions("play", np.array([0, 0, 2]), {"option": np.array(["J", "F", "J"], object)})])
    assert events.outcome.tolist() == ["ok", "rejected", "rejected"]
    assert events.reason[1] == "already chose this round" and "no partner" in events.reason[2]
    world.tick()
    (late,) = world.apply([Actions("play", np.array([1]), {"option": np.array(["J"], object)})])
    assert late.reason[0] == "the game is over after 1 rounds"


def test_custom_payoffs_need_the_custom_game() -> None:
    with pytest.raises(ScenarioError, match="payoffs"):
        Simulation.from_scenario({**PAIR, "world": {"type": "games", "params": {"payoffs": [[[1, 1], [0, 2]],
                                  [[2, 0], [1, 1]]]}}, "minds": [{"type": "rules", "policy": "grim"}]})


def test_prisoners_dilemma_scenario_outcome() -> None:
    sim = Simulation.from_scenario("prisoners-dilemma").run()
    assert sim.world.earned.sum(axis=0).tolist() == [80, 80, 45, 55, 74, 74, 48, 58, 80, 80]  # type: ignore[attr-defined]
    final = sim.metrics().iloc[-1]
    assert final["payoff_row"] == pytest.approx(65.4) and final["payoff_column"] == pytest.approx(69.4)
    assert final["forgiveness"] == 1.0 and final["cooperation_overall"] == pytest.approx(0.7)


def test_battle_of_sexes_scenario_outcome() -> None:
    m = Simulation.from_scenario("battle-of-sexes").run().metrics()
    assert m["alternation"].iloc[-1] == 1.0
    assert m["coordination"].tolist() == [1.0, 0.5] * 5
    assert m["payoff_row"].iloc[-1] == pytest.approx((85 + 50) / 2)


def test_language_model_minds_play_through_the_text_observations() -> None:
    """An archetype mind (scripted model preferring F) reads `rules` and `history`; a generative
    mind (scripted to pick the first valid answer, J) plays too."""
    sim = Simulation.from_scenario({
        **PAIR, "population": {"size": 4, "attributes": {"player": {"dist": "constant", "value": "x"}}},
        "model": {"backend": "scripted", "probabilities": {"J": 0.0, "F": 1.0}},
        "world": {"type": "games"},
        "minds": [
            {"select": "index == 0", "type": "archetype", "prompt": "{obs.rules}\n{obs.history}\nPick: {options}",
             "options": {"J": {"action": "play", "args": {"option": "J"}},
                         "F": {"action": "play", "args": {"option": "F"}}}},
            {"select": "index == 2", "type": "generative", "plan": False},
            {"select": "all", "type": "rules", "policy": "tit_for_tat"},
        ],
    }).run()
    earned = sim.world.earned.sum(axis=0)  # type: ignore[attr-defined]
    assert earned[:2].tolist() == [55, 45]  # always F against tit-for-tat
    assert earned[2:].tolist() == [80, 80]  # always J against tit-for-tat
