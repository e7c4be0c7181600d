"""Who acts in a step: per-agent, per-hour activity probabilities, and in what order.

An activity profile holds 24 probabilities, one per hour of the day, that an agent acts at
least once during that hour (the form OASIS measured from real platforms). Each agent's
probability is its profile value times its own ``activity`` scale (a population column, 1 by
default), capped at 1. As a Poisson process of sessions, the hour's probability ``p`` is the
rate ``-ln(1 - p)`` an hour, and a step of ``dt`` holds a session with chance
``1 - exp(-rate * dt)`` (:mod:`populace.clock`): ``p`` for an hour-long step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from populace.clock import hourly_rate, per_step_probability
from populace.population import Population

#: Built-in profiles. ``always``: every agent every step. ``diurnal``: a daytime-heavy shape
#: (low at night, peaks late morning and evening) for social scenarios; illustrative, not fitted.
PROFILES: dict[str, tuple[float, ...]] = {
    "always": (1.0,) * 24,
    "diurnal": (
        0.10, 0.06, 0.04, 0.03, 0.03, 0.05, 0.12, 0.25, 0.40, 0.50, 0.55, 0.60,
        0.62, 0.58, 0.52, 0.50, 0.52, 0.58, 0.65, 0.70, 0.68, 0.55, 0.35, 0.20,
    ),
}


class Scheduler:
    """Draws the active agents of each step and orders them."""

    def __init__(
        self, population: Population, profile: Sequence[float] | str = "always",
        step: timedelta = timedelta(hours=1), order: str = "simultaneous",
    ) -> None:
        values = PROFILES[profile] if isinstance(profile, str) else tuple(profile)
        if len(values) != 24 or not all(0.0 <= v <= 1.0 for v in values):
            raise ValueError("an activity profile needs 24 probabilities between 0 and 1")
        self.profile = np.asarray(values, dtype=np.float64)
        self.population = population
        self.step = step
        self.order = order
        self._always = bool(np.all(self.profile == 1.0)) and "activity" not in population

    def probabilities(self, time: datetime) -> np.ndarray | float:
        """Each agent's probability of acting in a step starting at ``time``."""
        p_hour = self.profile[time.hour]
        if "activity" in self.population:
            p_hour = np.minimum(1.0, p_hour * self.population["activity"])
        return per_step_probability(hourly_rate(p_hour), self.step)

    def active(self, time: datetime, rng: np.random.Generator) -> np.ndarray:
        """Ids of the agents who act in this step, in the order they act."""
        n = self.population.size
        ids = np.arange(n, dtype=np.int64) if self._always else np.flatnonzero(rng.random(n) < self.probabilities(time))
        if self.order == "sequential":
            ids = ids[rng.permutation(len(ids))]
        return ids
