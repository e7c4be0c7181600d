"""Scripted opponents for the matrix games, as rules policies (Akata et al.'s fixed strategies).

"Cooperate" is the first option and "defect" the second: in the Prisoner's Dilemma preset that is
the usual meaning; in the Battle of the Sexes the first option is the row player's favourite.
Agents without a partner, or whose game is over, do not play.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from populace.actions import Actions
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Observations

COOPERATE, DEFECT = 0, 1
#: what every strategy reads to know whether it plays
PLAYS = ("partner", "round", "rounds")


def _play(obs: Observations, mind: PolicyContext, option: np.ndarray | int) -> list[Actions]:
    labels = np.asarray(mind.action_space["play"].args["option"].choices, dtype=object)
    chosen = np.broadcast_to(np.asarray(option, dtype=np.int64), (len(obs),))
    playing = (obs["partner"] >= 0) & (obs["round"] <= obs["rounds"])
    return [Actions("play", obs.agents[playing], {"option": labels[chosen[playing]]})]


@policy("always_cooperate", reads=PLAYS)
def always_cooperate(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Always the first option."""
    return _play(obs, mind, COOPERATE)


@policy("always_defect", reads=PLAYS)
def always_defect(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Always the second option."""
    return _play(obs, mind, DEFECT)


class DefectOnceParams(PolicyParams):
    round: int = Field(1, ge=1, description="the round in which it defects")


class AlternateParams(PolicyParams):
    start: int = Field(0, ge=0, le=1, description="the option of the first round (0: the first)")


@policy("defect_once", DefectOnceParams, reads=PLAYS)
def defect_once(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Cooperate, except in round ``round`` (default 1, the first), where it defects."""
    at = mind.settings(DefectOnceParams).round
    return _play(obs, mind, np.where(obs["round"] == at, DEFECT, COOPERATE))


@policy("alternate", AlternateParams, reads=PLAYS)
def alternate(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Switch option every round, starting with option ``start`` (default 0, the first)."""
    start = mind.settings(AlternateParams).start
    return _play(obs, mind, (obs["round"] - 1 + start) % 2)


@policy("tit_for_tat", reads=(*PLAYS, "their_last"))
def tit_for_tat(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Cooperate first, then repeat the partner's last choice."""
    return _play(obs, mind, np.where(obs["their_last"] >= 0, obs["their_last"], COOPERATE))


@policy("grim", reads=(*PLAYS, "their_second_choices"))
def grim(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Cooperate until the partner defects once, then defect for ever."""
    return _play(obs, mind, np.where(obs["their_second_choices"] > 0, DEFECT, COOPERATE))
