"""The similarity tier: decisions from embedding similarity, popularity and recency, with no model calls.

For every item an agent sees (a text, or a feed of items), three features are computed:

* ``similarity`` — cosine between the agent's interest text (a template over its persona) and
  the item's text, both embedded by a sentence encoder (``minilm`` by default);
* ``popularity`` — ``log(1 + popularity)`` of the item (e.g. its likes);
* ``recency`` — ``2 ** (-age_hours / half_life)``, 1 for a new item, 1/2 after ``half_life`` hours.

A multinomial logistic model turns them into probabilities over the options plus doing
nothing (whose utility is fixed at 0)::

    u_k = bias_k + w_sim_k * similarity + w_pop_k * popularity + w_rec_k * recency
    P(k) = exp(u_k) / (1 + sum_j exp(u_j)),   P(nothing) = 1 / (1 + sum_j exp(u_j))

With one option this is the plain logistic ``P = sigmoid(u)``. The weights live in the
scenario; :func:`fit` estimates them from labelled examples. Embeddings are cached per distinct
text, so a post is embedded once however many agents see it, and a persona once per distinct
interest text (per persona group).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from populace.actions import Actions
from populace.clock import DurationHours, hours
from populace.errors import PopulaceError
from populace.minds.archetype import OptionSpec, option_reads
from populace.minds.base import Decisions, MindConfig, Reads, minds
from populace.minds.language import EncodingMind
from populace.minds.prompting import PromptTemplate, plain
from populace.world import TEXT, Column, Observations

FEATURES = ("similarity", "popularity", "recency")


class Logit(BaseModel):
    """The utility of one option: a bias plus one weight per feature."""

    model_config = ConfigDict(extra="forbid")
    bias: float = 0.0
    similarity: float = 0.0
    popularity: float = 0.0
    recency: float = 0.0

    def vector(self) -> np.ndarray:
        return np.asarray([self.bias, self.similarity, self.popularity, self.recency])


class SimilarityConfig(MindConfig):
    interests: str = Field(description="template over {persona.<col>} giving the text an agent cares about")
    content: str = Field(description="observation column: a text per agent, or a list of items (text or dict)")
    options: dict[str, OptionSpec] = Field(description="label -> action; args may use item.<key>, obs.<col>")
    weights: dict[str, Logit] = Field(description="label -> utility weights (see the module docs)")
    text_key: str = Field("text", description="the text field of dict items")
    popularity: str | None = Field(None, description="item key (or obs column for text content) of popularity")
    age: str | None = Field(None, description="item key (or obs column for text content) of age in hours")
    half_life: DurationHours = Field(timedelta(hours=24), description="age at which recency is 1/2 (simulated "
                                                                     "time, e.g. 6h; a bare number is hours)")
    max_actions: int = Field(1, ge=1, description="most actions per agent per session, i.e. per step it is "
                                                  "active (feed order)")
    encoder: str = Field("minilm", description="sentence encoder (minilm, hashing, ...)")
    cache_size: int = Field(100_000, ge=1, description="texts whose embeddings are kept")

    @model_validator(mode="after")
    def _weights_for_every_option(self) -> SimilarityConfig:
        missing = set(self.options) - set(self.weights)
        extra = set(self.weights) - set(self.options)
        if missing or extra:
            raise ValueError(f"weights must name exactly the options ({', '.join(self.options)})")
        return self

    def observation_reads(self, observed: Mapping[str, Column]) -> list[Reads]:
        """``content``, the options' ``obs.<col>`` arguments and, where the content is one text per
        agent (not a list of items with keys of their own), the ``popularity`` and ``age`` columns."""
        reads = [Reads("content", "the similarity mind", (self.content,)), *option_reads(self.options)]
        content = observed.get(self.content)
        if content is not None and content.dtype == TEXT:
            reads += [Reads(key, "the similarity mind", (column,))
                      for key, column in (("popularity", self.popularity), ("age", self.age)) if column is not None]
        return reads


def features(similarity: np.ndarray, popularity: np.ndarray, age_hours: np.ndarray,
             half_life: float = 24.0) -> np.ndarray:
    """The feature matrix ``[similarity, log1p(popularity), 2 ** (-age / half_life)]``, one row per item."""
    return np.column_stack([
        np.asarray(similarity, dtype=np.float64),
        np.log1p(np.maximum(np.asarray(popularity, dtype=np.float64), 0)),
        np.exp2(-np.maximum(np.asarray(age_hours, dtype=np.float64), 0) / half_life),
    ])


def probabilities(x: np.ndarray, weights: Sequence[Logit]) -> np.ndarray:
    """``P(nothing), P(option 1), ...`` per row of features ``x``."""
    w = np.vstack([lw.vector() for lw in weights])  # options x (1 + features)
    utility = np.column_stack([np.zeros(len(x)), np.column_stack([np.ones(len(x)), x]) @ w.T])
    utility -= utility.max(axis=1, keepdims=True)
    e = np.exp(utility)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit(x: np.ndarray, labels: np.ndarray, options: Sequence[str], *, l2: float = 1e-4,
        steps: int = 50) -> dict[str, Logit]:
    """Fit the weights by maximum likelihood (Newton's method, a small L2 penalty) on labelled examples.

    ``x`` holds :func:`features` rows; ``labels[i]`` is 0 for "did nothing" or ``k`` for option
    ``options[k - 1]``.
    """
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or len(labels) != len(x):
        raise PopulaceError(f"fit needs {len(FEATURES)} features per example and one label each")
    if labels.min(initial=0) < 0 or labels.max(initial=0) > len(options):
        raise PopulaceError(f"fit: labels must be 0 (nothing) to {len(options)}")
    design = np.column_stack([np.ones(len(x)), x])
    n, d = design.shape
    k = len(options)
    onehot = np.eye(k + 1)[labels][:, 1:]
    w = np.zeros((k, d))
    for _ in range(steps):
        p = probabilities(x, _logits(w))[:, 1:]
        gradient = ((onehot - p).T @ design / n - l2 * w).reshape(-1)
        # Hessian of the mean log-likelihood: -(diag(p) - p p^T) (x) x x^T, averaged over examples
        cov = np.einsum("ik,kj->ikj", p, np.eye(k)) - np.einsum("ik,ij->ikj", p, p)
        hessian = -np.einsum("ikj,ia,ib->kajb", cov, design, design).reshape(k * d, k * d) / n
        hessian -= l2 * np.eye(k * d)
        step = np.linalg.solve(hessian, gradient)
        w -= step.reshape(k, d)
        if np.abs(step).max() < 1e-8:
            break
    return dict(zip(options, _logits(w), strict=True))


def _logits(w: np.ndarray) -> list[Logit]:
    return [Logit(bias=r[0], similarity=r[1], popularity=r[2], recency=r[3]) for r in w]


class SimilarityMind(EncodingMind[SimilarityConfig]):
    """Engagement from interest-content similarity, popularity and recency; no model calls."""

    name = "similarity"
    Config = SimilarityConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.template = PromptTemplate(cfg.interests)
        if self.template.observation_fields:
            raise PopulaceError("similarity: the interests template may use persona fields only")
        for label, spec in cfg.options.items():
            spec.check(label, self.action_space, "similarity")
        self.labels = list(cfg.options)
        self.weights = [cfg.weights[label] for label in self.labels]
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._counters = {"similarity_agents": 0.0, "similarity_items": 0.0, "similarity_encoded": 0.0}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_cache"] = OrderedDict()  # rebuilt on demand
        return state

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``, encoding only those not in the cache (least recently used is dropped)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            for text, vector in zip(todo, self.encoder.encode(todo), strict=True):
                self._cache[text] = vector
            self._counters["similarity_encoded"] += len(todo)
        out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._cache[text]
            self._cache.move_to_end(text)
        while len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)
        return out

    def items(self, observations: Observations) -> tuple[np.ndarray, list[Any], np.ndarray, np.ndarray]:
        """Flatten what the agents see: (position of the agent, item, popularity, age) per item."""
        cfg = self.config
        column = observations[cfg.content]
        owner: list[int] = []
        items: list[Any] = []
        popularity: list[float] = []
        age: list[float] = []
        for i, seen in enumerate(column):
            seen = plain(seen)
            entries = [seen] if isinstance(seen, str | dict) else list(seen) if seen is not None else []
            for entry in entries:
                owner.append(i)
                items.append(entry)
                popularity.append(self._number(entry, cfg.popularity, observations, i))
                age.append(self._number(entry, cfg.age, observations, i))
        return np.asarray(owner, dtype=np.int64), items, np.asarray(popularity), np.asarray(age)

    def _number(self, entry: Any, key: str | None, observations: Observations, i: int) -> float:
        if key is None:
            return 0.0
        if isinstance(entry, dict):
            return float(entry.get(key, 0.0) or 0.0)
        return float(observations[key][i]) if key in observations.columns else 0.0

    def _text(self, entry: Any) -> str:
        return str(entry.get(self.config.text_key, "")) if isinstance(entry, dict) else str(entry)

    async def decide(self, observations: Observations) -> Decisions:
        n = len(observations)
        owner, items, popularity, age = self.items(observations)
        self._counters["similarity_agents"] += n
        self._counters["similarity_items"] += len(items)
        if not items:
            return Decisions()
        interests = [self.template.render(self.population.row(int(a)), {}, fenced=False)
                     for a in observations.agents]
        person = self.embed(interests)
        content = self.embed([self._text(e) for e in items])
        similarity = np.einsum("ij,ij->i", person[owner], content)
        p = probabilities(features(similarity, popularity, age, hours(self.config.half_life)), self.weights)
        draws = self.rng.random(len(items))  # one per item in feed order: independent of everything else
        chosen = (draws[:, None] >= np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)  # 0 = nothing
        acting = np.flatnonzero(chosen > 0)
        rank = _rank_within(owner[acting])
        acting = acting[rank < self.config.max_actions]
        decisions = Decisions()
        for k, label in enumerate(self.labels, start=1):
            rows = acting[chosen[acting] == k]
            if len(rows) == 0:
                continue
            spec = self.config.options[label]
            args = {name: self._argument(v, observations, owner[rows], [items[r] for r in rows])
                    for name, v in spec.args.items()}
            decisions.actions.append(Actions(spec.action, observations.agents[owner[rows]], args))
        return decisions

    def _argument(self, value: Any, observations: Observations, positions: np.ndarray,
                  entries: list[Any]) -> np.ndarray:
        out = np.empty(len(positions), dtype=object)
        if isinstance(value, str) and value.startswith("item."):
            key = value[5:]
            text_key = self.config.text_key
            out[:] = [e.get(key) if isinstance(e, dict) else (e if key == text_key else None) for e in entries]
        elif isinstance(value, str) and value.startswith("obs."):
            out[:] = list(np.asarray(observations[value[4:]])[positions])
        elif isinstance(value, str) and value.startswith("persona."):
            out[:] = list(np.asarray(self.population[value[8:]])[observations.agents[positions]])
        else:
            out[:] = [value] * len(positions)
        return out

    def stats(self) -> dict[str, float]:
        """Cumulative counters: agents decided for, items seen, texts embedded."""
        return dict(self._counters)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of a sorted-by-appearance array."""
    if len(groups) == 0:
        return groups
    starts = np.r_[True, groups[1:] != groups[:-1]]
    index = np.arange(len(groups))
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def describe_weights(weights: Mapping[str, Logit]) -> str:
    """One line per option, for reports."""
    return "\n".join(f"{k}: " + ", ".join(f"{f}={getattr(w, f):+.2f}" for f in ("bias", *FEATURES))
                     for k, w in weights.items())


minds.add("similarity", SimilarityMind)
