"""The epidemic world: SEIR(M) over household, work and community layers, with behaviour.

After AgentTorch's COVID-19 model of New York City. Each step is one day. Every agent may
choose ``go_out`` (its routine: work, if it has a job and the workplace is open, and normal
community contacts), ``stay_home`` (no workplace, reduced community contact) or ``isolate``
(household contacts only); an agent who chooses nothing keeps its routine. Observations are
small integer codes (labels in :data:`OBSERVATION_LABELS`) so a grouped mind can form its groups
cheaply: age group, occupation, employment, the city's case level, symptoms, a positive test
and tight savings give a few dozen distinct groups per day.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpace, ActionSpec
from populace.errors import ScenarioError
from populace.events import Events
from populace.regions import REGIONS, RegionalWorld, apportion
from populace.world import Column, Handler, Observations, WorldConfig, operation

from .census import AGE_GROUPS, OCCUPATIONS, CensusConfig, synthesize
from .disease import DEAD, EXPOSED, INFECTIOUS, RECOVERED, SUSCEPTIBLE, DiseaseConfig, durations, layer_pressure
from .livelihood import Livelihood, LivelihoodConfig

ROUTINE, GO_OUT, STAY_HOME, ISOLATE = 0, 1, 2, 3
STAGES = {"susceptible": SUSCEPTIBLE, "exposed": EXPOSED, "infectious": INFECTIOUS, "recovered": RECOVERED,
          "dead": DEAD}
CASE_LEVELS = ("none", "low", "moderate", "high", "very high")

#: What the integer codes of the observation columns mean, for prompts and reports.
OBSERVATION_LABELS: dict[str, tuple[str, ...]] = {
    "age_group": AGE_GROUPS,
    "occupation": OCCUPATIONS,
    "case_level": CASE_LEVELS,
}


class BehaviourConfig(WorldConfig):
    stay_home_contact: float = Field(0.4, ge=0, le=1, description="community contact kept when staying home")
    case_thresholds: list[float] = Field(
        [5.0, 50.0, 200.0, 600.0], min_length=4, max_length=4,
        description="weekly reported cases per 100k at which the case level rises (low, moderate, high, very high)",
    )


class EpidemicConfig(WorldConfig):
    census: CensusConfig = Field(default_factory=CensusConfig)
    disease: DiseaseConfig = Field(default_factory=DiseaseConfig)
    livelihood: LivelihoodConfig = Field(default_factory=LivelihoodConfig)
    behaviour: BehaviourConfig = Field(default_factory=BehaviourConfig)
    testing_rate: float = Field(0.0, ge=0, le=1, description="daily chance an infectious agent tests positive")
    region_mixing: float = Field(
        0.1, ge=0, le=1,
        description="in a partitioned city (world.partitions > 1), the share of community contact made with "
                    "the whole city (at yesterday's city-wide prevalence) rather than within the region",
    )


class EpidemicWorld(RegionalWorld[EpidemicConfig]):
    """SEIR(M) with behaviour; partitions by region (each region its own households, workplaces
    and neighbourhoods; regions meet through city-wide prevalence and share the case level)."""

    name = "epidemic"
    step_length = timedelta(days=1)  # incubation, infectious periods and contact rates are per day
    Config = EpidemicConfig
    actions = ActionSpace(
        ActionSpec("go_out", {}, "follow the routine: go to work if employed and open, meet people as usual"),
        ActionSpec("stay_home", {}, "skip work and meet fewer people today"),
        ActionSpec("isolate", {}, "stay away from everyone outside the household today"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "susceptible": "share of agents susceptible",
        "exposed": "share of agents infected but not yet infectious",
        "infectious": "share of agents infectious",
        "recovered": "share of agents recovered",
        "dead": "share of agents who died",
        "attack_rate": "share of agents ever infected",
        "new_infections": "agents infected today",
        "new_cases": "cases reported today (symptom onsets and positive tests)",
        "weekly_cases_per_100k": "reported cases in the last 7 days per 100,000 agents",
        "at_work": "share of employed agents at their workplace today",
        "staying_home": "share of living agents who stayed home today",
        "isolating": "share of living agents who isolated today",
        "unemployment": "share of agents with an occupation who have lost their job",
        "income_per_worker": "income earned today per agent with an occupation",
        "mean_savings": "mean savings of adults",
        "stimulus_paid": "stimulus paid so far",
        "lockdown": "1 while a lockdown is in force",
    }
    observation = (
        Column("age_group", "int8", "index of one's age group: 0-17, 18-29, 30-49, 50-64, 65+"),
        Column("occupation", "int8", "index of one's occupation: none, essential, office, service"),
        Column("employed", "bool", "has a job"),
        Column("case_level", "int8", "reported cases, 0 (none) to 4 (very high)"),
        Column("symptoms", "bool", "infectious with symptoms"),
        Column("tested_positive", "bool", "infectious and tested positive"),
        Column("savings_tight", "bool", "an adult whose savings cover few days of expenses"),
        Column("alive", "bool", "alive"),
    )

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        cfg = self.config
        assert isinstance(cfg, EpidemicConfig)
        n = self.n_agents
        census_rng, disease_rng, money_rng, self.day_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(self.rng.integers(2**63)).spawn(4)
        )
        self.census = synthesize(n, cfg.census, census_rng)
        c = self.census
        for column, labels, codes in (("age_group", AGE_GROUPS, c.age), ("occupation", OCCUPATIONS, c.occupation)):
            if column not in self.population:  # so scenario selectors can name them
                self.population[column] = np.asarray(labels, dtype=object)[codes]
        self.work_group = (c.workplace + 1).astype(np.int32)  # group 0: no workplace, never present
        self.stage = np.full(n, SUSCEPTIBLE, dtype=np.int8)
        self.timer = np.zeros(n, dtype=np.int16)
        self.symptomatic = np.zeros(n, dtype=bool)
        self.tested = np.zeros(n, dtype=bool)
        self.choice = np.full(n, ROUTINE, dtype=np.int8)
        self.ever_infected = 0
        dis = cfg.disease
        k = int(dis.initial_infected if dis.initial_infected >= 1 else round(dis.initial_infected * n))
        seeds = disease_rng.choice(n, size=min(max(k, 0), n), replace=False)
        self._infect(seeds, disease_rng, stage=INFECTIOUS)
        self.money = Livelihood(c.occupation, c.age >= 1, cfg.livelihood, money_rng)
        self.open_sector = np.ones(len(OCCUPATIONS), dtype=bool)
        self.community_factor = 1.0
        self.testing_rate = cfg.testing_rate
        self.recent_cases: deque[int] = deque([0] * 7, maxlen=7)
        self.today = {"new_infections": 0, "new_cases": 0, "at_work": 0, "employed": 0, "staying_home": 0,
                      "isolating": 0, "living": n, "community_infectious": 0.0, "community_present": 0.0}
        self.city: dict[str, float] | None = None  # every region's tallies, where this is one region

    def _infect(self, ids: np.ndarray, rng: np.random.Generator, stage: int = EXPOSED) -> None:
        dis = self.config.disease
        self.stage[ids] = stage
        mean = dis.exposed_days if stage == EXPOSED else dis.infectious_days
        self.timer[ids] = durations(mean, dis.duration_shape, len(ids), rng)
        if stage == INFECTIOUS:
            self.symptomatic[ids] = rng.random(len(ids)) < dis.symptomatic_share
        self.ever_infected += len(ids)

    # -- agents ------------------------------------------------------------------------------
    def case_level(self) -> int:
        """The city's case level (index into CASE_LEVELS) from last week's reported cases."""
        if self.city is None:
            per_100k = sum(self.recent_cases) * 1e5 / max(self.n_agents, 1)
        else:
            per_100k = self.city["recent_cases"] * 1e5 / max(self.city["agents"], 1)
        thresholds = self.config.behaviour.case_thresholds
        return int(np.searchsorted(np.asarray(thresholds), per_100k, side="right"))

    def observe(self, agent_ids: np.ndarray) -> Observations:
        c, stage = self.census, self.stage[agent_ids]
        return Observations(agent_ids, {
            "age_group": c.age[agent_ids],
            "occupation": c.occupation[agent_ids],
            "employed": self.money.employed[agent_ids],
            "case_level": np.full(len(agent_ids), self.case_level(), dtype=np.int8),
            "symptoms": self.symptomatic[agent_ids] & (stage == INFECTIOUS),
            "tested_positive": self.tested[agent_ids] & (stage == INFECTIOUS),
            "savings_tight": self.money.tight()[agent_ids],
            "alive": stage != DEAD,
        })

    def handlers(self) -> Mapping[str, Handler]:
        return {"go_out": self._go_out, "stay_home": self._choose(STAY_HOME), "isolate": self._choose(ISOLATE)}

    def _go_out(self, actions: Actions) -> Events:
        who = actions.agents
        stage = self.stage[who]
        dead = stage == DEAD
        quarantined = self.tested[who] & (stage == INFECTIOUS)
        ok = ~dead & ~quarantined
        self.choice[who[ok]] = GO_OUT
        if ok.all():
            return Events.accepted(actions)
        reason = np.empty(len(who), dtype=object)
        reason[quarantined] = "in quarantine after a positive test"
        reason[dead] = "has died"
        return Events.outcomes(actions, ok, reason)

    def _choose(self, choice: int) -> Handler:
        def handle(actions: Actions) -> Events:
            alive = self.stage[actions.agents] != DEAD
            self.choice[actions.agents[alive]] = choice
            return Events.accepted(actions) if alive.all() else Events.outcomes(actions, alive, "has died")
        return handle

    # -- the day's dynamics ------------------------------------------------------------------
    def tick(self) -> list[Events]:
        cfg = self.config
        assert isinstance(cfg, EpidemicConfig)
        c, rng = self.census, self.day_rng
        alive = self.stage != DEAD
        infectious = self.stage == INFECTIOUS
        choice = np.where(self.tested & infectious, np.int8(ISOLATE), self.choice)
        outside = alive & (choice <= GO_OUT)
        at_work = outside & self.money.employed & self.open_sector[c.occupation]
        contact = np.asarray([1.0, 1.0, cfg.behaviour.stay_home_contact, 0.0], dtype=np.float32)
        community = contact[choice] * np.float32(self.community_factor) * alive

        # Transmission: hazards from the infectious present in each of an agent's groups.
        beta = cfg.disease.betas()
        layers = (
            ("household", c.household, c.n_households, alive),
            ("work", self.work_group, c.n_workplaces + 1, at_work),
            ("community", c.neighbourhood, c.n_neighbourhoods, community),
        )
        susceptible = np.flatnonzero(self.stage == SUSCEPTIBLE)
        infectious_ids = np.flatnonzero(infectious)
        hazard = np.zeros(len(susceptible), dtype=np.float32)
        for layer, groups, n_groups, present in layers:
            if beta[layer] <= 0:
                continue
            pressure = layer_pressure(groups, n_groups, present, infectious_ids)
            weight = present[susceptible] if present.dtype != bool else present[susceptible].astype(np.float32)
            if layer == "community" and self.city is not None:  # a region of a partitioned city
                mixing = np.float32(cfg.region_mixing)
                city = self.city["community_infectious"] / max(self.city["community_present"], 1.0)
                pressure = (1 - mixing) * pressure + mixing * np.float32(city)
            hazard += np.float32(beta[layer]) * pressure[groups[susceptible]] * weight
        caught = susceptible[rng.random(len(susceptible), dtype=np.float32) < -np.expm1(-hazard)]

        # Progression of those already infected, then the newly infected start their latent stage.
        running = np.flatnonzero((self.stage == EXPOSED) | infectious)
        self.timer[running] -= 1
        done = running[self.timer[running] <= 0]
        onset = done[self.stage[done] == EXPOSED]
        ending = done[self.stage[done] == INFECTIOUS]
        self.stage[onset] = INFECTIOUS
        self.timer[onset] = durations(cfg.disease.infectious_days, cfg.disease.duration_shape, len(onset), rng)
        self.symptomatic[onset] = rng.random(len(onset)) < cfg.disease.symptomatic_share
        fatality = np.asarray(cfg.disease.fatality, dtype=np.float32)[c.age[ending]]
        self.stage[ending] = np.where(rng.random(len(ending)) < fatality, DEAD, RECOVERED).astype(np.int8)
        self.tested[ending] = False
        self._infect(caught, rng)

        # Reported cases: symptom onsets, plus infectious agents found by testing.
        cases = int(np.count_nonzero(self.symptomatic[onset]))
        if self.testing_rate > 0:
            candidates = np.flatnonzero((self.stage == INFECTIOUS) & ~self.tested)
            found = candidates[rng.random(len(candidates)) < self.testing_rate]
            self.tested[found] = True
            cases += int(np.count_nonzero(~self.symptomatic[found]))
        self.recent_cases.append(cases)

        self.money.update(at_work, choice >= STAY_HOME, self.open_sector, alive, rng)
        self.today = {
            "new_infections": len(caught), "new_cases": cases,
            "at_work": int(np.count_nonzero(at_work)), "employed": int(np.count_nonzero(self.money.employed)),
            "staying_home": int(np.count_nonzero(alive & (choice == STAY_HOME))),
            "isolating": int(np.count_nonzero(alive & (choice == ISOLATE))), "living": int(np.count_nonzero(alive)),
            "community_infectious": float(community[infectious_ids].sum(dtype=np.float64)),
            "community_present": float(community.sum(dtype=np.float64)),
        }
        self.choice[:] = ROUTINE
        return []

    def tallies(self) -> dict[str, float]:
        counts = np.bincount(self.stage, minlength=5)
        workers = self.census.occupation > 0
        adults = self.money.adult
        return {
            "agents": float(self.n_agents), **{k: float(v) for k, v in self.today.items()},
            **{name: float(counts[stage]) for name, stage in STAGES.items()},
            "ever_infected": float(self.ever_infected), "recent_cases": float(sum(self.recent_cases)),
            "workers": float(np.count_nonzero(workers)),
            "unemployed": float(np.count_nonzero(workers & ~self.money.employed)),
            "income_today": float(self.money.income_today), "adults": float(np.count_nonzero(adults)),
            "savings": float(self.money.savings[adults].sum(dtype=np.float64)),
            "stimulus_paid": float(self.money.stimulus_paid),
            "lockdown": float(not self.open_sector[1:].all() or self.community_factor < 1.0),
        }

    @classmethod
    def metrics_of(cls, tallies: Mapping[str, float]) -> dict[str, float]:
        t, n = tallies, max(tallies["agents"], 1.0)
        workers = max(t["workers"], 1.0)
        return {
            **{name: t[name] / n for name in STAGES}, "attack_rate": t["ever_infected"] / n,
            "new_infections": t["new_infections"], "new_cases": t["new_cases"],
            "weekly_cases_per_100k": t["recent_cases"] * 1e5 / n,
            "at_work": t["at_work"] / max(t["employed"], 1.0),
            "staying_home": t["staying_home"] / max(t["living"], 1.0),
            "isolating": t["isolating"] / max(t["living"], 1.0),
            "unemployment": t["unemployed"] / workers, "income_per_worker": t["income_today"] / workers,
            "mean_savings": t["savings"] / t["adults"] if t["adults"] else 0.0,
            "stimulus_paid": t["stimulus_paid"], "lockdown": t["lockdown"] / t[REGIONS],
        }

    def hear(self, city: Mapping[str, float]) -> None:
        self.city = dict(city)

    @classmethod
    def region_params(cls, params: Mapping[str, Any], sizes: Sequence[int]) -> list[dict[str, Any]]:
        """A number of initially infected is shared out over regions in proportion to their size."""
        seeds = EpidemicConfig.model_validate(params).disease.initial_infected
        if seeds < 1:  # a share applies to every region as it is
            return super().region_params(params, sizes)
        disease = dict(params.get("disease", {}))
        return [{**params, "disease": {**disease, "initial_infected": int(k)}} for k in apportion(int(seeds), sizes)]

    @classmethod
    def region_args(cls, operation: str, args: Mapping[str, Any], sizes: Sequence[int]) -> list[dict[str, Any]]:
        """Imported cases are shared out over regions in proportion to their size; the rest apply everywhere."""
        if operation != "import_cases":
            return super().region_args(operation, args, sizes)
        return [{**args, "count": int(k)} for k in apportion(int(args.get("count", 0)), sizes)]

    # -- interventions -----------------------------------------------------------------------
    @operation
    def lockdown(self, close: list[str] | None = None, community: float = 0.5) -> Events:
        """Close the workplaces of the given sectors (default office and service) and scale
        community contact by ``community``."""
        close = ["office", "service"] if close is None else close
        unknown = [s for s in close if s not in OCCUPATIONS[1:]]
        if unknown:
            raise ScenarioError(f"lockdown: unknown sector {unknown[0]!r}; expected {', '.join(OCCUPATIONS[1:])}")
        for sector in close:
            self.open_sector[OCCUPATIONS.index(sector)] = False
        self.community_factor = float(community)
        return Events.world("lockdown", close=",".join(close), community=community)

    @operation
    def reopen(self) -> Events:
        """Lift a lockdown: every workplace opens and community contact returns to normal."""
        self.open_sector[:] = True
        self.community_factor = 1.0
        return Events.world("reopen")

    @operation
    def testing(self, rate: float) -> Events:
        """Test: each infectious agent is found with daily probability ``rate`` and quarantined."""
        self.testing_rate = min(1.0, max(0.0, float(rate)))
        return Events.world("testing", rate=self.testing_rate)

    @operation
    def stimulus(self, amount: float, to: str = "adults") -> Events:
        """Pay ``amount`` to every living adult (``to: adults``) or only to the unemployed."""
        alive = self.stage != DEAD
        who = self.money.adult & alive
        if to == "unemployed":
            who &= (self.census.occupation > 0) & ~self.money.employed
        elif to != "adults":
            raise ScenarioError(f"stimulus: to={to!r} is not accepted; expected 'adults' or 'unemployed'")
        total = self.money.pay(amount, who)
        return Events.world("stimulus", amount=amount, recipients=int(np.count_nonzero(who)), total=total)

    @operation
    def import_cases(self, count: int) -> Events:
        """Infect ``count`` random susceptible agents (travellers bringing the disease in)."""
        susceptible = np.flatnonzero(self.stage == SUSCEPTIBLE)
        chosen = self.day_rng.choice(susceptible, size=min(int(count), len(susceptible)), replace=False)
        self._infect(chosen, self.day_rng)
        return Events.world("import_cases", count=len(chosen))
