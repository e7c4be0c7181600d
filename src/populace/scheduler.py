"""Who acts in a step: sessions in simulated time, from per-agent, per-hour activity, and in what order.

An activity profile holds 24 rates, one per hour of the day: how many sessions (a feed read, a
meeting, a trade) an agent has in that hour on average. Each agent's rate is its profile value
times its own ``activity`` scale (a population column, 1 by default). A step of ``dt`` holds
``rate * dt`` sessions on average: the whole part of it for sure and one more with the
fractional part as its chance (so a step that holds less than one session on average is a coin
flip with chance ``rate * dt``). The mean is exact at any step length and the spread the least
possible; as ``dt`` shrinks, the sessions become a Poisson process of that rate. Each session is
one observe/decide/apply turn: in a step, the agents' first sessions act together, then the
second sessions of those who have two, and so on. What an agent does in a session is per session,
so a run has the same sessions an hour at any step length and approximates one continuous-time
model, converging to it as ``dt`` shrinks (a coarse step only delays, to the end of the step,
what others see of a session).

The ``always`` profile is the round-based schedule of models whose step is a round (a game, a
fishing season) rather than a stretch of simulated time: every agent acts once every step (with
an ``activity`` column, in a step with that chance), whatever the step's length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from populace.clock import hours
from populace.population import Population

#: Built-in profiles, in sessions an hour. ``always``: every agent every step (rounds, not a rate).
#: ``steady``: one session an hour at any hour. ``diurnal``: a daytime-heavy shape (low at night,
#: peaks late morning and evening) for social scenarios; illustrative, not fitted.
PROFILES: dict[str, tuple[float, ...]] = {
    "always": (1.0,) * 24,
    "steady": (1.0,) * 24,
    "diurnal": (
        0.10, 0.06, 0.04, 0.03, 0.03, 0.05, 0.12, 0.25, 0.40, 0.50, 0.55, 0.60,
        0.62, 0.58, 0.52, 0.50, 0.52, 0.58, 0.65, 0.70, 0.68, 0.55, 0.35, 0.20,
    ),
}


class Scheduler:
    """Draws the sessions of each step and orders them."""

    def __init__(
        self, population: Population, profile: Sequence[float] | str = "always",
        step: timedelta = timedelta(hours=1), order: str = "simultaneous",
    ) -> None:
        values = PROFILES[profile] if isinstance(profile, str) else tuple(profile)
        if len(values) != 24 or not all(0.0 <= v < math.inf for v in values):
            raise ValueError("an activity profile needs 24 rates (sessions an hour), each 0 or more")
        self.profile = np.asarray(values, dtype=np.float64)
        self.population = population
        self.step = step
        self.order = order
        #: rounds: every agent in every step (``always``), not sessions at a rate
        self.rounds = profile == "always"

    def _activity(self) -> np.ndarray | float:
        return np.asarray(self.population["activity"], dtype=np.float64) if "activity" in self.population else 1.0

    def rates(self, time: datetime) -> np.ndarray | float:
        """Each agent's sessions per simulated hour in the hour of ``time`` (not for ``always``)."""
        return self.profile[time.hour] * self._activity()

    def expected_sessions(self, time: datetime) -> np.ndarray | float:
        """Each agent's mean number of sessions in a step starting at ``time``."""
        if self.rounds:
            return np.minimum(1.0, self._activity())
        return self.rates(time) * hours(self.step)

    def probabilities(self, time: datetime) -> np.ndarray | float:
        """Each agent's chance of at least one session in a step starting at ``time``."""
        return np.minimum(1.0, self.expected_sessions(time))

    def sessions(self, time: datetime, rng: np.random.Generator) -> list[np.ndarray]:
        """The step's sessions as rounds: round ``j`` holds the ids of the agents with more than ``j``
        sessions, in the order they act (shuffled within the round when the order is sequential).
        Round 0 is every agent active in the step."""
        n = self.population.size
        if self.rounds and "activity" not in self.population:
            rounds = [np.arange(n, dtype=np.int64)]
        else:
            mean = np.broadcast_to(self.expected_sessions(time), (n,))
            whole = np.floor(mean)
            count = whole + (rng.random(n) < mean - whole)
            rounds = [np.flatnonzero(count > j) for j in range(int(count.max(initial=0)))]
        if self.order == "sequential":
            rounds = [ids[rng.permutation(len(ids))] for ids in rounds]
        return rounds

    def active(self, time: datetime, rng: np.random.Generator) -> np.ndarray:
        """Ids of the agents with at least one session in this step (round 0 of :meth:`sessions`)."""
        rounds = self.sessions(time, rng)
        return rounds[0] if rounds else np.empty(0, dtype=np.int64)
