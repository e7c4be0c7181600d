"""Sessions in simulated time: the same sessions an hour at any step length."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta

import numpy as np
import pytest

from populace.population import Population
from populace.scheduler import Scheduler

NOON = datetime(2025, 1, 1, 12, 0)
N = 20_000


@pytest.mark.parametrize("minutes", [60, 15, 2])
def test_sessions_an_hour_do_not_depend_on_the_step(minutes: int) -> None:
    step = timedelta(minutes=minutes)
    rate = 0.7  # sessions an hour
    scheduler = Scheduler(Population(size=N), [rate] * 24, step)
    rng = np.random.default_rng(minutes)
    sessions = np.zeros(N)
    ever = np.zeros(N, dtype=bool)
    for _ in range(60 // minutes):
        rounds = scheduler.sessions(NOON, rng)
        for ids in rounds:
            sessions[ids] += 1
        ever[rounds[0] if rounds else []] = True
    # means of 20,000 agents: standard errors of about 0.006 (sessions) and 0.0035 (a share)
    assert sessions.mean() == pytest.approx(rate, abs=0.03)
    x = rate * minutes / 60
    assert scheduler.expected_sessions(NOON) == pytest.approx(x) == scheduler.probabilities(NOON)
    # the chance of a session at all in the hour tends to the Poisson process's 1 - exp(-0.7)
    assert ever.mean() == pytest.approx(1 - (1 - x) ** (60 / minutes), abs=0.02)
    if minutes == 2:
        assert ever.mean() == pytest.approx(1 - math.exp(-rate), abs=0.02)


def test_a_step_longer_than_a_session_holds_several_in_rounds() -> None:
    scheduler = Scheduler(Population(size=5_000), [1.3] * 24, timedelta(hours=2), order="sequential")
    rounds = scheduler.sessions(NOON, np.random.default_rng(1))
    assert len(rounds) == 3 and len(rounds[0]) == len(rounds[1]) == 5_000  # 2.6 sessions: 2, and a third
    assert len(rounds[2]) == pytest.approx(0.6 * 5_000, rel=0.05)
    for earlier, later in itertools.pairwise(rounds):
        assert set(later.tolist()) <= set(earlier.tolist())
    assert not np.array_equal(rounds[0], np.sort(rounds[0]))  # sequential: shuffled within each round


def test_activity_scales_the_rate_and_always_is_one_session_every_step() -> None:
    population = Population({"activity": np.array([1.0, 3.0, 0.0])}, size=3)
    scheduler = Scheduler(population, [0.5] * 24, timedelta(hours=1))
    assert scheduler.expected_sessions(NOON) == pytest.approx([0.5, 1.5, 0.0])
    rng = np.random.default_rng(0)
    for _ in range(50):
        rounds = scheduler.sessions(NOON, rng)
        assert 1 in rounds[0] and all(2 not in ids for ids in rounds)  # 1.5 sessions: at least one; none at 0
    everyone = Scheduler(Population(size=3), "always", timedelta(days=1)).sessions(NOON, rng)
    assert [ids.tolist() for ids in everyone] == [[0, 1, 2]]
    some = Scheduler(population, "always", timedelta(minutes=1))  # rounds: activity is a chance per step
    assert some.expected_sessions(NOON) == pytest.approx([1.0, 1.0, 0.0])
    assert all(len(some.sessions(NOON, rng)) == 1 for _ in range(10))
