"""``populace estimate SCENARIO``: what a run will cost in model calls, tokens and time, from a pilot.

The pilot is the scenario's first few steps, run for real (a normal run in a temporary runs
directory, with its own response cache, so requests it repeats are answered from the cache as they
would be in the run). Each mind tier's calls, tokens and model seconds per step are divided by the
tier's *exposure*: the number of its agents the scheduler is expected to activate in that step (the
sum of their activity probabilities at that hour). The estimate for the whole run is what the pilot
spent plus that rate times the exposure of the steps after it, so a diurnal schedule's nights count
for less than its days. The interval takes the lowest and the highest per-step rate of the pilot
instead of their mean: it states how much the pilot's steps varied, not a probability. Wall time
is extrapolated the same way over every agent's exposure, leaving out the pilot's first step,
which loads models and warms caches.

What a pilot cannot see: costs that start later in a run (a reflection once enough has happened,
a world that asks different agents in a later scene) and the response cache answering more of
the run's requests as it fills (an archetype's groups repeat step after step), which makes later
steps cheaper than the first. Steps the pilot covers cost exactly what it measured.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from populace.errors import PopulaceError
from populace.scenario import Scenario, asks_model, load_scenario, mind_masks
from populace.simulation import Simulation, StepResult

#: the pilot's default length in steps
PILOT_STEPS = 5
#: the counters a tier's cost is made of (cumulative mind stats), and their names in the estimate
COUNTERS = {"calls": ("llm_calls",), "tokens": ("llm_tokens_in", "llm_tokens_out"), "model_seconds": ("llm_seconds",)}


@dataclass
class Interval:
    """An estimate and the range the pilot's per-step variation gives it."""

    estimate: float
    low: float
    high: float

    def text(self, unit: str = "") -> str:
        """``23 (15-45)``: counts rounded to whole numbers, seconds (``unit="s"``) as durations."""
        show = _seconds if unit == "s" else _count
        if show(self.low) == show(self.high):
            return show(self.estimate)
        return f"{show(self.estimate)} ({show(self.low)}-{show(self.high)})"

    def __str__(self) -> str:
        return self.text()


@dataclass
class TierCost:
    """One mind tier's predicted cost over the whole run."""

    tier: str  # ``minds.0 (generative)``
    agents: int
    calls: Interval
    tokens: Interval
    model_seconds: Interval


@dataclass
class Estimate:
    """A run's predicted cost, per mind tier and in all, from a pilot of its first steps."""

    scenario: str
    steps: int
    pilot_steps: int
    pilot_seconds: float
    tiers: list[TierCost]
    wall_seconds: Interval
    pilot_run: Path | None = None  # where the pilot was kept, if it was
    #: the pilot's measured spending per step, per tier and counter (for tests and the curious)
    measured: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def total(self, counter: str) -> Interval:
        """``calls``, ``tokens`` or ``model_seconds`` summed over tiers."""
        parts = [getattr(t, counter) for t in self.tiers]
        return Interval(sum(p.estimate for p in parts), sum(p.low for p in parts), sum(p.high for p in parts))


def extrapolate(spent: Sequence[float], exposure: Sequence[float], skip: int = 0) -> Interval:
    """The whole run's cost from the pilot's spending per step (``spent``, its first steps) and every
    step's exposure: what the pilot spent, plus its rate per unit of exposure (the ratio of sums,
    and the lowest and highest per-step ratio) times the exposure of the steps after it. ``skip``
    leaves the pilot's first steps out of the rate (they still count as spent)."""
    k = len(spent)
    done = float(sum(spent))
    rest = float(sum(exposure[k:]))
    used = [(s, e) for s, e in zip(spent[skip:], exposure[skip:k], strict=True) if e > 0]
    if not used or rest == 0:
        return Interval(done, done, done)
    rates = [s / e for s, e in used]
    mean = sum(s for s, _ in used) / sum(e for _, e in used)
    return Interval(done + mean * rest, done + min(rates) * rest, done + max(rates) * rest)


