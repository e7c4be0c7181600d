"""Rules policies for the epidemic world, shaped like a grouped (archetype) mind.

``epidemic_cautious`` forms the same groups an archetype mind would (age group, occupation, employment,
case level, symptoms, positive test, tight savings), computes one action distribution per
group, and samples each agent's action from its group's distribution. Its cost therefore grows
like an archetype mind's without the model calls: one pass to group, one to sample.

The distribution: an agent stays home with probability
``1 - exp(-caution * case_level * age_risk)``, halved when its savings are tight; a symptomatic
agent isolates with probability ``symptom_isolation``; a positively tested agent isolates.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from populace.actions import Actions
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Observations

#: (column, number of values) of the grouping key, in mixed-radix order.
GROUP_KEY = (("age_group", 5), ("occupation", 4), ("employed", 2), ("case_level", 5), ("symptoms", 2),
             ("tested_positive", 2), ("savings_tight", 2), ("alive", 2))
AGE_RISK = np.asarray([0.6, 0.8, 1.0, 1.3, 1.8])
CHOICES = ("go_out", "stay_home", "isolate")


def group_codes(obs: Observations) -> np.ndarray:
    """One integer per agent naming its group (the mixed-radix code of :data:`GROUP_KEY`)."""
    code = np.zeros(len(obs), dtype=np.int32)
    for column, radix in GROUP_KEY:
        code *= radix
        code += obs[column].astype(np.int32)
    return code


def group_values(codes: np.ndarray) -> dict[str, np.ndarray]:
    """Decode group codes back into their key columns."""
    values: dict[str, np.ndarray] = {}
    rest = codes.copy()
    for column, radix in reversed(GROUP_KEY):
        values[column] = rest % radix
        rest //= radix
    return values


def cautious_distribution(groups: dict[str, np.ndarray], caution: float, symptom_isolation: float) -> np.ndarray:
    """Per group: probabilities of (go_out, stay_home, isolate), rows summing to one."""
    stay = 1.0 - np.exp(-caution * groups["case_level"] * AGE_RISK[groups["age_group"]])
    stay = np.where(groups["savings_tight"] == 1, 0.5 * stay, stay)
    isolate = np.where(groups["tested_positive"] == 1, 1.0,
                       np.where(groups["symptoms"] == 1, symptom_isolation, 0.0))
    stay = (1.0 - isolate) * stay
    return np.stack([1.0 - stay - isolate, stay, isolate], axis=1)


def sample_by_group(obs: Observations, table: np.ndarray, codes: np.ndarray, inverse: np.ndarray,
                    rng: np.random.Generator) -> list[Actions]:
    """Draw each living agent's action from its group's row of ``table``."""
    cumulative = np.cumsum(table, axis=1).astype(np.float32)
    u = rng.random(len(obs), dtype=np.float32)
    pick = (u >= cumulative[inverse, 0]).astype(np.int8) + (u >= cumulative[inverse, 1])
    pick[~obs["alive"]] = -1
    return [Actions(name, obs.agents[pick == i]) for i, name in enumerate(CHOICES)]


class CautiousParams(PolicyParams):
    caution: float = Field(0.5, ge=0, description="how fast staying home rises with the case level")
    symptom_isolation: float = Field(0.7, ge=0, le=1, description="chance of isolating with symptoms")


@policy("epidemic_cautious", CautiousParams, reads=tuple(column for column, _ in GROUP_KEY))
def cautious(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Grouped decisions: stay home as cases rise (``caution``), isolate when sick (``symptom_isolation``)."""
    codes = group_codes(obs)
    size = int(np.prod([radix for _, radix in GROUP_KEY]))
    seen = np.flatnonzero(np.bincount(codes, minlength=size))  # the distinct groups: one "call" each
    index = np.zeros(size, dtype=np.int32)
    index[seen] = np.arange(len(seen), dtype=np.int32)
    prm = mind.settings(CautiousParams)
    table = cautious_distribution(group_values(seen), prm.caution, prm.symptom_isolation)
    census: dict[str, int] = mind.policy_state("census", dict)
    census["groups"] = len(seen)  # what an archetype mind would have asked
    return sample_by_group(obs, table, codes, index[codes], mind.rng)


@policy("epidemic_routine", reads=("alive",))
def routine(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """No behaviour: everyone alive follows the routine (goes out, works if employed)."""
    return [Actions("go_out", obs.agents[obs["alive"]])]
