from __future__ import annotations

import math

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.measures import gini
from populace.worlds.wealth import WealthWorld


def reference_boltzmann(n: int, steps: int, seed: int) -> np.ndarray:
    """Independent NumPy version of the same dynamics, for comparison."""
    rng = np.random.default_rng(seed)
    wealth = np.ones(n, dtype=np.int64)
    for _ in range(steps):
        givers = np.flatnonzero(wealth > 0)
        to = rng.integers(0, n - 1, len(givers))
        to += to >= givers
        wealth -= np.bincount(givers, minlength=n)
        wealth += np.bincount(to, minlength=n)
    return wealth


def stationary_wealth(units: int = 200) -> np.ndarray:
    """Large-population law of one agent's wealth when everyone with wealth gives a unit at once.

    Each step an agent loses a unit if it has one and receives Poisson(lam) units, lam the share of
    givers: the queue with Poisson arrivals and one departure a step (M/D/1 seen at departures).
    Its mean, lam + lam^2 / (2 (1 - lam)) (Pollaczek-Khinchine), is one unit when lam = 2 - sqrt(2).
    Returns P(wealth = k) for k < ``units``, found by iterating the chain."""
    lam = 2 - np.sqrt(2)
    arrivals = np.array([np.exp(-lam) * lam**k / math.factorial(k) for k in range(40)])
    p = np.zeros(units)
    p[1] = 1.0
    for _ in range(2000):
        after_giving = np.r_[p[0] + p[1], p[2:], 0.0]
        p = np.convolve(after_giving, arrivals)[:units]
    return p / p.sum()


def test_wealth_is_conserved_and_inequality_reaches_the_known_plateau() -> None:
    sim = Simulation.from_scenario("wealth", ["population.size=3000", "steps=150"]).run()
    m = sim.metrics()
    assert (m["total"] == 3000).all()
    assert m["gini"].iloc[-1] > m["gini"].iloc[0] + 0.05  # from 0 before the first step, rising
    plateau = m["gini"].iloc[-30:]
    reference = np.mean([gini(reference_boltzmann(3000, 150, s)) for s in range(3)])
    assert abs(plateau.mean() - reference) < 0.02  # same stationary distribution as an independent model
    assert plateau.std() < 0.01
    # and the theory's: Gini = E|X - Y| / (2 E X) = sum_k F(k) (1 - F(k)) for integer wealth of mean 1
    law = stationary_wealth()
    assert law @ np.arange(len(law)) == pytest.approx(1.0)
    cdf = np.cumsum(law)
    assert abs(plateau.mean() - float(np.sum(cdf * (1 - cdf)))) < 0.01  # 0.580
    assert abs(m["share_zero"].iloc[-30:].mean() - law[0]) < 0.01  # sqrt(2) - 1 = 0.414 hold nothing


def test_giving_rules() -> None:
    world = WealthWorld(Population(size=3), {"initial_wealth": 1})
    world.reset(0)
    events = world.apply([Actions("give", np.array([0, 0, 1, 2]), {"to": np.array([1, 2, 1, 0])})])
    outcome = {(int(a), str(r)) for e in events for a, r in zip(e.agents, e.reason, strict=True)}
    assert (0, "no wealth left to give") in outcome  # agent 0 had one unit and gave twice
    assert (1, "cannot give to oneself") in outcome
    assert world.wealth.tolist() == [1, 2, 0]  # only 0 -> 1 and 2 -> 0 took effect
