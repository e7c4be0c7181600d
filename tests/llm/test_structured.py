"""Parsing, repairing and validating structured model output."""

from __future__ import annotations

import pytest

from populace.actions import ActionSpace, ActionSpec, Arg
from populace.llm.structured import InvalidOutput, parse_json, parse_valid, validation_errors


@pytest.mark.parametrize(("text", "value"), [
    ('{"a": 1}', {"a": 1}),
    ('Here you go: {"a": 1} hope it helps', {"a": 1}),
    ('```json\n{"a": [1, 2,],}\n```', {"a": [1, 2]}),
    ("{'a': 'x', 'b': True, 'c': None}", {"a": "x", "b": True, "c": None}),
    ('{"a": {"b": "text with } brace"', {"a": {"b": "text with } brace"}}),
    ('[1, 2', [1, 2]),
])
def test_repairs(text: str, value: object) -> None:
    assert parse_json(text) == value


def test_unparseable_text_is_invalid_json() -> None:
    with pytest.raises(InvalidOutput) as info:
        parse_json("no json here")
    assert info.value.cause == "invalid_json"


def test_validation_of_the_action_space_schema() -> None:
    space = ActionSpace(
        ActionSpec("post", {"text": Arg.text(max_length=20)}),
        ActionSpec("follow", {"target": Arg.agent()}),
    )
    schema = space.json_schema()
    assert validation_errors({"action": "post", "args": {"text": "hi"}}, schema) == []
    assert validation_errors({"action": "follow", "args": {"target": 3}}, schema) == []
    assert validation_errors({"action": "dance", "args": {}}, schema)
    assert validation_errors({"action": "post", "args": {"text": "x" * 50}}, schema)
    with pytest.raises(InvalidOutput) as info:
        parse_valid('{"action": "follow", "args": {"target": "bob"}}', schema)
    assert info.value.cause == "schema_mismatch"


def test_types_and_bounds() -> None:
    schema = {"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 0, "maximum": 3},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    }, "required": ["n"]}
    assert validation_errors({"n": 2, "flag": False, "tags": ["a"]}, schema) == []
    assert validation_errors({"n": 2.0}, schema) == []
    assert validation_errors({"n": True}, schema)  # a boolean is not an integer
    assert validation_errors({"n": 4}, schema)
    assert validation_errors({"n": 1, "tags": ["a", "b", "c"]}, schema)
    assert validation_errors({"n": 1, "tags": [1]}, schema)
    assert validation_errors({}, schema) == ["$: missing 'n'"]


def test_bounded_schema_drops_long_repeats_and_keeps_short_ones() -> None:
    from populace.llm.structured import MAX_REPEAT, bounded_schema

    schema = {"type": "object", "properties": {
        "reason": {"type": "string", "maxLength": 30, "minLength": 2},
        "content": {"type": "string", "maxLength": 2000},  # one nested rule per character in llama.cpp
        "tags": {"type": "array", "maxItems": 24, "items": {"type": "string", "maxLength": MAX_REPEAT + 1}},
        "ids": {"type": "array", "minItems": 1, "maxItems": 5000, "items": {"type": "integer"}},
    }}
    bounded = bounded_schema(schema)["properties"]
    assert bounded["reason"] == {"type": "string", "maxLength": 30, "minLength": 2}
    assert bounded["content"] == {"type": "string"}
    assert bounded["tags"]["maxItems"] == 24 and bounded["tags"]["items"] == {"type": "string"}
    assert bounded["ids"] == {"type": "array", "minItems": 1, "items": {"type": "integer"}}
    assert schema["properties"]["content"]["maxLength"] == 2000  # the original is untouched


def test_bounded_schema_turns_huge_enums_and_unions_into_their_type_or_a_tagged_object() -> None:
    from populace.llm.structured import MAX_ALTERNATIVES, MAX_ENUM, bounded_schema

    assert bounded_schema({"enum": ["a", "b"]}) == {"enum": ["a", "b"]}
    assert bounded_schema({"enum": [f"v{i}" for i in range(MAX_ENUM + 1)]}) == {"type": "string"}
    assert bounded_schema({"enum": list(range(MAX_ENUM + 1))}) == {"type": "integer"}
    assert bounded_schema({"enum": ["x", *range(MAX_ENUM)]}) == {}
    space = ActionSpace(*(ActionSpec(f"act_{i}", {"text": Arg.text(2000), "n": Arg.integer(ge=0)})
                          for i in range(MAX_ALTERNATIVES + 1)))
    schema = space.json_schema()
    bounded = bounded_schema(schema)
    assert "oneOf" not in bounded and bounded["required"] == ["action", "args"]
    assert bounded["properties"]["action"] == {"enum": space.names}
    # looser, never tighter: whatever the full schema accepts, the bounded one accepts
    answer = {"action": "act_3", "args": {"text": "hello", "n": 2}}
    assert validation_errors(answer, schema) == [] and validation_errors(answer, bounded) == []
    assert validation_errors({"action": "fly", "args": {}}, bounded)  # the tag is still constrained
    small = bounded_schema({"anyOf": [{"type": "string"}, {"type": "integer"}]})
    assert small == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    untagged = {"anyOf": [{"type": "string", "const": f"s{i}"} for i in range(MAX_ALTERNATIVES + 1)]}
    assert bounded_schema(untagged) == {"type": "string"}


def _grammar_depth(grammar: str) -> int:
    """The deepest nesting of parentheses in a GBNF grammar, outside literals and character classes."""
    depth = deepest = 0
    quote = bracket = escaped = False
    for ch in grammar:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote:
            quote = ch != '"'
        elif bracket:
            bracket = ch != "]"
        elif ch == '"':
            quote = True
        elif ch == "[":
            bracket = True
        elif ch in "()":
            depth += 1 if ch == "(" else -1
            deepest = max(deepest, depth)
    return deepest


def test_every_worlds_bounded_action_schema_makes_a_grammar_llama_cpp_accepts() -> None:
    """llama.cpp's grammar parser fails between 1,000 and 1,500 nested repeats (measured: maxLength 1,000
    compiles, 1,500 crashes the process), and a generative mind sends its world's whole action space."""
    gbnf = pytest.importorskip("llama_cpp.llama_grammar").json_schema_to_gbnf
    import json

    from populace.llm.structured import MAX_REPEAT, bounded_schema
    from populace.minds.generative import _with_nothing
    from populace.world import worlds

    deepest = {}
    for name, cls in worlds.items():
        schema = _with_nothing(cls.actions.json_schema())
        grammar = gbnf(json.dumps(bounded_schema(schema)))
        deepest[name] = _grammar_depth(grammar)
        assert deepest[name] <= MAX_REPEAT + 16 and len(grammar) < 64_000, (name, deepest[name], len(grammar))
    assert _grammar_depth(gbnf(json.dumps({"type": "string", "maxLength": 2000}))) > 1000  # what it guards against
