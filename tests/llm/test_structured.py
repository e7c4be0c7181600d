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
