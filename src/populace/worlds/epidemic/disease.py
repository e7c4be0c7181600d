"""SEIR(M) disease stages and transmission over group-membership contact layers.

Stages: susceptible -> exposed -> infectious -> recovered, or mortality (death) at the end of
the infectious stage with an age-specific infection fatality rate. Stage durations are whole
days drawn from a gamma distribution with the configured mean (``duration_shape = 0`` makes
them fixed).

Transmission is frequency-dependent within each group of each layer: a susceptible agent present
in a group of ``n`` present members, ``i`` of them infectious, faces a daily hazard
``beta_layer * i / (n - 1)`` and is infected with probability ``1 - exp(-sum of hazards)``.
With ``beta_layer = r0 * weight_layer / infectious_days`` (weights summing to one), one
infectious agent in a fully susceptible, fully present population causes ``r0`` infections on
average, ignoring the saturation of small groups (households). For a single well-mixed
community layer this is exactly the homogeneous SEIR model, whose final attack rate ``z``
solves ``z = 1 - exp(-r0 z)`` whatever the distribution of the stage durations.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from populace.world import WorldConfig

SUSCEPTIBLE, EXPOSED, INFECTIOUS, RECOVERED, DEAD = 0, 1, 2, 3, 4
STAGES = ("susceptible", "exposed", "infectious", "recovered", "dead")
LAYERS = ("household", "work", "community")


class DiseaseConfig(WorldConfig):
    """Parameters of the pathogen (defaults: SARS-CoV-2 ancestral strain, rounded)."""

    r0: float = Field(2.5, ge=0, description="basic reproduction number")
    exposed_days: float = Field(4.0, ge=1, description="mean latent period (days)")
    infectious_days: float = Field(5.0, ge=1, description="mean infectious period (days)")
    duration_shape: float = Field(4.0, ge=0, description="gamma shape of stage durations; 0: fixed durations")
    layer_weights: dict[str, float] = Field(
        default_factory=lambda: {"household": 0.3, "work": 0.25, "community": 0.45},
        description="share of transmission in each contact layer (household, work, community)",
    )
    symptomatic_share: float = Field(0.6, ge=0, le=1, description="share of infections that show symptoms")
    fatality: list[float] = Field(
        [0.00002, 0.0001, 0.0008, 0.006, 0.05], min_length=5, max_length=5,
        description="infection fatality rate per age group (after Levin et al. 2020, rounded)",
    )
    initial_infected: float = Field(
        0.0005, ge=0, description="infectious agents at the start: a share if below 1, else a count"
    )

    @model_validator(mode="after")
    def _weights(self) -> DiseaseConfig:
        unknown = set(self.layer_weights) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown layer {sorted(unknown)[0]!r}; expected one of {', '.join(LAYERS)}")
        if any(v < 0 for v in self.layer_weights.values()) or sum(self.layer_weights.values()) <= 0:
            raise ValueError("layer_weights must be non-negative with a positive sum")
        return self

    def betas(self) -> dict[str, float]:
        """Daily transmission rate per layer."""
        total = sum(self.layer_weights.values())
        return {layer: self.r0 * self.layer_weights.get(layer, 0.0) / total / self.infectious_days
                for layer in LAYERS}


def durations(mean: float, shape: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Whole-day stage durations (at least one day) with the given mean."""
    if shape <= 0 or n == 0:
        return np.full(n, max(1, round(mean)), dtype=np.int16)
    return np.maximum(1, np.rint(rng.gamma(shape, mean / shape, n))).astype(np.int16)


def layer_pressure(groups: np.ndarray, n_groups: int, present: np.ndarray, infectious: np.ndarray) -> np.ndarray:
    """Per group: infectious members present / (members present - 1), as float32.

    ``present`` is a per-agent weight (0 absent, 1 fully present, in between for partial
    contact), boolean or float; ``infectious`` holds the ids of the infectious agents.
    """
    if present.dtype == bool:
        members = np.bincount(groups[present], minlength=n_groups)
        sick_ids = infectious[present[infectious]]
        sick = np.bincount(groups[sick_ids], minlength=n_groups)
    else:
        members = np.bincount(groups, weights=present, minlength=n_groups)
        sick = np.bincount(groups[infectious], weights=present[infectious], minlength=n_groups)
    return (sick / np.maximum(members - 1.0, 1.0)).astype(np.float32)
