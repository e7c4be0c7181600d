"""Structured output: parse a model's text as JSON, repair common damage, validate against a schema.

Backends that can constrain decoding (llama.cpp grammars, vLLM guided decoding) rarely need
this; the client still validates every answer, so a backend that ignores the schema is caught.
The validator covers the JSON Schema subset that action spaces produce: ``type``, ``enum``,
``const``, ``properties``/``required``/``additionalProperties``, ``items``, ``minItems``/``maxItems``,
``minimum``/``maximum``, ``minLength``/``maxLength``, ``oneOf``/``anyOf``/``allOf``.

What a backend constrains decoding with is :func:`bounded_schema`: the same schema, loosened where
grammar compilers would blow up. The answer is still validated against the full schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
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


#: Bounds on what a schema sent for constrained decoding asks for. llama.cpp's schema-to-grammar
#: converters unroll a length or item bound into one nested rule per repeat: its grammar parser
#: refuses ~1,500 and the server then crashes; xgrammar and outlines (vLLM, SGLang) likewise grow an
#: automaton per repeat. Enum values and ``oneOf``/``anyOf`` alternatives cost a rule each, compiled on
#: every request (10,000 values: 18 s on llama.cpp).
MAX_REPEAT = 256
MAX_ENUM = 256
MAX_ALTERNATIVES = 64
_REPEATS = ("maxLength", "minLength", "maxItems", "minItems")


def bounded_schema(schema: Any) -> Any:
    """``schema`` as sent to a backend that compiles it into a grammar: bounded in size whatever the
    action space, accepted by llama.cpp (server and embedded), vLLM and SGLang.

    Only loosens, never tightens: a length or item bound above :data:`MAX_REPEAT` is dropped (texts
    are bounded by ``max_tokens`` instead, and the world still rejects one that is too long; short
    bounds stay, or a small model runs on past a short ``reason``); an enum of more than
    :data:`MAX_ENUM` values becomes its values' type; more than :data:`MAX_ALTERNATIVES` alternatives
    become one object whose tag (a property every alternative fixes with ``const``, like an action's
    name) is an enum, or else the alternatives' common type. The client validates every answer
    against the full schema, so what the grammar lets through is caught and re-asked.
    """
    if isinstance(schema, list):
        return [bounded_schema(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bounded_schema(v) for k, v in schema.items()
           if not (k in _REPEATS and isinstance(v, int) and v > MAX_REPEAT)}
    if isinstance(schema.get("enum"), list) and len(schema["enum"]) > MAX_ENUM:
        del out["enum"]
        kind = _common_type(schema["enum"])
        if kind is not None:
            out.setdefault("type", kind)
    for key in ("oneOf", "anyOf"):
        alternatives = out.get(key)
        if isinstance(alternatives, list) and len(alternatives) > MAX_ALTERNATIVES:
            del out[key]
            out.update(_merged(alternatives))
    return out


def _common_type(values: Sequence[Any]) -> str | None:
    kinds = {_json_type(v) for v in values}
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else None


def _json_type(value: Any) -> str:
    for kind in ("boolean", "integer", "number", "string", "array", "object", "null"):
        if _is_type(value, kind):
            return kind
    return "string"


def _merged(alternatives: list[Any]) -> dict[str, Any]:
    """One schema for many alternatives: a tagged object (the tag an enum of the alternatives'
    constants, every other property free) when they share a ``const`` property, else their type."""
    objects = [a for a in alternatives if isinstance(a, dict) and isinstance(a.get("properties"), dict)]
    if len(objects) == len(alternatives):
        tags = set.intersection(*({n for n, p in a["properties"].items() if isinstance(p, dict) and "const" in p}
                                  for a in objects))
        if tags:
            tag = sorted(tags)[0]
            required = set.intersection(*(set(a.get("required", [])) for a in objects))
            names = list(dict.fromkeys(n for a in objects for n in a["properties"]))
            return {"type": "object", "required": sorted(required | {tag}),
                    "properties": {n: bounded_schema({"enum": [a["properties"][tag]["const"] for a in objects]})
                                   if n == tag else {} for n in names}}
    kinds = {a.get("type") for a in alternatives if isinstance(a, dict)}
    return {"type": kinds.pop()} if len(kinds) == 1 and None not in kinds else {}
