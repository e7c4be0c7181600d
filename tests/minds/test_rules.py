from __future__ import annotations

import pytest
from pydantic import ValidationError

from populace import Population
from populace.actions import ActionSpace
from populace.minds.rules import RulesMind
from populace.policy import PolicyParams, params_model, policies


def test_every_policy_declares_a_parameter_model_whose_defaults_validate() -> None:
    for name, _ in policies.items():
        model = params_model(name)
        assert issubclass(model, PolicyParams)
        assert model.model_config.get("extra") == "forbid"
        model.model_validate({})


def test_params_are_typed_with_defaults_filled_in() -> None:
    mind = RulesMind(Population(size=3), ActionSpace(), {"policy": "market_shopper", "params": {"consider": "3"}})
    assert mind.params == {"strategy": "best", "consider": 3, "patience": 2, "haggle": 0.0}
    assert mind.settings(params_model("market_shopper")).consider == 3


@pytest.mark.parametrize(("params", "loc", "message"), [
    ({"threshold": "abc"}, ("params", "threshold"), "valid number"),
    ({"thresold": 0.3}, ("params", "thresold"), "did you mean 'threshold'?"),
    ({"threshold": -0.1}, ("params", "threshold"), "greater than or equal to 0"),
])
def test_bad_params_are_errors_at_their_key(params: dict[str, object], loc: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        RulesMind.Config.model_validate({"policy": "bounded_confidence", "params": params})
    error = info.value.errors()[0]
    assert error["loc"] == loc and message in error["msg"]


def test_a_policy_without_parameters_takes_none() -> None:
    with pytest.raises(ValidationError, match=r"unknown parameter \(accepted: none\)"):
        RulesMind.Config.model_validate({"policy": "tit_for_tat", "params": {"round": 2}})
