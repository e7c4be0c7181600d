"""Labour and taxes, after the LLM Economist (Karten et al. 2025): workers choose hours, a planner sets taxes.

One step is one tax year. Workers (every agent but agent 0) have an hourly skill ``s`` and
choose weekly hours ``h``; pre-tax income is ``z = 52 s h``. Taxes follow a piecewise-linear
marginal schedule: fixed bracket thresholds (default: US federal 2023, single filer) and one
marginal rate per bracket. Revenue is returned to the workers as an equal lump-sum transfer.

Utility (isoelastic in consumption, isoelastic disutility of labour)::

    u = (c^(1 - eta) - 1) / (1 - eta) - psi * h^(1 + 1/eps) / (1 + 1/eps),   c = (z - T(z) + transfer) / 1000

with ``c`` in thousands of dollars a year, ``eta`` the curvature (log utility at 1) and ``eps``
the Frisch elasticity of labour supply; ``psi`` is set so that a median-skill worker without
taxes chooses ``reference_hours``. Social welfare is the mean utility of the workers
(utilitarian). Skills are lognormal, fitted to the US hourly wage distribution (BLS
Occupational Employment and Wage Statistics, May 2023: median about $23.1, 90th percentile
about $55.1, so ``sigma = ln(55.1/23.1) / 1.2816 = 0.68``).

Agent 0 is the planner: its ``set_taxes`` action proposes the marginal rates that apply from
the next year; it observes the welfare, revenue and output of the last year. Workers may
``vote`` on the planner every ``vote_every`` years; if fewer than half approve, the schedule
returns to the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.errors import ScenarioError
from populace.events import Events
from populace.measures import gini
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Column, Handler, Observations, World, WorldConfig, operation, worlds

PLANNER = 0
#: US federal income tax 2023, single filer: bracket lower thresholds ($/year) and marginal rates.
US_2023_THRESHOLDS = [0.0, 11_000.0, 44_725.0, 95_375.0, 182_100.0, 231_250.0, 578_125.0]
US_2023_RATES = [0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37]
BRACKETS = len(US_2023_RATES)
RATE_ARGS = tuple(f"rate_{k}" for k in range(BRACKETS))
#: the columns a worker reads to know its own problem: its preferences and the schedule
SCHEDULE = ("eta", "frisch", "psi", "max_hours", *(f"threshold_{k}" for k in range(BRACKETS)), *RATE_ARGS)


class EconomyConfig(WorldConfig):
    skill_median: float = Field(23.1, gt=0, description="median hourly skill ($)")
    skill_sigma: float = Field(0.68, ge=0, description="sigma of log skill")
    eta: float = Field(0.5, ge=0, description="curvature of utility in consumption (1: log)")
    frisch: float = Field(0.5, gt=0, description="Frisch elasticity of labour supply")
    reference_hours: float = Field(40.0, gt=0, description="hours a median worker chooses without taxes")
    max_hours: float = Field(80.0, gt=0, description="most weekly hours a worker may choose")
    thresholds: list[float] = Field(US_2023_THRESHOLDS, min_length=BRACKETS, max_length=BRACKETS,
                                    description="lower income threshold of each bracket ($/year), increasing")
    baseline_rates: list[float] = Field(US_2023_RATES, min_length=BRACKETS, max_length=BRACKETS,
                                        description="the fixed baseline schedule's marginal rates")
    vote_every: int = Field(0, ge=0, description="years between votes on the planner; 0: no voting")

    @model_validator(mode="after")
    def _check(self) -> EconomyConfig:
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)) or self.thresholds[0] != 0:
            raise ValueError("thresholds must start at 0 and increase")
        if any(not 0 <= r <= 1 for r in self.baseline_rates):
            raise ValueError("baseline_rates must lie between 0 and 1")
        return self


def tax(income: np.ndarray, thresholds: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Tax owed on ``income`` under a piecewise-linear marginal schedule."""
    upper = np.r_[thresholds[1:], np.inf]
    taxed = np.clip(income[..., None] - thresholds, 0, upper - thresholds)
    return np.asarray(taxed @ rates)


