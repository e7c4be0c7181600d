"""A memory stream (Park et al. 2023, "Generative Agents"), stored as columns for many agents at once.

Each memory is a row: agent, kind (observation, action, writing, reflection, plan), text, embedding,
importance (1-10), the simulated hour it was made and the hour it was last retrieved.
Retrieval scores an agent's memories against a query as

    score = w_recency * norm(decay ** hours_since_last_access)
          + w_importance * norm(importance)
          + w_relevance * norm(cosine(query, memory))

where ``norm`` is min-max normalisation over that agent's memories (a constant column becomes
0.5, as in the authors' implementation), and returns the top ``k``, marking them accessed.
Retrieval may be limited to some kinds: the generative mind leaves out the agent's own ``writing``
(what it posted, in its words), which a small model copies when it is shown it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("observation", "action", "reflection", "plan", "writing")


@dataclass
class Scores:
    """The parts of a retrieval score for one agent's memories (rows ``index`` of the stream)."""

    index: np.ndarray
    recency: np.ndarray
    importance: np.ndarray
    relevance: np.ndarray
    score: np.ndarray


def min_max(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant column (or a single value) becomes 0.5."""
    if len(values) == 0:
        return values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12:
        return np.full(len(values), 0.5)
    return (values - low) / (high - low)


class MemoryStream:
    """Columnar memories of many agents; rows are appended, never rewritten except ``accessed``."""

    def __init__(self, dim: int, capacity: int = 256) -> None:
        self.dim = dim
        self.size = 0
        self.agent = np.zeros(capacity, dtype=np.int64)
        self.kind = np.zeros(capacity, dtype=np.int8)
        self.created = np.zeros(capacity, dtype=np.float64)
        self.accessed = np.zeros(capacity, dtype=np.float64)
        self.importance = np.zeros(capacity, dtype=np.float32)
        self.text = np.empty(capacity, dtype=object)
        self.vectors = np.zeros((capacity, dim), dtype=np.float32)

    def __len__(self) -> int:
        return self.size

    def _grow(self, needed: int) -> None:
        capacity = len(self.agent)
        if needed <= capacity:
            return
        new = max(needed, 2 * capacity)
        for name in ("agent", "kind", "created", "accessed", "importance", "text", "vectors"):
            old = getattr(self, name)
            grown = np.zeros((new, *old.shape[1:]), dtype=old.dtype) if old.dtype != object \
                else np.empty(new, dtype=object)
            grown[:capacity] = old
            setattr(self, name, grown)

    def add(self, agents: np.ndarray, kinds: list[str], texts: list[str], hour: float,
            importance: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Append memories made at simulated ``hour``; returns their row numbers."""
        n = len(agents)
        self._grow(self.size + n)
        rows = np.arange(self.size, self.size + n)
        self.agent[rows] = agents
        self.kind[rows] = [KINDS.index(k) for k in kinds]
        self.created[rows] = hour
        self.accessed[rows] = hour
        self.importance[rows] = np.clip(importance, 1, 10)
        self.text[rows] = texts
        self.vectors[rows] = vectors
        self.size += n
        return rows

    def of(self, agent: int, kind: str | Sequence[str] | None = None) -> np.ndarray:
        """Row numbers of one agent's memories (of one kind, or of several), oldest first."""
        mask = self.agent[: self.size] == agent
        if isinstance(kind, str):
            mask &= self.kind[: self.size] == KINDS.index(kind)
        elif kind is not None:
            mask &= np.isin(self.kind[: self.size], [KINDS.index(k) for k in kind])
        return np.flatnonzero(mask)

    def scores(self, agent: int, query: np.ndarray, hour: float, decay: float = 0.995,
               weights: tuple[float, float, float] = (1.0, 1.0, 1.0), kinds: Sequence[str] | None = None) -> Scores:
        """Recency, importance and relevance of every memory of ``agent`` (of ``kinds``, default all)
        for ``query``, and their sum."""
        index = self.of(agent, kinds)
        recency = decay ** np.maximum(hour - self.accessed[index], 0.0)
        importance = self.importance[index].astype(np.float64)
        relevance = self.vectors[index] @ np.asarray(query, dtype=np.float32)
        w_rec, w_imp, w_rel = weights
        score = w_rec * min_max(recency) + w_imp * min_max(importance) + w_rel * min_max(relevance)
        return Scores(index, recency, importance, relevance.astype(np.float64), score)

    def retrieve(self, agent: int, query: np.ndarray, hour: float, k: int, decay: float = 0.995,
                 weights: tuple[float, float, float] = (1.0, 1.0, 1.0), kinds: Sequence[str] | None = None,
                 ) -> np.ndarray:
        """The rows of the ``k`` best memories (of ``kinds``, default all), best first; they count as
        accessed at ``hour``."""
        s = self.scores(agent, query, hour, decay, weights, kinds)
        order = np.argsort(-s.score, kind="stable")[:k]
        best = s.index[order]
        self.accessed[best] = hour
        return best

    def recent(self, agent: int, n: int, kind: str | None = None) -> np.ndarray:
        """The rows of an agent's ``n`` newest memories (of one kind), oldest first."""
        return self.of(agent, kind)[-n:] if n > 0 else np.zeros(0, dtype=np.int64)
