"""Operation arguments typed from the method's signature, validated like a policy's parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from populace.parameters import signature_params, validate_params

if TYPE_CHECKING:
    from decimal import Decimal  # only a type checker imports it: the annotation cannot be resolved at run time


class Ops:
    def broadcast(self, value: float, share: float = 0.05) -> None: ...

    def anything(self, size: int, **extra: Any) -> None: ...

    def unresolved(self, amount: Decimal) -> None: ...


def test_types_defaults_and_unknown_keys_come_from_the_signature() -> None:
    model = signature_params(Ops.broadcast)
    assert validate_params(model, {"value": "0.5"}).model_dump() == {"value": 0.5, "share": 0.05}
    with pytest.raises(ValidationError) as info:
        validate_params(model, {"valeu": 1, "share": "lots"}, ("args",))
    errors = {e["loc"]: e for e in info.value.errors()}
    assert errors[("args", "value")]["type"] == "missing"
    assert errors[("args", "share")]["type"] == "float_parsing"
    assert errors[("args", "valeu")]["msg"] == "unknown parameter; did you mean 'value'? (accepted: share, value)"


def test_kwargs_accept_any_key_and_an_unresolvable_annotation_accepts_any_value() -> None:
    assert validate_params(signature_params(Ops.anything), {"size": 3, "colour": "red"}).model_dump() == {
        "size": 3, "colour": "red"}
    assert validate_params(signature_params(Ops.unresolved), {"amount": "1.5"}).model_dump() == {"amount": "1.5"}