class Economy:
    """The household problem shared by the world (welfare) and the rules workers (best response)."""

    def __init__(self, thresholds: np.ndarray, eta: float, frisch: float, psi: float, max_hours: float) -> None:
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.eta, self.frisch, self.psi, self.max_hours = eta, frisch, psi, max_hours

    @classmethod
    def from_config(cls, cfg: EconomyConfig) -> Economy:
        """``psi`` from the first-order condition of the untaxed median worker at ``reference_hours``."""
        c_ref = 52 * cfg.skill_median * cfg.reference_hours / 1000
        psi = (52 * cfg.skill_median / 1000) * c_ref ** -cfg.eta / cfg.reference_hours ** (1 / cfg.frisch)
        return cls(np.asarray(cfg.thresholds), cfg.eta, cfg.frisch, psi, cfg.max_hours)

    @classmethod
    def from_observation(cls, obs: Observations, i: int) -> Economy:
        """The problem as agent ``obs.agents[i]`` sees it."""
        thresholds = np.asarray([obs[f"threshold_{k}"][i] for k in range(BRACKETS)])
        return cls(thresholds, float(obs["eta"][i]), float(obs["frisch"][i]), float(obs["psi"][i]),
                   float(obs["max_hours"][i]))

    def utility(self, consumption: np.ndarray, hours: np.ndarray) -> np.ndarray:
        eta, k = self.eta, 1 + 1 / self.frisch
        c = np.maximum(np.asarray(consumption) / 1000, 1e-6)
        u_c = np.log(c) if abs(eta - 1) < 1e-9 else (c ** (1 - eta) - 1) / (1 - eta)
        return np.asarray(u_c - self.psi * np.asarray(hours) ** k / k)

    def consumption(self, skill: np.ndarray, hours: np.ndarray, rates: np.ndarray, transfer: float) -> np.ndarray:
        income = 52 * skill * hours
        return np.asarray(income - tax(income, self.thresholds, rates) + transfer)

    def best_hours(self, skill: np.ndarray, rates: np.ndarray, transfer: float, step: float = 0.5) -> np.ndarray:
        """Each worker's utility-maximising weekly hours, by grid search (exact up to ``step``)."""
        grid = np.arange(0, self.max_hours + step / 2, step)
        best = np.zeros(len(skill))
        for start in range(0, len(skill), 4096):  # chunks bound the memory of the skill x hours table
            s = skill[start:start + 4096, None]
            u = self.utility(self.consumption(s, grid[None, :], rates, transfer), grid[None, :])
            best[start:start + 4096] = grid[np.argmax(u, axis=1)]
        return best


