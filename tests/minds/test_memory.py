"""Memory-stream retrieval scores, checked against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from populace.minds.memory import MemoryStream, min_max


def stream() -> MemoryStream:
    s = MemoryStream(dim=2, capacity=2)  # grows past its first capacity
    s.add(np.array([0]), ["observation"], ["saw a dog"], 0.0, np.array([2.0]), np.array([[1.0, 0.0]]))
    s.add(np.array([0]), ["action"], ["gave a coin"], 10.0, np.array([8.0]), np.array([[0.0, 1.0]]))
    s.add(np.array([1]), ["observation"], ["someone else"], 15.0, np.array([10.0]), np.array([[1.0, 0.0]]))
    s.add(np.array([0]), ["reflection"], ["I like dogs"], 20.0, np.array([5.0]), np.array([[0.6, 0.8]]))
    return s


def test_scores_match_the_hand_computed_values() -> None:
    # at hour 30, decay 0.995: recency 0.995^30 = 0.860384, 0.995^20 = 0.904610, 0.995^10 = 0.951110
    # normalised: 0, (0.904610 - 0.860384) / (0.951110 - 0.860384) = 0.487466, 1
    # importance 2, 8, 5 -> 0, 1, 0.5; relevance to [1, 0]: 1, 0, 0.6 -> 1, 0, 0.6
    s = stream().scores(0, np.array([1.0, 0.0]), hour=30.0)
    assert s.index.tolist() == [0, 1, 3]
    assert s.recency == pytest.approx([0.860384, 0.904610, 0.951110], abs=1e-6)
    assert s.importance.tolist() == [2.0, 8.0, 5.0]
    assert s.relevance == pytest.approx([1.0, 0.0, 0.6], abs=1e-6)
    assert s.score == pytest.approx([1.0, 1.487466, 2.1], abs=1e-5)


def test_weights_scale_each_part() -> None:
    s = stream().scores(0, np.array([1.0, 0.0]), hour=30.0, weights=(0.0, 0.0, 2.0))
    assert s.score == pytest.approx([2.0, 0.0, 1.2], abs=1e-6)


def test_retrieve_returns_the_best_and_refreshes_their_recency() -> None:
    s = stream()
    best = s.retrieve(0, np.array([1.0, 0.0]), hour=30.0, k=2)
    assert best.tolist() == [3, 1]
    assert s.accessed[[0, 1, 3]].tolist() == [0.0, 30.0, 30.0]
    # now the two retrieved are equally recent (normalised 1) and the unretrieved one is oldest (0):
    again = s.scores(0, np.array([1.0, 0.0]), hour=30.0)
    assert again.score == pytest.approx([0 + 0 + 1, 1 + 1 + 0, 1 + 0.5 + 0.6], abs=1e-6)


def test_constant_parts_normalise_to_one_half_and_agents_are_separate() -> None:
    assert min_max(np.array([3.0, 3.0])).tolist() == [0.5, 0.5]
    assert min_max(np.array([7.0])).tolist() == [0.5]
    s = stream()
    only = s.scores(1, np.array([0.0, 1.0]), hour=15.0)
    assert only.index.tolist() == [2] and only.score.tolist() == [1.5]
    assert s.scores(9, np.array([1.0, 0.0]), hour=1.0).index.size == 0
    assert s.recent(0, 2).tolist() == [1, 3] and s.recent(0, 5, "reflection").tolist() == [3]
