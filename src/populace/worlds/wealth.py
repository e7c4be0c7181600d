"""Boltzmann wealth exchange: every agent with wealth gives one unit to a random other agent.

The classic model (Dragulescu & Yakovenko 2000; Mesa's introductory tutorial). Wealth is
conserved and inequality rises from zero to a stationary level. Here everyone gives at once, so
each step an agent loses a unit if it has one and receives Poisson(lam) units, lam the share of
givers: the queue with Poisson arrivals and one departure a step. Its stationary mean
(Pollaczek-Khinchine) is one unit when lam = 2 - sqrt(2), so a share sqrt(2) - 1 = 0.414 holds
nothing and the Gini is 0.580 (0.575-0.585 measured at 1,000 agents). Dragulescu & Yakovenko's
one-pair-at-a-time exchange reaches the exponential Boltzmann-Gibbs law instead: geometric with
Gini 2/3 at one unit each, tending to 1/2 as the units per agent grow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.events import Events
from populace.measures import gini
from populace.policy import PolicyContext, policy
from populace.world import Column, Handler, Observations, World, WorldConfig, operation, worlds


class WealthConfig(WorldConfig):
    initial_wealth: int = Field(1, ge=0, description="units every agent starts with")


class WealthWorld(World[WealthConfig]):
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
    observation = (Column("wealth", "int64", "units of wealth the agent holds"),)

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        self.wealth = np.full(self.n_agents, self.config.initial_wealth, dtype=np.int64)

    def observe(self, agent_ids: np.ndarray) -> Observations:
        return Observations(agent_ids, {"wealth": self.wealth[agent_ids]})

    def handlers(self) -> Mapping[str, Handler]:
        return {"give": self._give, "keep": Events.accepted}

    def _give(self, actions: Actions) -> Events:
        givers, to = actions.agents, actions.args["to"]
        # An agent may give as many units as it holds; count each giver's gifts in order.
        if np.all(givers[1:] > givers[:-1]):  # each giver once (the usual case): all ranks are 0
            ok = (self.wealth[givers] > 0) & (givers != to)
        else:
            order = np.argsort(givers, kind="stable")
            sorted_givers = givers[order]
            first = np.r_[True, sorted_givers[1:] != sorted_givers[:-1]]
            start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order)) - start
            ok = (rank < self.wealth[givers]) & (givers != to)
        if ok.all():
            self.wealth -= np.bincount(givers, minlength=self.n_agents)
            self.wealth += np.bincount(to, minlength=self.n_agents)
            return Events.outcomes(actions, ok)
        reason = np.where(givers == to, "cannot give to oneself", "no wealth left to give")
        self.wealth -= np.bincount(givers[ok], minlength=self.n_agents)
        self.wealth += np.bincount(to[ok], minlength=self.n_agents)
        return Events.outcomes(actions, ok, reason)

    def metrics(self) -> dict[str, float]:
        counted = _counted_metrics(self.wealth)
        if counted is not None:
            return counted
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


def _counted_metrics(wealth: np.ndarray) -> dict[str, float] | None:
    """The metrics from the histogram of the (integer) wealth: one integer sort, then sums over amounts.

    Used only where every sum is an exact integer in float64 as well, so the values equal the
    sort-based ones bit for bit; returns None otherwise (negative, huge or empty wealth).
    """
    n = len(wealth)
    if n == 0:
        return None
    ordered = np.sort(wealth)  # SIMD-sorted integers: faster than bincount's serial increments
    if ordered[0] < 0 or ordered[-1] > 4 * n + 1024:
        return None
    values = np.arange(int(ordered[-1]) + 1, dtype=np.int64)
    counts = np.diff(np.searchsorted(ordered, np.append(values, values[-1] + 1)))  # agents per amount
    total = int(counts @ values)
    if total == 0 or total * n >= 2**53:
        return None
    cumulative = np.cumsum(counts)
    ranks = counts * (cumulative - counts) + counts * (counts + 1) // 2  # sum of the ranks each value holds
    weighted = int(values @ ranks)  # sum over sorted wealth of rank * wealth
    k = int(0.9 * n)  # the poorest k agents; the top 10% hold the rest
    j = int(np.searchsorted(cumulative, k))
    poorest = int(counts[:j] @ values[:j]) + (k - (int(cumulative[j - 1]) if j else 0)) * int(values[j]) if k else 0
    return {
        "gini": float((2.0 * float(weighted) / (n * float(total))) - (n + 1) / n),
        "share_zero": float(counts[0] / n),
        "top10_share": float((total - poorest) / total),
        "total": float(total),
    }


@policy("random_gift", reads=("wealth",))
def random_gift(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Every observed agent with wealth gives one unit to a uniformly random other agent."""
    givers = obs.agents[np.flatnonzero(obs["wealth"] > 0)]  # faster than a boolean mask that is half true
    n = mind.population.size
    to = mind.rng.integers(0, n - 1, len(givers)) if n > 1 else np.zeros(len(givers), np.int64)
    to += to >= givers  # skip oneself
    return [Actions("give", givers, {"to": to})]


worlds.add("wealth", WealthWorld)
