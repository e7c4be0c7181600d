"""Scalar measures: clusters are found where values gather, and not in noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from populace.measures import clusters

Sampler = Callable[[np.random.Generator, int], np.ndarray]

NOISE: dict[str, Sampler] = {
    "uniform": lambda rng, n: rng.random(n),
    "normal": lambda rng, n: rng.normal(0.5, 0.1, n),
    "skewed": lambda rng, n: rng.beta(2, 5, n),
    "heavy-tailed": lambda rng, n: rng.standard_t(3, n),
}


@pytest.mark.parametrize("n", [50, 300, 2000])
@pytest.mark.parametrize("noise", NOISE)
def test_unimodal_noise_is_one_cluster_in_all_but_a_few_samples(noise: str, n: int) -> None:
    rng = np.random.default_rng(n)
    found = np.array([clusters(NOISE[noise](rng, n))[0] for _ in range(200)])
    # alpha = 1% bounds uniform noise's false splits; a fixed gap of 0.02 split half of the uniform samples at 300
    assert np.mean(found >= 2) <= 0.03
    assert np.mean(found == 1) >= 0.97


def well_separated(rng: np.random.Generator, centres: list[float], n: int,
                   stragglers: float = 0.0) -> tuple[np.ndarray, float]:
    """Normal clusters (sd 0.03) around ``centres`` plus a share of uniform stragglers; the values and
    the share of them drawn into the largest cluster."""
    loose = round(stragglers * n)
    group = rng.integers(0, len(centres), n - loose)
    values = np.r_[np.asarray(centres)[group] + rng.normal(0, 0.03, n - loose), rng.random(loose)]
    return values, np.bincount(group).max() / n


@pytest.mark.parametrize("centres", [[0.3, 0.7], [0.2, 0.5, 0.8]])
@pytest.mark.parametrize("n", [60, 300, 2000])
def test_well_separated_clusters_are_all_found(centres: list[float], n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(50):
        values, largest_drawn = well_separated(rng, centres, n)
        count, largest = clusters(values)
        assert count == len(centres)
        assert largest_drawn - 0.05 <= largest <= largest_drawn  # at most a few tail values fall outside


def test_stragglers_between_clusters_are_not_a_cluster() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        values, largest_drawn = well_separated(rng, [0.2, 0.5, 0.8], 2000, stragglers=0.15)
        count, largest = clusters(values)
        assert count == 3  # stragglers inside a cluster's span (about 0.2 of 0.15) belong to it
        assert largest_drawn - 0.02 <= largest <= largest_drawn + 0.2 * 0.15 + 0.02


def test_a_converged_group_stays_whole_however_tight_its_subgroups() -> None:
    rng = np.random.default_rng(1)
    nearly_one = 0.5 + np.r_[np.zeros(500), np.full(500, 1e-6)] + rng.normal(0, 1e-9, 1000)
    assert clusters(nearly_one)[0] == 2  # scale-free: two groups a millionth apart are two clusters
    assert clusters(nearly_one, resolution=0.01) == (1, 1.0)  # unless gaps below the resolution do not count
    assert clusters(np.r_[nearly_one, nearly_one + 0.3], resolution=0.01) == (2, 0.5)


def test_too_few_values_hold_no_cluster_and_identical_values_one() -> None:
    assert clusters(np.array([])) == (0, 0.0)
    assert clusters(np.array([0.1, 0.9, 0.5])) == (0, 0.0)
    assert clusters(np.full(10, 0.4)) == (1, 1.0)
