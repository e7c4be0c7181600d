"""A synthetic census-like population and its contact layers, built vectorised for millions.

Agents get an age group, a household, an occupation, a workplace and a neighbourhood. Contact
layers are *group memberships* (one int32 group id per agent and layer), never an N x N matrix:
transmission inside a group is computed with ``bincount`` over the members, so memory and time
grow linearly with the population.

Default shares are rounded from the US Census Bureau's American Community Survey for New York
City (age structure, household sizes); occupations are grouped into three sectors by whether
the work is essential, can be done from home (office) or is in-person but closable (service).
They are illustrative defaults, and every one is a config field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field, model_validator

from populace.world import WorldConfig

AGE_GROUPS = ("0-17", "18-29", "30-49", "50-64", "65+")
OCCUPATIONS = ("none", "essential", "office", "service")
NO_WORKPLACE = -1


class CensusConfig(WorldConfig):
    """Shares that define the synthetic population."""

    age_shares: list[float] = Field(
        [0.21, 0.18, 0.28, 0.18, 0.15], min_length=5, max_length=5, description=f"shares of ages {AGE_GROUPS}"
    )
    household_sizes: list[float] = Field(
        [0.32, 0.29, 0.16, 0.13, 0.06, 0.04], min_length=1,
        description="shares of households with 1, 2, 3, ... members",
    )
    employment_rate: float = Field(0.68, ge=0, le=1, description="share of 18-64 year-olds in work")
    sector_shares: list[float] = Field(
        [0.30, 0.40, 0.30], min_length=3, max_length=3, description="shares of workers: essential, office, service"
    )
    workplace_size: float = Field(20.0, ge=1, description="mean workers per workplace (geometric sizes)")
    neighbourhood_size: int = Field(
        0, ge=0, description="people per neighbourhood (community layer); 0: one well-mixed community"
    )

    @model_validator(mode="after")
    def _shares(self) -> CensusConfig:
        for name in ("age_shares", "household_sizes", "sector_shares"):
            values = getattr(self, name)
            if any(v < 0 for v in values) or sum(values) <= 0:
                raise ValueError(f"{name} must be non-negative shares with a positive sum")
        return self


@dataclass
class Census:
    """Per-agent codes and group memberships (compact dtypes)."""

    age: np.ndarray  # int8 index into AGE_GROUPS
    occupation: np.ndarray  # int8 index into OCCUPATIONS
    household: np.ndarray  # int32 household id
    workplace: np.ndarray  # int32 workplace id, NO_WORKPLACE for non-workers
    neighbourhood: np.ndarray  # int32 neighbourhood id
    n_households: int
    n_workplaces: int
    n_neighbourhoods: int

    @property
    def size(self) -> int:
        return len(self.age)


def _normalised(values: list[float]) -> np.ndarray:
    p = np.asarray(values, dtype=np.float64)
    return p / p.sum()


def synthesize(n: int, config: CensusConfig, rng: np.random.Generator) -> Census:
    """Draw ``n`` agents living in households, working in workplaces, in neighbourhoods."""
    # Households: draw sizes until they hold n people; agents fill them in order.
    size_p = _normalised(config.household_sizes)
    mean_size = float(np.dot(size_p, np.arange(1, len(size_p) + 1)))
    sizes = rng.choice(np.arange(1, len(size_p) + 1), size=int(n / mean_size * 1.1) + 16, p=size_p)
    while sizes.sum() < n:
        sizes = np.r_[sizes, rng.choice(np.arange(1, len(size_p) + 1), size=len(sizes) // 2 + 16, p=size_p)]
    ends = np.cumsum(sizes)
    n_households = int(np.searchsorted(ends, n) + 1)
    household = np.repeat(np.arange(n_households, dtype=np.int32), sizes[:n_households])[:n]
    starts = np.r_[0, ends[: n_households - 1]]
    first = np.zeros(n, dtype=bool)
    first[starts] = True

    # Ages: the first member of each household is an adult; the others follow the age shares
    # re-weighted so the whole population still matches them.
    age_p = _normalised(config.age_shares)
    head_share = n_households / n
    adult_p = age_p.copy()
    adult_p[0] = 0.0
    adult_p /= adult_p.sum()
    rest_p = np.clip(age_p - head_share * adult_p, 0.0, None)
    rest_p = rest_p / rest_p.sum() if rest_p.sum() > 0 else age_p
    age = np.where(first, _draw(rng, adult_p, n), _draw(rng, rest_p, n)).astype(np.int8)

    # Occupations: working-age adults are employed at the given rate, in a sector.
    working_age = (age >= 1) & (age <= 3)
    employed = working_age & (rng.random(n) < config.employment_rate)
    sector = _draw(rng, _normalised(config.sector_shares), n) + 1
    occupation = np.where(employed, sector, 0).astype(np.int8)

    # Workplaces: each sector's workers, shuffled, fill workplaces of geometric sizes.
    workplace = np.full(n, NO_WORKPLACE, dtype=np.int32)
    next_id = 0
    for code in range(1, len(OCCUPATIONS)):
        workers = np.flatnonzero(occupation == code)
        if len(workers) == 0:
            continue
        workers = workers[rng.permutation(len(workers))]
        mean_size = config.workplace_size
        place_sizes = rng.geometric(1.0 / mean_size, size=len(workers) // max(1, int(mean_size)) + 16)
        while place_sizes.sum() < len(workers):
            place_sizes = np.r_[place_sizes, rng.geometric(1.0 / mean_size, size=len(place_sizes) + 16)]
        used = int(np.searchsorted(np.cumsum(place_sizes), len(workers)) + 1)
        ids = np.repeat(np.arange(next_id, next_id + used, dtype=np.int32), place_sizes[:used])[: len(workers)]
        workplace[workers] = ids
        next_id += used

    # Neighbourhoods: consecutive households, about neighbourhood_size people each.
    if config.neighbourhood_size > 0:
        head_position = np.flatnonzero(first)
        block = (head_position // config.neighbourhood_size).astype(np.int32)
        neighbourhood = block[household]
        n_neighbourhoods = int(block[-1]) + 1
    else:
        neighbourhood = np.zeros(n, dtype=np.int32)
        n_neighbourhoods = 1
    return Census(
        age, occupation, household, workplace, neighbourhood.astype(np.int32),
        n_households, next_id, n_neighbourhoods,
    )


def _draw(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """Categorical draws by inverse CDF (faster than ``rng.choice`` with ``p`` at this scale)."""
    return np.minimum(np.searchsorted(np.cumsum(p), rng.random(n), side="right"), len(p) - 1).astype(np.int8)
