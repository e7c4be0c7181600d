"""Sessions are a Poisson process in simulated time: the same sessions an hour at any step length."""

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
def test_sessions_an_hour_and_the_chance_of_one_do_not_depend_on_the_step(minutes: int) -> None:
    step = timedelta(minutes=minutes)
    scheduler = Scheduler(Population(size=N), [0.7] * 24, step)
    rng = np.random.default_rng(minutes)
    per_hour = 60 // minutes
    sessions = np.zeros(N)
    ever = np.zeros(N, dtype=bool)
    for _ in range(per_hour):
        rounds = scheduler.sessions(NOON, rng)
        for ids in rounds:
            sessions[ids] += 1
        ever[rounds[0] if rounds else []] = True
    rate = 0.7  # sessions an hour
    # means of 20,000 agents: standard errors of about 0.006 (sessions) and 0.0035 (a share)
    assert sessions.mean() == pytest.approx(rate, abs=0.03)
    assert ever.mean() == pytest.approx(1 - math.exp(-rate), abs=0.02)
    assert scheduler.expected_sessions(NOON) == pytest.approx(rate * minutes / 60)
    assert scheduler.probabilities(NOON) == pytest.approx(1 - math.exp(-rate * minutes / 60))


def test_later_rounds_hold_the_agents_with_more_sessions_and_sequential_order_shuffles_each() -> None:
    scheduler = Scheduler(Population(size=5_000), [2.0] * 24, timedelta(hours=2), order="sequential")
    rounds = scheduler.sessions(NOON, np.random.default_rng(1))
    assert len(rounds) >= 5  # 4 sessions in two hours on average
    for earlier, later in itertools.pairwise(rounds):
        assert set(later.tolist()) <= set(earlier.tolist()) and len(later) < len(earlier)
    assert not np.array_equal(rounds[0], np.sort(rounds[0]))


def test_activity_scales_the_rate_and_always_is_one_session_every_step() -> None:
    population = Population({"activity": np.array([1.0, 3.0, 0.0])}, size=3)
    scheduler = Scheduler(population, [0.5] * 24, timedelta(hours=1))
    assert scheduler.expected_sessions(NOON) == pytest.approx([0.5, 1.5, 0.0])
    rng = np.random.default_rng(0)
    assert all(2 not in ids for _ in range(50) for ids in scheduler.sessions(NOON, rng))  # activity 0: never
    everyone = Scheduler(Population(size=3), "always", timedelta(days=1)).sessions(NOON, rng)
    assert [ids.tolist() for ids in everyone] == [[0, 1, 2]]
    some = Scheduler(population, "always", timedelta(minutes=1))  # rounds: activity is a chance per step
    assert some.expected_sessions(NOON) == pytest.approx([1.0, 1.0, 0.0])
    assert all(len(some.sessions(NOON, rng)) == 1 for _ in range(10))
