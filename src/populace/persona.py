"""Declared persona distributions, sampled vectorised into population columns.

A scenario declares each attribute as one of these (``dist:`` picks the kind)::

    age:        {dist: normal, mean: 40, std: 12, min: 18, max: 90, integer: true}
    income:     {dist: lognormal, mean: 10.2, sigma: 0.6}
    gender:     {dist: categorical, values: [f, m], p: [0.52, 0.48]}
    occupation: {dist: conditional, given: gender,
                 table: {f: {dist: categorical, values: [nurse, engineer], p: [0.6, 0.4]},
                         m: {dist: categorical, values: [nurse, engineer], p: [0.2, 0.8]}}}

Correlated pairs are expressed with ``conditional``: the second attribute's distribution depends
on the value of the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from populace.errors import PopulationError


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def sample(self, n: int, rng: np.random.Generator, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def parents(self) -> set[str]:
        """Attributes this distribution depends on."""
        return set()


class _Bounded(_Dist):
    min: float | None = None
    max: float | None = None
    integer: bool = False

    def _finish(self, values: np.ndarray) -> np.ndarray:
        if self.min is not None or self.max is not None:
            values = np.clip(values, self.min, self.max)
        if self.integer:
            return np.rint(values).astype(np.int64)
        return values.astype(np.float64, copy=False)


class Constant(_Dist):
    dist: Literal["constant"]
    value: float | int | str | bool

    def sample(self, n: int, rng: np.random.Generator, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.full(n, self.value)


class Normal(_Bounded):
    dist: Literal["normal"]
    mean: float = 0.0
    std: float = Field(1.0, ge=0)

    def sample(self, n: int, rng: np.random.Generator, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return self._finish(rng.normal(self.mean, self.std, n))


class LogNormal(_Bounded):
    dist: Literal["lognormal"]
    mean: float = Field(0.0, description="mean of the underlying normal")
    sigma: float = Field(1.0, ge=0, description="std of the underlying normal")

    def sample(self, n: int, rng: np.random.Generator, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return self._finish(rng.lognormal(self.mean, self.sigma, n))


class Uniform(_Bounded):
    dist: Literal["uniform"]
    low: float = 0.0
    high: float = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self

    def sample(self, n: int, rng: np.random.Generator, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return self._finish(rng.uniform(self.low, self.high, n))


class Integer(_Dist):
    dist: Literal["integer"]
    low: int
    high: int = Field(description="inclusive upper bound")

    @model_validator(mode="after")
    def _ordered(self) -> Integer:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self

    def sample(self, n: int, rng: np.random.Generator, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return rng.integers(self.low, self.high + 1, n, dtype=np.int64)


class Categorical(_Dist):
    dist: Literal["categorical"]
    values: list[str | int | float | bool] = Field(min_length=1)
    p: list[float] | None = None

    @model_validator(mode="after")
    def _probabilities(self) -> Categorical:
        if self.p is not None:
            if len(self.p) != len(self.values):
                raise ValueError(f"p has {len(self.p)} entries but values has {len(self.values)}")
            if any(x < 0 for x in self.p) or not np.isclose(sum(self.p), 1.0, atol=1e-6):
                raise ValueError(f"p must be non-negative and sum to 1 (sums to {sum(self.p):g})")
        return self

    def sample(self, n: int, rng: np.random.Generator, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        values = np.asarray(self.values)
        p = None if self.p is None else np.asarray(self.p) / np.sum(self.p)
        return values[rng.choice(len(values), size=n, p=p)]


class Conditional(_Dist):
    dist: Literal["conditional"]
    given: str = Field(description="the attribute this one depends on")
    table: dict[str, Distribution] = Field(min_length=1)
    default: Distribution | None = None

    def parents(self) -> set[str]:
        found = {self.given}
        for dist in self.table.values():
            found |= dist.parents()
        if self.default is not None:
            found |= self.default.parents()
        return found

    def sample(self, n: int, rng: np.random.Generator, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        keys = np.asarray(columns[self.given]).astype(str)
        out: np.ndarray | None = None
        covered = np.zeros(n, dtype=bool)
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for key, dist in self.table.items():
            idx = np.flatnonzero(keys == key)
            covered[idx] = True
            parts.append((idx, dist.sample(len(idx), rng, _take(columns, idx))))
        missing = np.flatnonzero(~covered)
        if len(missing):
            if self.default is None:
                bad = sorted(set(keys[missing].tolist()))[:5]
                raise PopulationError(
                    f"conditional on {self.given!r}: no entry for value(s) {bad}; "
                    f"table has {sorted(self.table)} (add them or a 'default')"
                )
            parts.append((missing, self.default.sample(len(missing), rng, _take(columns, missing))))
        dtype = np.result_type(*[p[1].dtype for p in parts if len(p[1])] or [np.dtype(np.float64)])
        out = np.empty(n, dtype=dtype)
        for idx, values in parts:
            out[idx] = values
        return out


def _take(columns: Mapping[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.asarray(col)[idx] for name, col in columns.items()}


Distribution = Annotated[
    Constant | Normal | LogNormal | Uniform | Integer | Categorical | Conditional,
    Field(discriminator="dist"),
]
Conditional.model_rebuild()

#: The ``dist:`` names, read off the union above.
KINDS = frozenset(get_args(kind.model_fields["dist"].annotation)[0] for kind in get_args(get_args(Distribution)[0]))


def sample_attributes(
    declared: Mapping[str, Any], n: int, rng: np.random.Generator,
    existing: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Sample every declared attribute for ``n`` agents, parents before the attributes that use them."""
    columns: dict[str, np.ndarray] = dict(existing or {})
    pending = dict(declared)
    while pending:
        ready = [name for name, d in pending.items() if d.parents() <= set(columns)]
        if not ready:
            unknown = {p for d in pending.values() for p in d.parents()} - set(columns) - set(pending)
            what = f"unknown attribute(s) {sorted(unknown)}" if unknown else "a cycle"
            raise PopulationError(f"population.attributes: conditional on {what} among {sorted(pending)}")
        for name in ready:
            columns[name] = pending.pop(name).sample(n, rng, columns)
    return columns
