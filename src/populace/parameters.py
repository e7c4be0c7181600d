"""Typed parameters of what a scenario calls by name with arguments: rules policies (a declared
model, see :mod:`populace.minds.rules`) and world operations (a model read from the method's
signature). Both validate the same way: a value of the wrong type names the key, and an unknown
key names the closest accepted one::

    interventions.0.args.valu: unknown parameter; did you mean 'value'? (accepted: share, value)
"""

from __future__ import annotations

import difflib
import functools
import inspect
import typing
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic_core import InitErrorDetails, PydanticCustomError

M = TypeVar("M", bound=BaseModel)


def validate_params(model: type[M], values: Mapping[str, Any], under: tuple[str, ...] = ()) -> M:
    """``values`` as ``model``; raises a ValidationError whose errors sit under ``under`` and whose
    unknown keys are ``unknown_parameter`` errors with a did-you-mean and the accepted keys."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        known = sorted(model.model_fields)
        raise ValidationError.from_exception_data(
            exc.title, [_located(error, known, under) for error in exc.errors()]) from None


def _located(error: Any, known: list[str], under: tuple[str, ...]) -> InitErrorDetails:
    loc = (*under, *error["loc"])
    if error["type"] != "extra_forbidden":
        return {"type": error["type"], "loc": loc, "input": error["input"], "ctx": error.get("ctx") or {}}
    close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    message = f"unknown parameter{hint} (accepted: {', '.join(known) or 'none'})"
    return {"type": PydanticCustomError("unknown_parameter", message), "loc": loc, "input": error["input"]}


@functools.cache
def signature_params(function: Callable[..., Any]) -> type[BaseModel]:
    """The keyword arguments of a method (``self`` left out) as a model: each parameter's annotation
    is its type (``Any`` where it has none or it cannot be resolved), a parameter without a default
    is required, and other keys are errors unless the method takes ``**kwargs``."""
    try:
        hints = typing.get_type_hints(function, include_extras=True)  # keeps Annotated bounds
    except Exception:  # an annotation naming something only a type checker imports
        hints = {}
    fields: dict[str, Any] = {}
    extra: Literal["allow", "forbid"] = "forbid"
    for i, (name, parameter) in enumerate(inspect.signature(function).parameters.items()):
        if i == 0 and name in ("self", "cls"):
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra = "allow"
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints.get(name, Any), default)
    config = ConfigDict(extra=extra, arbitrary_types_allowed=True, protected_namespaces=(), allow_inf_nan=False)
    with warnings.catch_warnings():  # a parameter called json or copy shadows a BaseModel method: harmless here
        warnings.simplefilter("ignore", UserWarning)
        model: type[BaseModel] = create_model(
            f"{getattr(function, '__name__', 'operation')}_args", __config__=config, **fields)
    return model