def exposure(sim: Simulation, owner: np.ndarray, tiers: int) -> np.ndarray:
    """Expected sessions (decisions) per step (rows) and mind tier (columns, ``-1``: none, left out):
    the sum of the tier's agents' expected sessions at each step's time."""
    counts = np.bincount(owner[owner >= 0], minlength=tiers).astype(np.float64)
    out = np.zeros((sim.scenario.steps, tiers))
    for step in range(sim.scenario.steps):
        p = sim.scheduler.expected_sessions(sim.clock.time(step))
        if np.ndim(p) == 0:
            out[step] = float(p) * counts
        else:
            out[step] = np.bincount(owner[owner >= 0], weights=np.asarray(p)[owner >= 0], minlength=tiers)
    return out


def estimate(source: str | Path | Scenario, overrides: Sequence[str] = (), pilot_steps: int = PILOT_STEPS,
             keep: Path | None = None, progress: Callable[[int, int], None] | None = None) -> Estimate:
    """Run a pilot of ``pilot_steps`` steps (in ``keep``, a runs directory, where it stays as a
    paused run; by default in a temporary one) and extrapolate its costs to the whole scenario."""
    if pilot_steps < 1:
        raise PopulaceError(f"--pilot-steps {pilot_steps}: give at least 1")
    scenario = source if isinstance(source, Scenario) else load_scenario(source, list(overrides))
    if scenario.budget is not None:  # the pilot measures the run as it would go without caps
        scenario = scenario.model_copy(update={"budget": None})
    pilot = min(pilot_steps, scenario.steps)
    where = keep if keep is not None else Path(tempfile.mkdtemp(prefix="populace-pilot-"))
    try:
        sim = Simulation.from_scenario(scenario, runs_dir=where)
        owner = _tier_of_agents(sim)
        tiers = len(scenario.minds)
        names = [f"minds.{i} ({spec.type})" for i, spec in enumerate(scenario.minds)]
        per_step: list[np.ndarray] = []  # steps x tiers x counters, cumulative

        def measure(result: StepResult) -> None:
            per_step.append(_spent_by_tier(sim, tiers))
            if progress is not None:
                progress(result.step + 1, pilot)

        started = time.perf_counter()
        sim.run(steps=pilot, progress=measure)
        seconds = time.perf_counter() - started
        walls = sim.trace.read("steps").to_pandas()["wall_s"].astype(float).tolist()
    finally:
        if keep is None:
            shutil.rmtree(where, ignore_errors=True)
    spent = np.diff(np.concatenate([np.zeros((1, tiers, len(COUNTERS))), np.asarray(per_step)]), axis=0)
    exposed = exposure(sim, owner, tiers)
    costs, measured = [], {}
    for t in range(tiers):
        by_counter = {name: extrapolate(spent[:, t, c].tolist(), exposed[:, t].tolist())
                      for c, name in enumerate(COUNTERS)}
        costs.append(TierCost(names[t], int((owner == t).sum()), **by_counter))
        measured[names[t]] = {name: spent[:, t, c].tolist() for c, name in enumerate(COUNTERS)}
    wall = extrapolate(walls, exposed.sum(axis=1).tolist(), skip=1 if pilot > 1 else 0)
    return Estimate(scenario.name, scenario.steps, pilot, seconds, costs, wall,
                    sim.path if keep is not None else None, measured)


def _tier_of_agents(sim: Simulation) -> np.ndarray:
    """Each agent's mind tier (the first whose selector picks it), ``-1`` for none."""
    owner = np.full(sim.population.size, -1, dtype=np.int64)
    for tier, mask in enumerate(mind_masks(sim.scenario, sim.population)):
        owner[(owner < 0) & mask] = tier
    return owner


def _spent_by_tier(sim: Simulation, tiers: int) -> np.ndarray:
    """Cumulative calls, tokens and model seconds of each tier's minds so far (tiers x counters). A
    partitioned world's minds live in its regions: their sum is put on the first tier that asks a model."""
    out = np.zeros((tiers, len(COUNTERS)))
    if sim.regions:
        asking = [i for i, spec in enumerate(sim.scenario.minds) if asks_model(spec.type)]
        stats = [(asking[0] if asking else 0, sim.executor.stats())]
    else:
        stats = [(tier, mind.stats()) for tier, mind in zip(sim.mind_tier, sim.minds, strict=True)]
    for tier, counters in stats:
        for c, keys in enumerate(COUNTERS.values()):
            out[tier, c] += sum(float(counters.get(key, 0)) for key in keys)
    return out


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _seconds(value: float) -> str:
    """``0.42 s``, ``12 s``, ``3 min 05 s``."""
    from populace.progress import duration

    return f"{value:.2g} s" if value < 10 else duration(value)
