"""Structured output: parse a model's text as JSON, repair common damage, validate against a schema.

Backends that can constrain decoding (llama.cpp grammars, vLLM guided decoding) rarely need
this; the client still validates every answer, so a backend that ignores the schema is caught.
The validator covers the JSON Schema subset that action spaces produce: ``type``, ``enum``,
``const``, ``properties``/``required``/``additionalProperties``, ``items``, ``minItems``/``maxItems``,
``minimum``/``maximum``, ``minLength``/``maxLength``, ``oneOf``/``anyOf``/``allOf``.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


class InvalidOutput(ValueError):
    """The text is not JSON (``cause == "invalid_json"``) or not valid for the schema
    (``cause == "schema_mismatch"``)."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


def parse_json(text: str) -> Any:
    """Parse ``text`` as JSON, repairing what small models commonly get wrong: code fences,
    prose around the object, trailing commas, single quotes, Python literals, a missing closing
    brace. Raises :class:`InvalidOutput` (``invalid_json``) when nothing parses."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        pass
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        body = _outermost(candidate)
        if body is None:
            continue
        for attempt in _repairs(body):
            try:
                return json.loads(attempt)
            except json.JSONDecodeError:
                continue
    raise InvalidOutput("invalid_json", f"not JSON: {text[:80]!r}")


def _outermost(text: str) -> str | None:
    """The text from the first ``{`` or ``[`` to its matching close (or to the end, closed)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None
    start = min(starts)
    stack: list[str] = []
    in_string = escaped = False
    quote = ""
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                in_string = False
        elif ch in "\"'":
            in_string, quote = True, ch
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if stack:
                stack.pop()
            if not stack:
                return text[start:i + 1]
    tail = text[start:]
    if in_string:
        tail += quote
    return tail + "".join(reversed(stack))


def _repairs(body: str) -> list[str]:
    fixed = _TRAILING_COMMA.sub(r"\1", body)
    literal = re.sub(r"\b(True|False|None)\b", lambda m: _PY_LITERALS[m.group(1)], fixed)
    quoted = re.sub(r"'([^'\\]*)'", r'"\1"', literal)
    return [body, fixed, literal, quoted]


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def _is_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, (object,)))


def validation_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` violates ``schema`` (empty when it is valid)."""
    errors: list[str] = []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    kind = schema.get("type")
    if kind is not None and not any(_is_type(value, k) for k in (kind if isinstance(kind, list) else [kind])):
        return [*errors, f"{path}: expected {kind}, got {type(value).__name__}"]
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: missing {name!r}")
        for name, item in value.items():
            if name in properties:
                errors.extend(validation_errors(item, properties[name], f"{path}.{name}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {name!r}")
    if isinstance(value, list):
        if "items" in schema:
            for i, item in enumerate(value):
                errors.extend(validation_errors(item, schema["items"], f"{path}[{i}]"))
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: {len(value)} items is out of range")
    if isinstance(value, str) and not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
        errors.append(f"{path}: length {len(value)} is out of range")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > maximum {schema['maximum']}")
    for sub in schema.get("allOf", []):
        errors.extend(validation_errors(value, sub, path))
    for key, exactly_one in (("oneOf", True), ("anyOf", False)):
        if key in schema:
            matches = sum(not validation_errors(value, sub, path) for sub in schema[key])
            if matches == 0 or (exactly_one and matches > 1):
                errors.append(f"{path}: matches {matches} of the {key} alternatives")
    return errors


def parse_valid(text: str, schema: dict[str, Any]) -> Any:
    """Parse (with repair) and validate; raises :class:`InvalidOutput` naming the first problem."""
    value = parse_json(text)
    errors = validation_errors(value, schema)
    if errors:
        raise InvalidOutput("schema_mismatch", errors[0])
    return value
