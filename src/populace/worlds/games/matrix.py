"""Repeated 2×2 matrix games between fixed pairs, after Akata et al., "Playing repeated games with
Large Language Models".

Agents ``2k`` and ``2k + 1`` play the same partner every round: the even agent is the row player,
the odd one the column player (an agent left over in an odd population has no partner). Each step
is one round: both partners ``play`` one of two neutrally labelled options (``J`` and ``F`` by
default, as in the paper), the round resolves in ``tick`` and both see its outcome from the next
step on. The presets reproduce the paper's payoffs: the Prisoner's Dilemma (CC 8/8, CD 0/10,
DC 10/0, DD 5/5; the first option cooperates) and the Battle of the Sexes (10/7 when both pick
the first option, 7/10 when both pick the second, 0/0 on a mismatch), over 10 rounds.

Observations carry numbers for rules policies (``their_last``, ``their_second_choices`` ...) and
text for language-model minds: ``rules`` (the game from the agent's own side) and ``history``
(one sentence per past round).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.events import Events
from populace.population import Population
from populace.regions import REGIONS, RegionalWorld
from populace.world import Column, Handler, Observations, WorldConfig, worlds

#: cells[row option][column option] = (row player's payoff, column player's payoff)
PRESETS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "prisoners_dilemma": (((8, 8), (0, 10)), ((10, 0), (5, 5))),
    "battle_of_sexes": (((10, 7), (0, 0)), ((0, 0), (7, 10))),
}
#: the option that counts as cooperating, where the game has one
COOPERATIVE: dict[str, int | None] = {"prisoners_dilemma": 0, "battle_of_sexes": None}


class MatrixGameConfig(WorldConfig):
    game: Literal["prisoners_dilemma", "battle_of_sexes", "custom"] = Field(
        "prisoners_dilemma", description="a preset payoff matrix, or 'custom' with `payoffs`"
    )
    payoffs: list[list[tuple[float, float]]] | None = Field(
        None, description="custom 2×2 cells [row option][column option] = [row payoff, column payoff]"
    )
    cooperative: int | None = Field(
        None, ge=0, le=1, description="option index that counts as cooperating (default: the preset's)"
    )
    labels: tuple[str, str] = Field(("J", "F"), description="neutral names of the two options")
    rounds: int = Field(10, ge=1, description="rounds played with the same partner")

    @model_validator(mode="after")
    def _consistent(self) -> MatrixGameConfig:
        if self.game == "custom" and self.payoffs is None:
            raise ValueError("game 'custom' needs `payoffs`")
        if self.game != "custom" and self.payoffs is not None:
            raise ValueError("`payoffs` are only for game 'custom'")
        if self.payoffs is not None and (len(self.payoffs) != 2 or any(len(row) != 2 for row in self.payoffs)):
            raise ValueError("`payoffs` must be 2×2 cells of [row payoff, column payoff]")
        if self.labels[0] == self.labels[1] or not all(self.labels):
            raise ValueError("`labels` must be two different non-empty names")
        return self


class MatrixGameWorld(RegionalWorld[MatrixGameConfig]):
    """Repeated 2×2 matrix games (Prisoner's Dilemma, Battle of the Sexes) between fixed pairs.

    Partitions by pair: pairs never interact, so regions (cut at even ids) need nothing from each other.
    """

    name = "games"
    region_align = 2
    Config = MatrixGameConfig
    actions = ActionSpace(
        ActionSpec("play", {"option": Arg.choice("J", "F", description="the option chosen this round")},
                   "choose one of the two options for this round"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "round": "rounds completed",
        "payoff_mean": "mean total payoff per paired agent",
        "payoff_row": "mean total payoff of the row players (even agents)",
        "payoff_column": "mean total payoff of the column players (odd agents)",
        "cooperation_rate": "share of choices in the last round that cooperate (games with a cooperative option)",
        "cooperation_overall": "share of all choices so far that cooperate",
        "forgiveness": "share of chances taken to cooperate again after the partner defected and then cooperated",
        "coordination": "share of pairs choosing the same option in the last round (games without one)",
        "alternation": "share of consecutive coordinated rounds in which the pair switched option",
    }
    observation = (
        Column("round", "int64", "the round, from 1 (past rounds: the game is over)"),
        Column("rounds", "int64", "rounds played with the same partner"),
        Column("partner", "int64", "the partner (-1: none)"),
        Column("role", "int64", "0 row player, 1 column player"),
        Column("my_last", "int64", "own option last round (0 first, 1 second; -1: none)"),
        Column("their_last", "int64", "the partner's option last round (-1: none)"),
        Column("their_second_choices", "int64", "rounds the partner chose the second option"),
        Column("score", "float64", "own points so far"),
        Column("their_score", "float64", "the partner's points so far"),
        Column("rules", "text", "the game's rules, in words"),
        Column("history", "text", "the rounds so far, in words"),
    )

    def __init__(self, population: Population, config: MatrixGameConfig | Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(population, config, **kwargs)
        cfg = self.config
        labelled = ActionSpace(ActionSpec(
            "play", {"option": Arg.choice(*cfg.labels, description="the option chosen this round")},
            "choose one of the two options for this round",
        ))
        self.action_space = labelled.subset(self.action_space.names)
        cells = cfg.payoffs if cfg.payoffs is not None else PRESETS[cfg.game]
        self.payoff = np.asarray(cells, dtype=np.float64)  # [row option, column option, role]
        self.cooperative = cfg.cooperative if cfg.cooperative is not None else COOPERATIVE.get(cfg.game)
        self.rules_text = (self._describe(0), self._describe(1))

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        n = self.n_agents
        self.partner = np.arange(n, dtype=np.int64) ^ 1
        self.partner[2 * (n // 2):] = -1
        self.role = np.arange(n, dtype=np.int64) % 2
        self.choices = np.full((self.config.rounds, n), -1, dtype=np.int8)
        self.earned = np.zeros((self.config.rounds, n))
        self.pending = np.full(n, -1, dtype=np.int8)
        self.round = 0

    # -- what agents see ---------------------------------------------------------------------
    def observe(self, agent_ids: np.ndarray) -> Observations:
        r, ids = self.round, np.asarray(agent_ids, dtype=np.int64)
        partner = self.partner[ids]
        other = np.maximum(partner, 0)
        paired = partner >= 0
        past, earned = self.choices[:r], self.earned[:r]
        last = past[r - 1] if r else np.full(self.n_agents, -1, dtype=np.int8)
        return Observations(ids, {
            "round": np.full(len(ids), r + 1, dtype=np.int64),
            "rounds": np.full(len(ids), self.config.rounds, dtype=np.int64),
            "partner": partner if self.agent_ids is None else np.where(paired, self.agent_ids[other], -1),
            "role": self.role[ids],
            "my_last": last[ids].astype(np.int64),
            "their_last": np.where(paired, last[other], -1).astype(np.int64),
            "their_second_choices": np.where(paired, (past[:, other] == 1).sum(axis=0), 0).astype(np.int64),
            "score": earned[:, ids].sum(axis=0),
            "their_score": np.where(paired, earned[:, other].sum(axis=0), 0.0),
            "rules": np.asarray([self.rules_text[k] if p else "You have no partner in this game."
                                 for k, p in zip(self.role[ids], paired, strict=True)], dtype=object),
            "history": np.asarray([self._history(int(i)) for i in ids], dtype=object),
        })

    def _describe(self, role: int) -> str:
        a, b = self.config.labels
        lines = [
            "You are playing a game repeatedly with another player. In this game, you can choose between "
            f"Option {a} and Option {b}. You will play {self.config.rounds} rounds in total with the same player. "
            "The rules of the game are as follows:"
        ]
        for mine in (0, 1):
            for theirs in (0, 1):
                cell = self.payoff[mine, theirs] if role == 0 else self.payoff[theirs, mine][::-1]
                lines.append(
                    f"If you choose Option {self.config.labels[mine]} and the other player chooses Option "
                    f"{self.config.labels[theirs]}, then you win {cell[0]:g} points and the other player wins "
                    f"{cell[1]:g} points."
                )
        return "\n".join(lines)

    def _history(self, agent: int) -> str:
        other = int(self.partner[agent])
        if other < 0:
            return ""
        labels = self.config.labels
        lines = []
        for t in range(self.round):
            mine, theirs = int(self.choices[t, agent]), int(self.choices[t, other])
            if mine < 0 or theirs < 0:
                lines.append(f"In round {t + 1}, no game took place because a choice was missing.")
                continue
            lines.append(
                f"In round {t + 1}, you chose Option {labels[mine]} and the other player chose Option "
                f"{labels[theirs]}. Thus, you won {self.earned[t, agent]:g} points and the other player won "
                f"{self.earned[t, other]:g} points."
            )
        return "\n".join(lines)

    # -- what agents do ----------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"play": self._play}

    def _play(self, actions: Actions) -> Events:
        agents = actions.agents
        option = np.where(actions.args["option"].astype(str) == self.config.labels[0], 0, 1).astype(np.int8)
        ok = np.ones(len(agents), dtype=bool)
        reason = np.full(len(agents), "", dtype=object)

        def refuse(mask: np.ndarray, why: str) -> None:
            reason[ok & mask] = why
            ok[:] &= ~mask

        rounds = self.config.rounds
        refuse(np.full(len(agents), self.round >= rounds), f"the game is over after {rounds} rounds")
        refuse(self.partner[agents] < 0, "no partner: the population has an odd number of agents")
        first = np.zeros(len(agents), dtype=bool)
        first[np.unique(agents, return_index=True)[1]] = True
        refuse((self.pending[agents] >= 0) | ~first, "already chose this round")
        self.pending[agents[ok]] = option[ok]
        return Events.outcomes(actions, ok, reason)

    def tick(self) -> list[Events]:
        if self.round >= self.config.rounds:
            return []
        t = self.round
        rows = np.flatnonzero((self.partner >= 0) & (self.role == 0))
        cols = rows + 1
        a, b = self.pending[rows].astype(np.int64), self.pending[cols].astype(np.int64)
        both = (a >= 0) & (b >= 0)
        rows, cols, a, b = rows[both], cols[both], a[both], b[both]
        self.choices[t, rows], self.choices[t, cols] = a, b
        self.earned[t, rows] = self.payoff[a, b, 0]
        self.earned[t, cols] = self.payoff[a, b, 1]
        self.pending[:] = -1
        self.round += 1
        agents = np.r_[rows, cols]
        labels = np.asarray(self.config.labels, dtype=object)
        return [Events.world("round", agents, round=t + 1, option=labels[np.r_[a, b]],
                             payoff=self.earned[t, agents])] if len(agents) else []

    # -- what emerges ------------------------------------------------------------------------
    def tallies(self) -> dict[str, float]:
        r = self.round
        out = {"round": float(r)}
        players = np.flatnonzero(self.partner >= 0)
        if r == 0 or len(players) == 0:
            return out
        total = self.earned[:r].sum(axis=0)
        rows = players[self.role[players] == 0]
        out.update(players=float(len(players)), payoff=float(total[players].sum()), rows=float(len(rows)),
                   payoff_row=float(total[rows].sum()), payoff_column=float(total[rows + 1].sum()))
        mine = self.choices[:r, players].astype(np.int64)
        theirs = self.choices[:r, self.partner[players]].astype(np.int64)
        played = mine >= 0
        if self.cooperative is not None:
            c = self.cooperative
            defected = np.maximum.accumulate(theirs == 1 - c, axis=0)
            # a chance to forgive in round t: the partner defected before t - 1 and cooperated in t - 1
            chance = defected[:-2] & (theirs[1:-1] == c) & played[2:]
            out.update(
                last_played=float(played[-1].sum()), last_cooperated=float((mine[-1][played[-1]] == c).sum()),
                played=float(played.sum()), cooperated=float((mine[played] == c).sum()),
                forgiving_chances=float(chance.sum()), forgave=float((mine[2:][chance] == c).sum()),
            )
        else:
            a, b = self.choices[:r, rows].astype(np.int64), self.choices[:r, rows + 1].astype(np.int64)
            both = (a >= 0) & (b >= 0)
            matched = both & (a == b)
            consecutive = matched[1:] & matched[:-1]
            out.update(
                last_both=float(both[-1].sum()), last_same=float(matched[-1].sum()),
                consecutive=float(consecutive.sum()),
                switched=float((a[1:][consecutive] != a[:-1][consecutive]).sum()),
            )
        return out

    @classmethod
    def metrics_of(cls, tallies: Mapping[str, float]) -> dict[str, float]:
        t = tallies
        out = {"round": t["round"] / t[REGIONS]}

        def share(name: str, part: str, whole: str) -> None:
            if t.get(whole, 0) > 0:
                out[name] = t[part] / t[whole]

        if t.get("players", 0) > 0:
            out["payoff_mean"] = t["payoff"] / t["players"]
            share("payoff_row", "payoff_row", "rows")
            share("payoff_column", "payoff_column", "rows")
        share("cooperation_rate", "last_cooperated", "last_played")
        share("cooperation_overall", "cooperated", "played")
        share("forgiveness", "forgave", "forgiving_chances")
        share("coordination", "last_same", "last_both")
        share("alternation", "switched", "consecutive")
        return out


worlds.add("games", MatrixGameWorld)
