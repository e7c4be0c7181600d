"""The wealth world's fast paths give exactly what the general ones give."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from populace.actions import Actions
from populace.measures import gini
from populace.population import Population
from populace.worlds.wealth import WealthWorld, _counted_metrics


def sorted_metrics(wealth: np.ndarray) -> dict[str, float]:
    """The metrics the plain way: sort, then the textbook formulas."""
    w = np.sort(wealth)
    total = float(w.sum())
    return {
        "gini": gini(w),
        "share_zero": float(np.mean(w == 0)),
        "top10_share": float(w[int(0.9 * len(w)):].sum() / total) if total else 0.0,
        "total": total,
    }


@settings(max_examples=300, deadline=None)
@given(arrays(np.int64, st.integers(1, 400), elements=st.integers(0, 60)))
def test_histogram_metrics_equal_the_sorted_ones_bit_for_bit(wealth: np.ndarray) -> None:
    counted = _counted_metrics(wealth)
    if wealth.sum() == 0:
        assert counted is None
    else:
        assert counted == sorted_metrics(wealth)


def test_histogram_metrics_step_aside_where_they_would_not_be_exact() -> None:
    assert _counted_metrics(np.array([-1, 3], dtype=np.int64)) is None  # negative wealth
    assert _counted_metrics(np.array([0, 10**9], dtype=np.int64)) is None  # a huge histogram
    assert _counted_metrics(np.zeros(0, dtype=np.int64)) is None
    world = WealthWorld(Population(size=3), {"initial_wealth": 1})
    world.reset(0)
    world.wealth[:] = [-2, 1, 4]
    assert world.metrics() == sorted_metrics(world.wealth)  # the general path still answers


def test_gifts_from_distinct_givers_match_the_ranked_path() -> None:
    rng = np.random.default_rng(3)
    n = 300
    start = rng.integers(0, 3, n)
    givers = np.sort(rng.choice(n, 200, replace=False))
    to = rng.integers(0, n, 200)  # some give to themselves, some have nothing
    results = []
    for order in (np.arange(200), rng.permutation(200)):  # sorted: fast path; shuffled: ranked path
        world = WealthWorld(Population(size=n), {"initial_wealth": 1})
        world.reset(0)
        world.wealth[:] = start
        (events,) = world.apply([Actions("give", givers[order], {"to": to[order]})])
        back = np.argsort(order)
        results.append((world.wealth.copy(), events.outcome[back].tolist(), events.reason[back].tolist()))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1:] == results[1][1:]
    assert "rejected" in results[0][1] and "ok" in results[0][1]
