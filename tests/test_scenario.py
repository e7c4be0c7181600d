from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from populace import Scenario, ScenarioError, load_scenario
from populace.scenario import builtin_scenarios, json_schema

VALID: dict[str, Any] = {
    "name": "tiny",
    "steps": 3,
    "population": {"size": 10, "attributes": {"age": {"dist": "integer", "low": 18, "high": 80}}},
    "world": {"type": "wealth"},
    "minds": [{"select": "all", "type": "rules", "policy": "random_gift"}],
}


def write(tmp_path: Path, data: Any, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def test_every_builtin_scenario_is_valid() -> None:
    found = builtin_scenarios()
    assert {"wealth", "opinion"} <= set(found)
    for name in found:
        assert isinstance(load_scenario(name), Scenario)


def test_overrides_apply_before_validation() -> None:
    sc = load_scenario(VALID, ["population.size=7", "minds.0.policy=random_gift", "trace.events=none"])
    assert sc.population.size == 7 and sc.trace.events == "none"
    with pytest.raises(ScenarioError, match="key.path=value"):
        load_scenario(VALID, ["nonsense"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"steps": 0}, "steps: 0 is not accepted: Input should be greater than or equal to 1"),
        ({"schedule": {"order": "random"}}, "schedule.order: 'random' is not accepted: Input should be 'simultaneous' or 'sequential'"),
        ({"world": {"type": "welth"}}, "world.type: unknown world 'welth'; did you mean 'wealth'?"),
        ({"world": {"type": "wealth", "params": {"initial_wealth": -1}}}, "world.params.initial_wealth: -1 is not accepted"),
        ({"world": {"type": "wealth", "params": {"colour": 1}}}, "world.params.colour: unknown field"),
        ({"minds": [{"type": "rules", "policy": "random_gfit"}]}, "minds.0.policy: unknown policy 'random_gfit'; did you mean 'random_gift'?"),
        ({"minds": [{"type": "telepathy"}]}, "minds.0.type: unknown mind 'telepathy'"),
        ({"population": {"size": 5, "attributes": {"age": {"dist": "gaussian"}}}}, "population.attributes.age.dist: 'gaussian' is not accepted; expected one of 'constant', 'normal'"),
        ({"clock": {"step": "3 fortnights"}}, "clock.step: '3 fortnights' is not accepted"),
        ({"interventions": [{"at": 1, "call": "tax_and_redistrbute", "args": {"rate": 0.1}}]}, "did you mean 'tax_and_redistribute'"),
        ({"interventions": [{"at": 1, "call": "tax_and_redistribute", "args": {"rat": 0.1}}]}, "interventions.0.args:"),
        ({"seedz": 1}, "seedz: unknown field"),
        ({"population": {}}, "population: give `size` or `file`"),
    ],
)
def test_bad_fields_get_one_line_naming_field_value_and_accepted(tmp_path: Path, change: dict, expected: str) -> None:
    data = {**copy.deepcopy(VALID), **change}
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, data))
    message = str(info.value)
    assert message.startswith("s.yaml: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed", "not valid YAML at line 1"),
        ("- a\n- b\n", "a scenario must be a mapping"),
        ("", "a scenario must be a mapping"),
    ],
)
def test_unparseable_files(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(write(tmp_path, text))


def test_missing_file_and_unknown_builtin() -> None:
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario("nowhere/x.yaml")
    with pytest.raises(ScenarioError, match="did you mean 'wealth'"):
        load_scenario("welth")


def test_json_schema_exports() -> None:
    schema = json_schema()
    assert "population" in schema["properties"] and "world" in schema["required"]
    json.dumps(schema)


# -- fuzzing: any malformed file gets a ScenarioError, never another exception -------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*prefix, i))
    return found


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> dict:
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)[1:]))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return data


def _load_cleanly(tmp_path: Path, content: Any) -> None:
    try:
        load_scenario(write(tmp_path, content))
    except ScenarioError as exc:
        assert "\n" not in str(exc) and "Traceback" not in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated_scenarios())
def test_fuzzed_scenarios_fail_cleanly(tmp_path: Path, data: dict) -> None:
    _load_cleanly(tmp_path, data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_fuzzed_text_fails_cleanly(tmp_path: Path, text: str) -> None:
    _load_cleanly(tmp_path, text)