class EconomyWorld(World[EconomyConfig]):
    name = "economy"
    Config = EconomyConfig
    actions = ActionSpace(
        ActionSpec("work", {"hours": Arg.number(ge=0, le=168, description="weekly hours this year")},
                   "work this many hours a week this year"),
        ActionSpec("set_taxes", {name: Arg.number(ge=0, le=1, description=f"marginal rate of bracket {k}")
                                 for k, name in enumerate(RATE_ARGS)},
                   "the planner: set next year's marginal tax rate of every bracket"),
        ActionSpec("vote", {"approve": Arg.boolean("keep the planner's schedule")}, "vote on the planner"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "output": "mean pre-tax income of workers ($/year)",
        "revenue": "mean tax paid per worker ($/year)",
        "welfare": "mean worker utility (see the module docstring for the utility)",
        "baseline_welfare": "welfare the fixed baseline schedule gives with the same hours",
        "income_gini": "Gini coefficient of pre-tax income",
        "post_tax_gini": "Gini coefficient of consumption (after tax and transfer)",
        "mean_hours": "mean weekly hours worked",
        "top_rate": "marginal rate of the top bracket",
        "mean_rate": "mean of the bracket rates",
        "approval": "share of votes approving the planner at the last vote",
    }
    observation = (
        Column("planner", "bool", "the planner (agent 0), who sets taxes and does not work"),
        Column("skill", "float64", "own hourly skill ($)"),
        Column("hours", "float64", "own weekly hours worked"),
        Column("transfer", "float64", "the lump-sum transfer each worker got last year ($/year)"),
        Column("baseline_transfer", "float64", "the transfer the baseline schedule would have paid ($/year)"),
        Column("welfare", "float64", "mean worker utility last year"),
        Column("revenue", "float64", "mean tax paid per worker last year ($/year)"),
        Column("output", "float64", "mean pre-tax income of workers last year ($/year)"),
        Column("voting", "bool", "whether this year workers vote on the planner"),
        Column("eta", "float64", "curvature of utility in consumption"),
        Column("frisch", "float64", "Frisch elasticity of labour supply"),
        Column("psi", "float64", "weight of the disutility of work"),
        Column("max_hours", "float64", "most weekly hours a worker may choose"),
        *(column for k in range(BRACKETS) for column in (
            Column(f"threshold_{k}", "float64", f"lower income threshold of bracket {k} ($/year)"),
            Column(RATE_ARGS[k], "float64", f"current marginal rate of bracket {k}"),
        )),
        Column("baseline_rates", "object", "the baseline schedule's marginal rates, a tuple"),
    )

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        cfg = self.config
        assert isinstance(cfg, EconomyConfig)
        n = self.n_agents
        self.economy = Economy.from_config(cfg)
        if "skill" in self.population:
            self.skill = np.asarray(self.population["skill"], dtype=np.float64).copy()
        else:
            self.skill = self.rng.lognormal(np.log(cfg.skill_median), cfg.skill_sigma, n)
        self.skill[PLANNER] = 0.0
        if "role" not in self.population:
            self.population["role"] = np.where(np.arange(n) == PLANNER, "planner", "worker").astype(object)
        self.baseline = np.asarray(cfg.baseline_rates, dtype=np.float64)
        self.rates = self.baseline.copy()
        self.pending: np.ndarray | None = None
        self.hours = np.full(n, cfg.reference_hours)
        self.hours[PLANNER] = 0.0
        self.transfer = self.baseline_transfer = 0.0
        self.votes: list[np.ndarray] = []
        self.last: dict[str, float] = {k: 0.0 for k in self.metric_descriptions}
        self.last["approval"] = 1.0  # no vote yet
        self.last["top_rate"], self.last["mean_rate"] = float(self.rates[-1]), float(self.rates.mean())

    def observe(self, agent_ids: np.ndarray) -> Observations:
        k = len(agent_ids)
        columns: dict[str, np.ndarray] = {
            "planner": agent_ids == PLANNER,
            "skill": self.skill[agent_ids],
            "hours": self.hours[agent_ids],
            "transfer": np.full(k, self.transfer),
            "baseline_transfer": np.full(k, self.baseline_transfer),
            "welfare": np.full(k, self.last["welfare"]),
            "revenue": np.full(k, self.last["revenue"]),
            "output": np.full(k, self.last["output"]),
            "voting": np.full(k, self._voting_year()),
        }
        cfg = self.config
        assert isinstance(cfg, EconomyConfig)
        # every worker knows its own preferences and the schedule (thresholds and rates)
        for name, value in (("eta", cfg.eta), ("frisch", cfg.frisch), ("psi", self.economy.psi),
                            ("max_hours", cfg.max_hours)):
            columns[name] = np.full(k, value)
        for k_, (threshold, rate) in enumerate(zip(self.economy.thresholds, self.rates, strict=True)):
            columns[f"threshold_{k_}"] = np.full(k, threshold)
            columns[RATE_ARGS[k_]] = np.full(k, rate)
        columns["baseline_rates"] = np.empty(k, dtype=object)
        columns["baseline_rates"][:] = [tuple(self.baseline)] * k
        return Observations(agent_ids, columns)

    def _voting_year(self) -> bool:
        every = self.config.vote_every
        return bool(every) and (self.step + 1) % every == 0

    def handlers(self) -> Mapping[str, Handler]:
        return {"work": self._work, "set_taxes": self._set_taxes, "vote": self._vote}

    def _work(self, actions: Actions) -> Events:
        hours = actions.args["hours"]
        max_hours = self.config.max_hours
        planner = actions.agents == PLANNER
        too_many = hours > max_hours
        ok = ~planner & ~too_many
        self.hours[actions.agents[ok]] = hours[ok]
        reason = np.where(planner, "the planner does not work", f"more than {max_hours:g} hours a week")
        return Events.outcomes(actions, ok, reason)

    def _set_taxes(self, actions: Actions) -> Events:
        ok = actions.agents == PLANNER
        if ok.any():
            last = np.flatnonzero(ok)[-1]
            self.pending = np.asarray([actions.args[name][last] for name in RATE_ARGS], dtype=np.float64)
        return Events.outcomes(actions, ok, "only the planner (agent 0) sets taxes")

    def _vote(self, actions: Actions) -> Events:
        planner = actions.agents == PLANNER
        ok = ~planner & self._voting_year()
        self.votes.append(actions.args["approve"][ok])
        reason = np.where(planner, "the planner does not vote", "no vote this year")
        return Events.outcomes(actions, ok, reason)

    def tick(self) -> list[Events]:
        workers = np.arange(self.n_agents) != PLANNER
        skill, hours = self.skill[workers], self.hours[workers]
        income = 52 * skill * hours
        owed = tax(income, self.economy.thresholds, self.rates)
        transfer = float(owed.mean()) if len(owed) else 0.0
        consumption = income - owed + transfer
        base_owed = tax(income, self.economy.thresholds, self.baseline)
        base_consumption = income - base_owed + (float(base_owed.mean()) if len(owed) else 0.0)
        self.transfer, self.baseline_transfer = transfer, float(base_owed.mean()) if len(owed) else 0.0
        self.last.update({
            "output": float(income.mean()) if len(income) else 0.0, "revenue": transfer,
            "welfare": float(self.economy.utility(consumption, hours).mean()) if len(income) else 0.0,
            "baseline_welfare": float(self.economy.utility(base_consumption, hours).mean()) if len(income) else 0.0,
            "income_gini": gini(income), "post_tax_gini": gini(np.maximum(consumption, 0)),
            "mean_hours": float(hours.mean()) if len(hours) else 0.0,
        })
        events: list[Events] = []
        if self.votes:
            ballots = np.concatenate(self.votes)
            self.votes = []
            self.last["approval"] = float(ballots.mean()) if len(ballots) else 1.0
            if len(ballots) and self.last["approval"] < 0.5:
                self.pending = self.baseline.copy()
                events.append(Events.world("planner_voted_out", approval=self.last["approval"]))
        if self.pending is not None:
            self.rates, self.pending = self.pending, None
        self.last["top_rate"], self.last["mean_rate"] = float(self.rates[-1]), float(self.rates.mean())
        return events

    def metrics(self) -> dict[str, float]:
        return dict(self.last)

    @operation
    def set_schedule(self, rates: list[float]) -> Events:
        """Impose a schedule (e.g. a reform) from the scenario: one marginal rate per bracket."""
        if len(rates) != BRACKETS or any(not 0 <= r <= 1 for r in rates):
            raise ScenarioError(f"set_schedule: give {BRACKETS} rates between 0 and 1, got {rates}")
        self.rates = np.asarray(rates, dtype=np.float64)
        return Events.world("set_schedule", rates=",".join(f"{r:g}" for r in rates))


@policy("tax_worker", reads=("planner", *SCHEDULE, "skill", "transfer", "voting", "baseline_rates",
                            "baseline_transfer"))
def utility_max(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Workers choose the hours that maximise their utility under the current schedule and transfer;
    in voting years they approve when the schedule (with its transfer) beats the baseline (with the
    transfer the baseline would raise) for them."""
    workers = ~obs["planner"]
    if not workers.any():
        return []
    economy = Economy.from_observation(obs, 0)
    rates = np.asarray([obs[name][0] for name in RATE_ARGS])
    skill, transfer = obs["skill"][workers], float(obs["transfer"][0])
    hours = economy.best_hours(skill, rates, transfer)
    batches = [Actions("work", obs.agents[workers], {"hours": hours})]
    if obs["voting"][0]:
        mine = economy.utility(economy.consumption(skill, hours, rates, transfer), hours)
        base_rates = np.asarray(obs["baseline_rates"][0])
        base_transfer = float(obs["baseline_transfer"][0])
        base_hours = economy.best_hours(skill, base_rates, base_transfer)
        theirs = economy.utility(economy.consumption(skill, base_hours, base_rates, base_transfer), base_hours)
        batches.append(Actions("vote", obs.agents[workers], {"approve": mine >= theirs}))
    return batches


class HillClimbParams(PolicyParams):
    step: float = Field(0.05, ge=0, le=1, description="rate change per proposal")
    period: int = Field(2, ge=1, description="years between proposals")


@policy("tax_planner_hill_climb", HillClimbParams, reads=("planner", *RATE_ARGS, "welfare"))
def hill_climb(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """The planner nudges one bracket's rate every ``period`` years and keeps a nudge only if welfare rose.

    Params: ``step`` (rate change, default 0.05), ``period`` (years between proposals, default 2,
    so workers respond before welfare is judged).
    """
    planner = np.flatnonzero(obs["planner"])
    if len(planner) == 0:
        return []
    prm = mind.settings(HillClimbParams)
    step, period = prm.step, prm.period
    if obs.step % period != period - 1:
        return []
    i = planner[0]
    rates = np.asarray([obs[name][i] for name in RATE_ARGS])
    welfare = float(obs["welfare"][i])
    state: dict[str, Any] = mind.policy_state("hill_climb", lambda: {"best": -np.inf, "best_rates": rates, "trial": 0})
    if welfare > state["best"]:
        state["best"], state["best_rates"] = welfare, rates  # the last nudge helped (or first look)
    else:
        rates = state["best_rates"]
    trial = state["trial"]
    state["trial"] += 1
    bracket, sign = (trial // 2) % BRACKETS, (1 if trial % 2 == 0 else -1)
    proposal = rates.copy()
    proposal[bracket] = float(np.clip(proposal[bracket] + sign * step, 0.0, 1.0))
    return [Actions("set_taxes", np.asarray([obs.agents[i]]), {n: np.asarray([proposal[k]])
                                                                for k, n in enumerate(RATE_ARGS)})]


@policy("tax_planner_fixed")
def fixed_schedule(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """The planner proposes nothing: the baseline schedule stays."""
    return []


worlds.add("economy", EconomyWorld)
