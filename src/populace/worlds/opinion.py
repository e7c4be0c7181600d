"""Bounded-confidence opinion dynamics (Deffuant, Neau, Amblard & Weisbuch 2000) on a network.

Agents hold an opinion in [0, 1]. Each step an agent meets a random neighbour; if their opinions
differ by less than the confidence threshold ``d`` they discuss and both move a fraction ``mu``
of the way towards each other. The threshold lives in the mind (policy ``bounded_confidence``),
the convergence rule in the world. Known outcome (Deffuant et al., with random mixing): opinions
settle into about ``1 / (2 d)`` clusters; for ``d`` above roughly 0.3 the population reaches
consensus. On a sparse network fewer form, and some agents never meet a neighbour within reach
and stay where they are: at 1,500 agents on a random network of degree 10, everyone active for
200 steps (5 seeds), ``d`` = 0.1 gives 3-4 clusters, 0.15 gives 2-3, 0.2 gives 2, 0.3 consensus.
Clusters are counted by ``populace.measures.clusters``, which counts uniform noise as one cluster.

Actions are applied simultaneously: an agent in several discussions in one step moves by ``mu``
times the *mean* of its differences, so no agent overshoots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.events import Events
from populace.measures import clusters
from populace.network import Network, random_network, small_world
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Column, Handler, Observations, World, WorldConfig, operation, worlds

#: opinions closer than this (1% of the scale) are one opinion when telling clusters apart
OPINION_RESOLUTION = 0.01


class NetworkConfig(WorldConfig):
    kind: Literal["small_world", "random"] = "small_world"
    degree: int = Field(10, ge=2, description="mean number of neighbours")
    rewire: float = Field(0.1, ge=0, le=1, description="small-world rewiring probability")


class OpinionConfig(WorldConfig):
    mu: float = Field(0.5, gt=0, le=0.5, description="convergence: share of the difference moved")
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    initial: Literal["uniform"] | str = Field(
        "uniform", description="'uniform' in [0, 1], or a population column holding initial opinions"
    )


class OpinionWorld(World[OpinionConfig]):
    name = "opinion"
    Config = OpinionConfig
    actions = ActionSpace(
        ActionSpec("discuss", {"with": Arg.agent("a neighbour")}, "discuss the issue with a neighbour"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "mean": "mean opinion",
        "variance": "variance of opinions",
        "clusters": "opinion clusters: groups of at least 2% of agents, as dense as the whole or denser, "
                    "apart by more than 0.01 and by more than uniform noise would leave",
        "largest_cluster": "share of agents in the largest cluster",
    }
    observation = (
        Column("opinion", "float64", "own opinion, 0 to 1"),
        Column("neighbour", "int64", "the neighbour met this step (-1: none)"),
        Column("neighbour_opinion", "float64", "that neighbour's opinion (NaN: none met)"),
    )

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        cfg = self.config
        assert isinstance(cfg, OpinionConfig)
        net_rng = np.random.default_rng(self.rng.integers(2**63))
        build = small_world if cfg.network.kind == "small_world" else random_network
        self.network: Network = build(self.n_agents, cfg.network.degree, cfg.network.rewire, net_rng)
        if cfg.initial == "uniform":
            self.opinion = self.rng.random(self.n_agents)
        else:
            self.opinion = np.clip(np.asarray(self.population[cfg.initial], dtype=np.float64), 0, 1).copy()

    def observe(self, agent_ids: np.ndarray) -> Observations:
        neighbour = self.network.random_neighbour(agent_ids, self.rng)
        known = neighbour >= 0
        neighbour_opinion = np.where(known, self.opinion[np.maximum(neighbour, 0)], np.nan)
        return Observations(agent_ids, {
            "opinion": self.opinion[agent_ids], "neighbour": neighbour,
            "neighbour_opinion": neighbour_opinion,
        })

    def handlers(self) -> Mapping[str, Handler]:
        return {"discuss": self._discuss}

    def _discuss(self, actions: Actions) -> Events:
        me, other = actions.agents, actions.args["with"]
        ok = self.network.connected(me, other)
        me, other = me[ok], other[ok]
        diff = self.opinion[other] - self.opinion[me]
        n = self.n_agents
        pull = np.bincount(me, diff, n) + np.bincount(other, -diff, n)
        meetings = np.bincount(me, minlength=n) + np.bincount(other, minlength=n)
        self.opinion += self.config.mu * pull / np.maximum(meetings, 1)
        return Events.outcomes(actions, ok, "not a neighbour")

    def metrics(self) -> dict[str, float]:
        count, largest = clusters(self.opinion, resolution=OPINION_RESOLUTION)
        return {
            "mean": float(self.opinion.mean()), "variance": float(self.opinion.var()),
            "clusters": float(count), "largest_cluster": largest,
        }

    @operation
    def broadcast(self, value: Annotated[float, Field(ge=0, le=1)],
                  share: Annotated[float, Field(ge=0, le=1)] = 0.05) -> Events:
        """A campaign: a random ``share`` of agents adopt opinion ``value``."""
        chosen = self.rng.permutation(self.n_agents)[: round(share * self.n_agents)]
        self.opinion[chosen] = value
        return Events.world("broadcast", chosen, value=value)


class BoundedConfidenceParams(PolicyParams):
    threshold: float = Field(0.2, ge=0, description="largest opinion difference that is discussed")


@policy("bounded_confidence", BoundedConfidenceParams, reads=("opinion", "neighbour_opinion", "neighbour"))
def bounded_confidence(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Discuss with the neighbour met if opinions differ by less than ``threshold`` (default 0.2)."""
    threshold = mind.settings(BoundedConfidenceParams).threshold
    close = np.abs(obs["opinion"] - obs["neighbour_opinion"]) < threshold  # NaN (no neighbour) is False
    return [Actions("discuss", obs.agents[close], {"with": obs["neighbour"][close]})]


worlds.add("opinion", OpinionWorld)
