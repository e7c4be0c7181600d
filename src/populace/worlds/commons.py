"""A common-pool resource, after GovSim (Piatti et al., "Cooperate or Collapse: Emergence of
Sustainable Cooperation in a Society of LLM Agents"): the fishery.

A lake holds ``initial`` tons of fish (100) and at most ``capacity`` (100). Every month all agents
(5 in GovSim) first ``harvest`` at the same time; if they ask for more than the lake holds, the
catch is shared in proportion to the requests. Then they talk for ``talk_turns`` turns (``say``,
recorded; one message per agent per turn). At the end of the month the remaining fish multiply by
``growth`` (2), up to the capacity. If a harvest leaves fewer than ``collapse_below`` tons (5) the
fishery has collapsed and the run's outcome is fixed. One step is one phase: the harvest, then
each talk turn, so a month takes ``1 + talk_turns`` steps and ``months`` (12) months take
``months * (1 + talk_turns)`` steps.

The sustainable share is the most an agent can take so that, if everyone took as much, the lake
refills to capacity: ``(stock - capacity / growth) / n``, at least 0 (10 tons each from a full lake).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.events import Events
from populace.measures import gini
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Column, Handler, Observations, World, WorldConfig, worlds

HARVEST, DISCUSS, OVER = "harvest", "discuss", "over"


class CommonsConfig(WorldConfig):
    capacity: float = Field(100.0, gt=0, description="most fish the lake can hold (tons)")
    initial: float = Field(100.0, ge=0, description="fish at the start (tons)")
    growth: float = Field(2.0, ge=1, description="factor the remaining fish multiply by each month")
    collapse_below: float = Field(5.0, ge=0, description="a harvest leaving less than this collapses the fishery")
    months: int = Field(12, ge=1, description="months in the season")
    talk_turns: int = Field(2, ge=0, description="discussion turns after each harvest")
    history_months: int = Field(3, ge=0, description="past months summarised in the `history` observation")
    discussion_messages: int = Field(50, ge=1, description="latest messages of the month shown in `discussion`")


class CommonsWorld(World[CommonsConfig]):
    """GovSim's fishery: agents harvest a shared, regrowing stock, then talk; it may collapse."""

    name = "commons"
    Config = CommonsConfig
    actions = ActionSpace(
        ActionSpec("harvest", {"tons": Arg.number(0, None, "tons of fish to catch this month")},
                   "catch fish from the shared lake (harvest phase only)"),
        ActionSpec("say", {"text": Arg.text(500, "your message to the other fishers")},
                   "say something to all the other fishers (discussion phase only)"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "month": "months completed",
        "stock": "fish in the lake (tons)",
        "collapsed": "1 once the fishery has collapsed",
        "survival_months": "months completed before the fishery collapsed",
        "total_gain": "fish caught by everyone so far (tons)",
        "efficiency": "total gain over the most the season could sustainably yield",
        "equality": "1 - Gini coefficient of each agent's total catch",
        "over_usage": "share of harvest requests above the sustainable share",
        "messages": "messages said so far",
    }
    observation = (
        Column("phase", "text", "harvest, discuss, or over"),
        Column("month", "int64", "the month, from 1"),
        Column("turn", "int64", "0 at the harvest, then the talk turn"),
        Column("stock", "float64", "fish in the lake (tons)"),
        Column("capacity", "float64", "most fish the lake can hold (tons)"),
        Column("sustainable_share", "float64", "tons each may catch so that the lake still refills"),
        Column("my_last_catch", "float64", "own catch last month (tons)"),
        Column("others_last_catch", "float64", "the others' mean catch last month (tons)"),
        Column("my_total", "float64", "own catch this season (tons)"),
        Column("rules", "text", "the rules and the lake now, in words"),
        Column("history", "text", "the last months' catches, in words"),
        Column("discussion", "text", "this month's messages, one a line"),
    )

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        n, cfg = self.n_agents, self.config
        self.stock = min(cfg.initial, cfg.capacity)
        self.month = 0  # months completed
        self.turn = 0  # 0: harvest, 1..talk_turns: discussion
        self.collapsed = False
        self.survived = 0
        self.requested = np.full(n, np.nan)  # this month's requests
        self.spoke = np.zeros(n, dtype=bool)
        self.catches = np.zeros((cfg.months, n))
        self.monthly: list[tuple[float, float]] = []  # (stock before harvest, stock after regrowth)
        self.requests = 0
        self.over_requests = 0
        self.messages: list[tuple[int, int, int, str]] = []  # (month, turn, agent, text)
        self._before = self.stock
        self._month_start = 0  # index in `messages` of this month's first message

    @property
    def phase(self) -> str:
        if self.collapsed or self.month >= self.config.months:
            return OVER
        return HARVEST if self.turn == 0 else DISCUSS

    def sustainable_share(self) -> float:
        """Tons each agent may take so that the lake still refills to capacity."""
        cfg = self.config
        return max(0.0, self.stock - cfg.capacity / cfg.growth) / max(self.n_agents, 1)

    # -- what agents see ---------------------------------------------------------------------
    def observe(self, agent_ids: np.ndarray) -> Observations:
        ids = np.asarray(agent_ids, dtype=np.int64)
        k, cfg = len(ids), self.config
        last = self.catches[self.month - 1] if self.month else np.zeros(self.n_agents)
        others = (last.sum() - last[ids]) / max(self.n_agents - 1, 1)
        discussion = self._discussion()
        return Observations(ids, {
            "phase": _repeat(self.phase, k),
            "month": np.full(k, min(self.month + 1, cfg.months), dtype=np.int64),
            "turn": np.full(k, self.turn, dtype=np.int64),
            "stock": np.full(k, self.stock),
            "capacity": np.full(k, cfg.capacity),
            "sustainable_share": np.full(k, self.sustainable_share()),
            "my_last_catch": last[ids],
            "others_last_catch": others,
            "my_total": self.catches[:, ids].sum(axis=0),
            "rules": _repeat(self._rules(), k),
            "history": np.asarray([self._history(int(i)) for i in ids], dtype=object),
            "discussion": _repeat(discussion, k),
        })

    def _rules(self) -> str:
        cfg = self.config
        return (
            f"You are one of {self.n_agents} fishers sharing a lake that holds at most {cfg.capacity:g} tons of fish. "
            f"Each month every fisher decides how many tons to catch; afterwards you can talk with the others. "
            f"At the end of the month the remaining fish multiply by {cfg.growth:g}, up to {cfg.capacity:g} tons. "
            f"If the lake ever holds less than {cfg.collapse_below:g} tons after a harvest, the fishery collapses "
            f"for everyone. The season lasts {cfg.months} months. Now it is month {min(self.month + 1, cfg.months)}"
            f" and the lake holds {self.stock:g} tons."
        )

    def _history(self, agent: int) -> str:
        """The last months in words; with more than 8 fishers the others' catches are summed."""
        lines = []
        for m in range(max(0, self.month - self.config.history_months), len(self.monthly)):
            before, after = self.monthly[m]
            catches = self.catches[m]
            if self.n_agents <= 8:
                others = "the others caught " + ", ".join(f"{c:.3g}" for j, c in enumerate(catches) if j != agent)
            else:
                others = f"the other {self.n_agents - 1} caught {catches.sum() - catches[agent]:.4g} in all"
            end = (f"the fishery collapsed with {after:.3g} tons left" if self.collapsed and m == self.month
                   else f"after regrowth it held {after:.4g} tons")
            lines.append(f"Month {m + 1}: the lake held {before:.4g} tons; you caught {catches[agent]:.3g}, "
                         f"{others}; {end}.")
        return " ".join(lines)

    def _discussion(self) -> str:
        """This month's messages, the latest ``discussion_messages`` of them."""
        start = self._month_start
        recent = self.messages[max(start, len(self.messages) - self.config.discussion_messages):]
        return "\n".join(f"Fisher {a}: {text}" for _, _, a, text in recent)

    # -- what agents do ----------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"harvest": self._harvest, "say": self._say}

    def _wrong_phase(self, actions: Actions, phase: str) -> Events | None:
        if self.phase == phase:
            return None
        why = {OVER: "the fishery has collapsed" if self.collapsed else "the season is over",
               HARVEST: "it is the harvest phase; talk after the harvest",
               DISCUSS: "it is the discussion phase; harvest next month"}[self.phase]
        return Events.rejected(actions, np.ones(len(actions), dtype=bool), why)

    @staticmethod
    def _first(actions: Actions, done: np.ndarray) -> np.ndarray:
        first = np.zeros(len(actions), dtype=bool)
        first[np.unique(actions.agents, return_index=True)[1]] = True
        return first & ~done[actions.agents]

    def _harvest(self, actions: Actions) -> Events:
        if (wrong := self._wrong_phase(actions, HARVEST)) is not None:
            return wrong
        ok = self._first(actions, ~np.isnan(self.requested))
        self.requested[actions.agents[ok]] = actions.args["tons"][ok].astype(np.float64)
        return Events.outcomes(actions, ok, "already harvested this month")

    def _say(self, actions: Actions) -> Events:
        if (wrong := self._wrong_phase(actions, DISCUSS)) is not None:
            return wrong
        ok = self._first(actions, self.spoke)
        text = actions.args["text"]
        for agent, message in zip(actions.agents[ok], text[ok], strict=True):
            self.messages.append((self.month, self.turn, int(agent), str(message)))
        self.spoke[actions.agents[ok]] = True
        return Events.outcomes(actions, ok, "already spoke this turn")

    # -- dynamics ----------------------------------------------------------------------------
    def tick(self) -> list[Events]:
        if self.phase == OVER:
            return []
        events: list[Events] = []
        if self.turn == 0:
            events.append(self._resolve_harvest())
        else:
            self.spoke[:] = False
        if self.collapsed:
            return events
        if self.turn >= self.config.talk_turns:
            events.append(self._regrow())
        else:
            self.turn += 1
        return events

    def _resolve_harvest(self) -> Events:
        asked = np.nan_to_num(self.requested, nan=0.0)
        share = self.sustainable_share()
        acted = ~np.isnan(self.requested)
        self.requests += int(acted.sum())
        self.over_requests += int(np.count_nonzero(acted & (asked > share + 1e-9)))
        total = asked.sum()
        caught = asked * (self.stock / total) if total > self.stock else asked
        self._before = self.stock
        self._month_start = 0  # index in `messages` of this month's first message
        self.stock = max(0.0, self.stock - float(caught.sum()))
        self.catches[self.month] = caught
        self.requested[:] = np.nan
        who = np.flatnonzero(acted)
        if self.stock < self.config.collapse_below:
            self.collapsed = True
            self.monthly.append((self._before, self.stock))
            return Events.world("collapse", who, caught=caught[who], stock=self.stock, month=self.month + 1)
        return Events.world("catch", who, caught=caught[who], stock=self.stock, month=self.month + 1)

    def _regrow(self) -> Events:
        cfg = self.config
        self.stock = min(cfg.capacity, self.stock * cfg.growth)
        self.monthly.append((self._before, self.stock))
        self.month += 1
        self._month_start = len(self.messages)
        self.survived = self.month
        self.turn = 0
        return Events.world("regrowth", stock=self.stock, month=self.month)

    # -- what emerges ------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        cfg = self.config
        gains = self.catches.sum(axis=0)
        best = cfg.months * (cfg.capacity - cfg.capacity / cfg.growth)
        return {
            "month": float(self.month),
            "stock": float(self.stock),
            "collapsed": float(self.collapsed),
            "survival_months": float(self.survived),
            "total_gain": float(gains.sum()),
            "efficiency": float(gains.sum() / best) if best > 0 else 0.0,
            "equality": 1.0 - gini(gains),
            "over_usage": self.over_requests / self.requests if self.requests else 0.0,
            "messages": float(len(self.messages)),
        }


def _repeat(text: str, k: int) -> np.ndarray:
    """One text for ``k`` agents, sharing a single string object."""
    out = np.empty(k, dtype=object)
    out.fill(text)
    return out


class SustainableParams(PolicyParams):
    share: float = Field(1.0, ge=0, description="times the sustainable share to catch")
    talk: bool = Field(True, description="say so on the first talk turn")


@policy("sustainable_harvest", SustainableParams, reads=("phase", "sustainable_share", "turn", "my_last_catch"))
def sustainable_harvest(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Catch ``share`` (default 1) times the sustainable share; on the first talk turn, say so
    (``talk``, default true)."""
    prm = mind.settings(SustainableParams)
    share = prm.share
    batches = []
    harvesting = obs["phase"] == HARVEST
    if harvesting.any():
        tons = share * obs["sustainable_share"][harvesting]
        batches.append(Actions("harvest", obs.agents[harvesting], {"tons": tons}))
    talking = (obs["phase"] == DISCUSS) & (obs["turn"] == 1) & prm.talk
    if talking.any():
        text = [f"I caught {c:.3g} tons. Let us each catch no more than the lake can grow back, "
                "so that it refills every month." for c in obs["my_last_catch"][talking]]
        batches.append(Actions("say", obs.agents[talking], {"text": np.asarray(text, dtype=object)}))
    return batches


class GreedyParams(PolicyParams):
    fraction: float = Field(0.15, ge=0, le=1, description="share of the whole lake to catch")


@policy("greedy_harvest", GreedyParams, reads=("phase", "stock"))
def greedy_harvest(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Catch ``fraction`` (default 0.15) of the whole lake every month, whatever the others do."""
    fraction = mind.settings(GreedyParams).fraction
    harvesting = obs["phase"] == HARVEST
    tons = fraction * obs["stock"][harvesting]
    return [Actions("harvest", obs.agents[harvesting], {"tons": tons})]


worlds.add("commons", CommonsWorld)
