"""The scripted backend: deterministic answers from a function or a table, for tests and for
runs that must behave like rules while exercising the whole model path (cache, replay, counters).

    ScriptedBackend({"vaccine": '{"action": "share"}', "*": '{"action": "idle"}'},
                    probabilities={"yes": 3, "no": 1})

A table maps a substring of the prompt to the reply (first match in table order; ``"*"`` is the
fallback); a function gets ``(prompt_text, sampling, schema)`` and may raise ``ModelError`` to
inject a fault. Without either, the reply is the smallest value valid for the schema (or "").
``choose`` uses ``probabilities`` (weights by option, 0 if absent, uniform if none), or a
function ``(prompt_text, options) -> weights``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import Field

from populace.errors import ScenarioError
from populace.llm.base import (
    Backend,
    BackendConfig,
    Choice,
    Completion,
    ModelError,
    Prompt,
    Sampling,
    register_backend,
)

Respond = Callable[[str, Sampling, "dict[str, Any] | None"], str]
Score = Callable[[str, Sequence[str]], Sequence[float]]


def prompt_text(prompt: Prompt) -> str:
    """A prompt flattened to text, one ``role: content`` line per message."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in prompt)


def example_of(schema: dict[str, Any]) -> Any:
    """The smallest value valid for ``schema`` (first alternative, first enum value, minimum)."""
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return example_of(schema[key][0])
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example_of(props.get(name, {})) for name in schema.get("required", props)}
    if kind == "array":
        return [example_of(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "x" * schema.get("minLength", 0)


@register_backend
class ScriptedBackend(Backend):
    """Answers from a table or function; ``latency`` seconds of simulated work per call."""

    name = "scripted"

    class Config(BackendConfig):
        responses: dict[str, str] | str | None = Field(None, description="prompt substring -> reply")
        probabilities: dict[str, float] | None = Field(None, description="option -> weight")
        function: Any = Field(None, description="a callable or 'module:attribute'")

    def __init__(self, respond: Respond | Mapping[str, str] | str | None = None, *,
                 probabilities: Score | Mapping[str, float] | None = None, name: str = "scripted",
                 latency: float = 0.0) -> None:
        self.respond = respond
        self.probabilities = probabilities
        self.name = name
        self.latency = latency
        self.calls = 0

    @classmethod
    def from_spec(cls, spec: ScriptedBackend.Config) -> ScriptedBackend:
        """From a scenario: ``responses`` (table or one reply), ``probabilities``, or ``function``."""
        respond: Any = spec.responses
        if spec.function is not None:
            respond = _load_callable(spec.function)
        return cls(respond, probabilities=spec.probabilities, name=f"scripted:{spec.model or 'table'}")

    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        text = prompt_text(prompt)
        if callable(self.respond):
            reply = self.respond(text, sampling, schema)
        elif isinstance(self.respond, str):
            reply = self.respond
        elif isinstance(self.respond, Mapping):
            found = next((v for k, v in self.respond.items() if k != "*" and k in text), None)
            reply = found if found is not None else self.respond.get("*") or _default(schema)
        else:
            reply = _default(schema)
        return Completion(text=reply, request_id="", tokens_in=len(text.split()), tokens_out=len(reply.split()))

    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if callable(self.probabilities):
            weights = np.asarray(self.probabilities(prompt_text(prompt), options), dtype=np.float64)
        elif self.probabilities:
            weights = np.asarray([self.probabilities.get(o, 0.0) for o in options], dtype=np.float64)
        else:
            weights = np.ones(len(options))
        if weights.sum() <= 0:
            raise ModelError("invalid_choice", f"no option of {list(options)!r} has a scripted probability")
        return Choice(options=list(options), probabilities=weights / weights.sum(), request_id="",
                      tokens_in=len(prompt_text(prompt).split()))


def _default(schema: dict[str, Any] | None) -> str:
    return json.dumps(example_of(schema)) if schema is not None else ""


def _load_callable(target: Any) -> Any:
    if callable(target):
        return target
    module, _, attribute = str(target).partition(":")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError):
        raise ScenarioError(f"model.function: cannot import {target!r} (expected 'module:attribute')") from None
    if not callable(found):
        raise ScenarioError(f"model.function: {target!r} is not callable")
    return found
