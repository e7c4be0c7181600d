"""The donor game with cultural evolution, after Vallinder & Hughes, "Cultural Evolution of
Cooperation among LLM Agents".

Every round each agent is the donor of one random recipient and the recipient of one donor (the
agents are put in a random cycle). A donor gives a fraction of its resources; the recipient gets
twice as much (``multiplier``). Before deciding, a donor sees the recipient's recent behaviour: what
the recipient did as a donor last round, what that recipient's recipient did the round before, and
so on (``history_depth``). With ``punishment`` on, a donor may instead pay to take away
``punishment_effect`` times as much from the recipient.

After ``rounds`` rounds a generation ends: the richer half survives, the other half is replaced by
newcomers who inherit a random survivor's strategy, both its text (``strategy``, which a
language-model mind may rewrite with ``set_strategy``) and its numeric trait ``generosity`` (the
donation fraction a rules mind uses), mutated by Gaussian noise. Every agent then starts the new
generation with ``initial_resources``. The defaults are the paper's: 12 agents, 12 rounds per
generation, 10 units each, donations doubled, a trace depth of 3.

Each step's metrics describe the round played in it: the step that ends a generation reports
that generation's final standing, not the fresh one the turnover has already set up, so a run
of whole generations ends on its last completed generation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.events import Events
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Column, Handler, Observations, World, WorldConfig, worlds


class DonorConfig(WorldConfig):
    rounds: int = Field(12, ge=1, description="rounds per generation")
    initial_resources: float = Field(10.0, gt=0, description="resources every agent starts a generation with")
    multiplier: float = Field(2.0, ge=0, description="what the recipient gets per unit donated")
    history_depth: int = Field(3, ge=0, description="steps of the recipient's trace a donor sees")
    punishment: bool = Field(False, description="whether donors may pay to punish")
    punishment_effect: float = Field(2.0, ge=0, description="units the recipient loses per unit spent punishing")
    survivors: float = Field(0.5, gt=0, lt=1, description="share of agents that survive a generation")
    mutation: float = Field(0.05, ge=0, description="std of the noise on an inherited generosity")
    generosity: str | None = Field(
        None, description="population column with initial generosity in [0, 1] (default: uniform)"
    )
    strategy: str | None = Field(None, description="population column with initial strategy texts")


class DonorWorld(World[DonorConfig]):
    """The donor game over generations: doubled donations, reputations, selection and inheritance."""

    name = "donor"
    Config = DonorConfig
    #: the standing at the end of the generation the last step finished (None mid-generation; a
    #: class default, so a world checkpointed before this existed still loads)
    finished: dict[str, float] | None = None
    actions = ActionSpace(
        ActionSpec("donate", {"fraction": Arg.number(0, 1, "share of your resources to give")},
                   "give a share of your resources to this round's recipient, who receives it multiplied"),
        ActionSpec("punish", {"fraction": Arg.number(0, 1, "share of your resources to spend")},
                   "spend a share of your resources so that this round's recipient loses a multiple of it"),
        ActionSpec("set_strategy", {"strategy": Arg.text(1000, "your strategy, in your own words")},
                   "write down the strategy you will follow (passed on to newcomers if you survive)"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "generation": "generation of this step's round (1 = the first)",
        "resources_mean": "mean resources after this step's round",
        "donation_rate": "mean share of resources donated in this step's round (non-donors count 0)",
        "generosity_mean": "mean generosity trait of the agents who played this step's round",
        "punishments": "punishments in the last round",
        "generation_resources": "mean final resources of the last completed generation",
    }
    observation = (
        Column("generation", "int64", "the generation, from 1"),
        Column("round", "int64", "the round of the generation, from 1"),
        Column("recipient", "int64", "this round's recipient"),
        Column("resources", "float64", "own resources"),
        Column("recipient_resources", "float64", "the recipient's resources"),
        Column("recipient_last", "float64", "share the recipient gave last round (negative: punished; NaN: none)"),
        Column("generosity", "float64", "own inherited generosity, 0 to 1"),
        Column("punishment", "bool", "whether donors may pay to punish"),
        Column("strategy", "text", "own strategy, in words"),
        Column("history", "text", "the recipient's recent giving, in words"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.config.punishment and kwargs.get("available") is None:
            self.action_space = self.action_space.subset([n for n in self.action_space.names if n != "punish"])

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        n, cfg = self.n_agents, self.config
        if cfg.generosity is not None:
            self.generosity = np.clip(np.asarray(self.population[cfg.generosity], dtype=np.float64), 0, 1).copy()
        else:
            self.generosity = self.rng.random(n)
        texts = self.population[cfg.strategy] if cfg.strategy is not None else np.full(n, "", dtype=object)
        self.strategy = np.asarray([str(t) for t in texts], dtype=object)
        self.born = np.zeros(n, dtype=np.int64)  # generation each agent joined in
        self.generation = 0
        self.generation_resources: list[float] = []
        self.last_given = np.zeros(0)
        self.finished = None
        self._start_generation()

    def _start_generation(self) -> None:
        n, cfg = self.n_agents, self.config
        self.resources = np.full(n, cfg.initial_resources)
        self.round = 0
        self.given = np.full((cfg.rounds, n), np.nan)  # share donated (negative: spent punishing)
        self.receiver = np.full((cfg.rounds, n), -1, dtype=np.int64)
        self._draw_recipients()

    def _draw_recipients(self) -> None:
        order = self.rng.permutation(self.n_agents)
        self.recipient = np.empty(self.n_agents, dtype=np.int64)
        self.recipient[order] = np.roll(order, -1)
        self.acted = np.zeros(self.n_agents, dtype=bool)
        self.flow = np.zeros(self.n_agents)

    # -- what agents see ---------------------------------------------------------------------
    def observe(self, agent_ids: np.ndarray) -> Observations:
        ids = np.asarray(agent_ids, dtype=np.int64)
        rec = self.recipient[ids]
        last = self.given[self.round - 1, rec] if self.round else np.full(len(ids), np.nan)
        k = len(ids)
        return Observations(ids, {
            "generation": np.full(k, self.generation + 1, dtype=np.int64),
            "round": np.full(k, self.round + 1, dtype=np.int64),
            "recipient": rec,
            "resources": self.resources[ids],
            "recipient_resources": self.resources[rec],
            "recipient_last": last,
            "generosity": self.generosity[ids],
            "punishment": np.full(k, self.config.punishment),
            "strategy": self.strategy[ids].copy(),
            "history": np.asarray([self._trace(int(r)) for r in rec], dtype=object),
        })

    def _trace(self, agent: int) -> str:
        lines, who, t = [], agent, self.round - 1
        for _ in range(self.config.history_depth):
            if t < 0 or np.isnan(self.given[t, who]):
                break
            share, to = self.given[t, who], int(self.receiver[t, who])
            verb = (f"spent {-share:.0%} of their resources punishing" if share < 0
                    else f"gave {share:.0%} of their resources to")
            lines.append(f"In round {t + 1}, agent {who} {verb} agent {to}.")
            who, t = to, t - 1
        return " ".join(lines) if lines else f"Agent {agent} has no record yet this generation."

    # -- what agents do ----------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"donate": self._donate, "punish": self._punish, "set_strategy": self._set_strategy}

    def _once(self, actions: Actions) -> np.ndarray:
        first = np.zeros(len(actions), dtype=bool)
        first[np.unique(actions.agents, return_index=True)[1]] = True
        return first & ~self.acted[actions.agents]

    def _donate(self, actions: Actions) -> Events:
        ok = self._once(actions)
        donors, share = actions.agents[ok], actions.args["fraction"][ok].astype(np.float64)
        amount = share * self.resources[donors]
        given = np.zeros(len(actions))
        given[ok] = amount
        self._record(donors, share)
        self.flow -= np.bincount(donors, amount, self.n_agents)
        self.flow += np.bincount(self.recipient[donors], self.config.multiplier * amount, self.n_agents)
        return Events.outcomes(actions, ok, "already acted this round", amount=given)

    def _punish(self, actions: Actions) -> Events:
        if not self.config.punishment:
            return Events.rejected(actions, np.ones(len(actions), bool), "punishment is off in this world")
        ok = self._once(actions)
        donors, share = actions.agents[ok], actions.args["fraction"][ok].astype(np.float64)
        cost = share * self.resources[donors]
        self._record(donors, -share)
        self.flow -= np.bincount(donors, cost, self.n_agents)
        self.flow -= np.bincount(self.recipient[donors], self.config.punishment_effect * cost, self.n_agents)
        return Events.outcomes(actions, ok, "already acted this round")

    def _record(self, donors: np.ndarray, share: np.ndarray) -> None:
        self.acted[donors] = True
        self.given[self.round, donors] = share
        self.receiver[self.round, donors] = self.recipient[donors]

    def _set_strategy(self, actions: Actions) -> Events:
        self.strategy[actions.agents] = actions.args["strategy"]
        return Events.accepted(actions)

    # -- dynamics ----------------------------------------------------------------------------
    def tick(self) -> list[Events]:
        self.resources = np.maximum(self.resources + self.flow, 0.0)
        self.last_given = self.given[self.round].copy()
        self.round += 1
        if self.round < self.config.rounds:
            self.finished = None
            self._draw_recipients()
            return []
        self.finished = self._standing()
        return [self._next_generation()]

    def _next_generation(self) -> Events:
        n, cfg = self.n_agents, self.config
        self.generation_resources.append(float(self.resources.mean()))
        keep = max(1, round(cfg.survivors * n))
        ranking = np.lexsort((self.rng.random(n), -self.resources))  # richest first, ties at random
        survivors, replaced = ranking[:keep], ranking[keep:]
        parents = survivors[self.rng.integers(0, keep, len(replaced))]
        noise = self.rng.normal(0.0, cfg.mutation, len(replaced)) if cfg.mutation else 0.0
        self.generosity[replaced] = np.clip(self.generosity[parents] + noise, 0, 1)
        self.strategy[replaced] = self.strategy[parents]
        self.generation += 1
        self.born[replaced] = self.generation
        event = Events.world("generation", replaced, generation=self.generation + 1, parent=parents,
                             generosity=self.generosity[replaced])
        self._start_generation()
        return event

    # -- what emerges ------------------------------------------------------------------------
    def _standing(self) -> dict[str, float]:
        return {
            "generation": float(self.generation + 1),
            "resources_mean": float(self.resources.mean()),
            "generosity_mean": float(self.generosity.mean()),
        }

    def metrics(self) -> dict[str, float]:
        out = dict(self.finished) if self.finished is not None else self._standing()
        last = self.last_given
        if len(last):
            out["donation_rate"] = float(np.mean(np.where(last > 0, last, 0.0)))
            out["punishments"] = float(np.count_nonzero(last < 0))
        if self.generation_resources:
            out["generation_resources"] = self.generation_resources[-1]
        return out


class DonorParams(PolicyParams):
    threshold: float | None = Field(None, ge=0, le=1, description="give only to recipients who gave this share")
    punish: float = Field(0.0, ge=0, le=1, description="share spent punishing the others")


@policy("donor_strategy", DonorParams, reads=("generosity", "recipient_last", "punishment"))
def donor_strategy(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Give one's inherited ``generosity`` share; with ``threshold`` set, only to recipients whose
    last donation was at least that share (unknown recipients get the benefit of the doubt), and,
    with ``punish`` > 0 where the world allows it, spend that share punishing the others."""
    prm = mind.settings(DonorParams)
    threshold, punish = prm.threshold, prm.punish
    deserving = np.ones(len(obs), dtype=bool)
    if threshold is not None:
        last = obs["recipient_last"]
        deserving = np.isnan(last) | (last >= threshold)
    batches = [Actions("donate", obs.agents[deserving], {"fraction": obs["generosity"][deserving]})]
    punishing = ~deserving & obs["punishment"].astype(bool) & (punish > 0)
    if punishing.any():
        batches.append(Actions("punish", obs.agents[punishing], {"fraction": np.full(punishing.sum(), punish)}))
    return batches


worlds.add("donor", DonorWorld)
