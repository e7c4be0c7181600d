"""Undirected networks as compressed sparse rows, built vectorised for millions of nodes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass
class Network:
    """Node ``i``'s neighbours are ``indices[indptr[i]:indptr[i+1]]``, sorted."""

    n: int
    indptr: np.ndarray
    indices: np.ndarray

    @classmethod
    def from_edges(cls, n: int, u: np.ndarray, v: np.ndarray) -> Network:
        """Build from undirected edges, dropping self-loops and duplicates."""
        keep = u != v
        u, v = u[keep].astype(np.int64), v[keep].astype(np.int64)
        keys = np.unique(np.r_[u * n + v, v * n + u])
        src, dst = keys // n, keys % n
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        return cls(n, indptr, dst)

    @cached_property
    def edge_keys(self) -> np.ndarray:
        """``source * n + target`` for every directed edge, sorted (rows are sorted)."""
        return np.repeat(np.arange(self.n, dtype=np.int64), self.degree()) * self.n + self.indices

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def neighbours(self, node: int) -> np.ndarray:
        return self.indices[self.indptr[node]:self.indptr[node + 1]]

    def random_neighbour(self, nodes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniformly random neighbour per node, or -1 for a node with none."""
        start = self.indptr[nodes]
        degree = self.indptr[nodes + 1] - start
        offset = np.floor(rng.random(len(nodes)) * degree).astype(np.int64)
        picked = self.indices[np.minimum(start + offset, len(self.indices) - 1)] if len(self.indices) else 0
        return np.where(degree > 0, picked, -1)

    def connected(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Whether each pair ``(u[i], v[i])`` is an edge (binary search in the sorted rows)."""
        keys = self.edge_keys
        wanted = u.astype(np.int64) * self.n + v
        pos = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        return (keys[pos] == wanted) if len(keys) else np.zeros(len(u), dtype=bool)


def small_world(n: int, degree: int, rewire: float, rng: np.random.Generator) -> Network:
    """Watts–Strogatz: a ring where each node links to ``degree/2`` on each side, edges rewired
    to a random node with probability ``rewire``."""
    half = max(1, min(degree // 2, (n - 1) // 2)) if n > 2 else 1
    u = np.repeat(np.arange(n, dtype=np.int64), half)
    v = (u + np.tile(np.arange(1, half + 1), n)) % n
    moved = rng.random(len(v)) < rewire
    v[moved] = rng.integers(0, n, int(moved.sum()))
    return Network.from_edges(n, u, v)


def random_network(n: int, degree: int, rewire: float, rng: np.random.Generator) -> Network:
    """Erdős–Rényi with ``n * degree / 2`` random edges (``rewire`` is ignored)."""
    m = n * degree // 2
    return Network.from_edges(n, rng.integers(0, n, m), rng.integers(0, n, m))
