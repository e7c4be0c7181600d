from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from populace import PopulationError
from populace.persona import Distribution, sample_attributes

ADAPTER: TypeAdapter[Distribution] = TypeAdapter(Distribution)


def declare(**specs: dict) -> dict:
    return {name: ADAPTER.validate_python(spec) for name, spec in specs.items()}


def test_distributions_match_their_parameters() -> None:
    n = 200_000
    cols = sample_attributes(declare(
        age={"dist": "normal", "mean": 40, "std": 10, "min": 18, "max": 90, "integer": True},
        income={"dist": "lognormal", "mean": 10.0, "sigma": 0.5},
        u={"dist": "uniform", "low": 2, "high": 4},
        kids={"dist": "integer", "low": 0, "high": 3},
        gender={"dist": "categorical", "values": ["f", "m"], "p": [0.7, 0.3]},
        const={"dist": "constant", "value": 1.5},
    ), n, np.random.default_rng(0))
    assert cols["age"].dtype == np.int64 and cols["age"].min() >= 18
    assert abs(cols["age"].mean() - 40) < 0.2
    assert abs(np.log(cols["income"]).mean() - 10.0) < 0.01
    assert abs(np.log(cols["income"]).std() - 0.5) < 0.01
    assert cols["u"].min() >= 2 and cols["u"].max() <= 4
    assert set(np.unique(cols["kids"]).tolist()) == {0, 1, 2, 3}
    assert abs(np.mean(cols["gender"] == "f") - 0.7) < 0.01
    assert np.all(cols["const"] == 1.5)


def test_conditional_gives_correlated_pairs_in_dependency_order() -> None:
    specs = declare(
        job={"dist": "conditional", "given": "gender", "table": {
            "f": {"dist": "categorical", "values": ["nurse", "engineer"], "p": [0.9, 0.1]},
            "m": {"dist": "categorical", "values": ["nurse", "engineer"], "p": [0.1, 0.9]},
        }},
        gender={"dist": "categorical", "values": ["f", "m"]},
    )
    cols = sample_attributes(specs, 50_000, np.random.default_rng(1))
    female = cols["gender"] == "f"
    assert abs(np.mean(cols["job"][female] == "nurse") - 0.9) < 0.02
    assert abs(np.mean(cols["job"][~female] == "nurse") - 0.1) < 0.02


def test_same_seed_same_sample() -> None:
    specs = declare(x={"dist": "normal"})
    a = sample_attributes(specs, 10, np.random.default_rng(5))["x"]
    b = sample_attributes(specs, 10, np.random.default_rng(5))["x"]
    assert np.array_equal(a, b)


def test_conditional_on_unknown_attribute_or_missing_value() -> None:
    with pytest.raises(PopulationError, match="unknown attribute"):
        sample_attributes(declare(job={"dist": "conditional", "given": "nope", "table": {
            "a": {"dist": "constant", "value": 1}}}), 5, np.random.default_rng(0))
    with pytest.raises(PopulationError, match="no entry for value"):
        sample_attributes(declare(
            g={"dist": "categorical", "values": ["a", "b"]},
            job={"dist": "conditional", "given": "g", "table": {"a": {"dist": "constant", "value": 1}}},
        ), 50, np.random.default_rng(0))


@pytest.mark.parametrize("spec", [
    {"dist": "gaussian"},
    {"dist": "categorical", "values": ["a", "b"], "p": [0.5]},
    {"dist": "categorical", "values": ["a", "b"], "p": [0.9, 0.9]},
    {"dist": "uniform", "low": 3, "high": 1},
    {"dist": "normal", "std": -1},
])
def test_invalid_declarations_are_rejected(spec: dict) -> None:
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(spec)
