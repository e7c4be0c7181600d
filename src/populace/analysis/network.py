"""Degree distributions and the friendship paradox ("your friends have more friends than you")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from populace.network import Network


def degrees_from_edges(n: int, source: np.ndarray, target: np.ndarray, directed: bool = False) -> np.ndarray:
    """Degree of each of ``n`` nodes; for directed edges (follows), the in-degree (followers)."""
    source, target = np.asarray(source, dtype=np.int64), np.asarray(target, dtype=np.int64)
    if directed:
        return np.bincount(target, minlength=n)
    return np.bincount(source, minlength=n) + np.bincount(target, minlength=n)


def degree_distribution(degrees: np.ndarray) -> pd.DataFrame:
    """``degree, count, share`` for every degree that occurs, ascending."""
    values, counts = np.unique(np.asarray(degrees, dtype=np.int64), return_counts=True)
    total = counts.sum()
    return pd.DataFrame({"degree": values, "count": counts, "share": counts / total if total else counts * 0.0})


def friendship_paradox(network: Network) -> pd.DataFrame:
    """One row: ``mean_degree``, ``mean_friend_degree`` (mean over agents of their friends' mean
    degree), ``edge_friend_degree`` (degree of a random edge end, E[k^2]/E[k]) and
    ``share_paradox`` (share of agents with friends whose friends are on average more connected)."""
    degree = network.degree().astype(np.float64)
    has_friends = degree > 0
    owner = np.repeat(np.arange(network.n), network.degree())
    friend_sum = np.bincount(owner, degree[network.indices], minlength=network.n)
    friend_mean = np.divide(friend_sum, degree, out=np.zeros_like(degree), where=has_friends)
    ends = degree[network.indices]
    return pd.DataFrame([{
        "mean_degree": float(degree.mean()) if network.n else 0.0,
        "mean_friend_degree": float(friend_mean[has_friends].mean()) if has_friends.any() else 0.0,
        "edge_friend_degree": float(ends.mean()) if len(ends) else 0.0,
        "share_paradox": float(np.mean(friend_mean[has_friends] > degree[has_friends])) if has_friends.any() else 0.0,
    }])
