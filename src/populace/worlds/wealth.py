"""Boltzmann wealth exchange: every agent with wealth gives one unit to a random other agent.

The classic model (Dragulescu & Yakovenko 2000; Mesa's introductory tutorial). Wealth is
conserved and inequality rises from zero to a stationary level, with a Gini coefficient near
0.5 and an exponential-like distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.events import Events
from populace.measures import gini
from populace.minds.rules import RulesMind, policy
from populace.world import Handler, Observations, World, WorldConfig, operation, worlds


class WealthConfig(WorldConfig):
    initial_wealth: int = Field(1, ge=0, description="units every agent starts with")


class WealthWorld(World):
    name = "wealth"
    Config = WealthConfig
    actions = ActionSpace(
        ActionSpec("give", {"to": Arg.agent("who receives one unit")}, "give one unit of wealth"),
        ActionSpec("keep", {}, "give nothing this step"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "gini": "Gini coefficient of wealth (0 equal, 1 one agent has all)",
        "share_zero": "share of agents with no wealth",
        "top10_share": "share of all wealth held by the richest 10%",
        "total": "total wealth (conserved)",
    }

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        assert isinstance(self.config, WealthConfig)
        self.wealth = np.full(self.n_agents, self.config.initial_wealth, dtype=np.int64)

    def observe(self, agent_ids: np.ndarray) -> Observations:
        return Observations(agent_ids, {"wealth": self.wealth[agent_ids]})

    def handlers(self) -> Mapping[str, Handler]:
        return {"give": self._give, "keep": Events.accepted}

    def _give(self, actions: Actions) -> Events:
        givers, to = actions.agents, actions.args["to"]
        # An agent may give as many units as it holds; count each giver's gifts in order.
        order = np.argsort(givers, kind="stable")
        sorted_givers = givers[order]
        first = np.r_[True, sorted_givers[1:] != sorted_givers[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - start
        ok = (rank < self.wealth[givers]) & (givers != to)
        reason = np.where(givers == to, "cannot give to oneself", "no wealth left to give")
        self.wealth -= np.bincount(givers[ok], minlength=self.n_agents)
        self.wealth += np.bincount(to[ok], minlength=self.n_agents)
        return Events.outcomes(actions, ok, reason)

    def metrics(self) -> dict[str, float]:
        w = np.sort(self.wealth)
        total = float(w.sum())
        return {
            "gini": gini(w),
            "share_zero": float(np.mean(w == 0)),
            "top10_share": float(w[int(0.9 * len(w)):].sum() / total) if total else 0.0,
            "total": total,
        }

    @operation
    def tax_and_redistribute(self, rate: float) -> Events:
        """Take ``rate`` of every agent's wealth (rounded down) and share it out equally."""
        taken = np.floor(self.wealth * rate).astype(np.int64)
        self.wealth -= taken
        pool = int(taken.sum())
        self.wealth += pool // self.n_agents
        self.wealth[self.rng.permutation(self.n_agents)[: pool % self.n_agents]] += 1
        return Events.world("tax_and_redistribute", collected=pool, rate=rate)


@policy("random_gift")
def random_gift(obs: Observations, mind: RulesMind) -> list[Actions]:
    """Every observed agent with wealth gives one unit to a uniformly random other agent."""
    givers = obs.agents[obs["wealth"] > 0]
    n = mind.population.size
    to = mind.rng.integers(0, n - 1, len(givers)) if n > 1 else np.zeros(len(givers), np.int64)
    to += to >= givers  # skip oneself
    return [Actions("give", givers, {"to": to})]


worlds.add("wealth", WealthWorld)
