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
from populace.scenario import builtin_scenarios, data_path, json_schema, mind_masks, scenarios_dir

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
        ({"interventions": [{"at_step": 1, "call": "tax_and_redistrbute", "args": {"rate": 0.1}}]}, "did you mean 'tax_and_redistribute'"),
        ({"interventions": [{"at_step": 1, "call": "tax_and_redistribute", "args": {"rat": 0.1}}]},
         "interventions.0.args.rat: unknown parameter; did you mean 'rate'? (accepted: rate); 'rate' is required"),
        ({"interventions": [{"at_step": 1, "call": "tax_and_redistribute", "args": {"rate": "high"}}]},
         "interventions.0.args.rate: 'high' is not accepted: Input should be a valid number"),
        ({"interventions": [{"at_step": 3, "call": "tax_and_redistribute", "args": {"rate": 0.1}}]},
         "interventions.0.at_step: 'tax_and_redistribute' at step 3 never runs: the run's last step is 2 (steps: 3)"),
        ({"interventions": [{"at": "150m", "call": "tax_and_redistribute", "args": {"rate": 0.1}}]},
         "interventions.0.at: 'tax_and_redistribute' at 150m (step 3 at 1h steps) never runs: the run's last step is 2"),
        ({"interventions": [{"at": 2, "call": "tax_and_redistribute", "args": {"rate": 0.1}}]},
         "interventions.0.at: 2 is not accepted: 2 has no unit; write a time from the start"),
        ({"interventions": [{"at": "2024-12-31T23:00:00", "call": "tax_and_redistribute", "args": {"rate": 0.1}}]},
         "interventions.0.at: 2024-12-31T23:00:00 is before the run starts (2025-01-01T08:00:00)"),
        ({"interventions": [{"at": "1h", "at_step": 1, "call": "tax_and_redistribute", "args": {"rate": 0.1}}]},
         "interventions.0: give at or at_step, not both"),
        ({"interventions": [{"call": "tax_and_redistribute", "args": {"rate": 0.1}}]},
         "interventions.0: give when it runs: at (a time from the start"),
        ({"clock": {"step": 15}}, "clock.step: 15 is not accepted: 15 has no unit"),
        ({"minds": [{"select": "all", "type": "rules", "policy": "random_gift"},
                    {"select": "age > 30", "type": "rules", "policy": "random_gift"}]},
         "minds.1: never runs: minds.0 (select: all) takes every agent first; put minds.1 before it"),
        ({"model": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "threads": 2}},
         "model.threads: the openai backend does not use it (only embedded); remove it, e.g. --set model.threads=null"),
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
    except ScenarioError as exc:  # one line per problem, each naming the file
        lines = str(exc).split("\n")
        assert all(line.startswith("s.yaml: ") for line in lines), lines
        assert "Traceback" not in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated_scenarios())
def test_fuzzed_scenarios_fail_cleanly(tmp_path: Path, data: dict) -> None:
    _load_cleanly(tmp_path, data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_fuzzed_text_fails_cleanly(tmp_path: Path, text: str) -> None:
    _load_cleanly(tmp_path, text)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("minds.0.params.threshold=abc", "opinion.yaml: minds.0.params.threshold: 'abc' is not accepted: "
                                         "Input should be a valid number"),
        ("minds.0.params.thresold=0.3", "opinion.yaml: minds.0.params.thresold: unknown parameter; "
                                        "did you mean 'threshold'? (accepted: threshold)"),
        ("model.concurency=3", "opinion.yaml: model.concurency: unknown field; did you mean 'concurrency'?"),
        ("model.backend=scriptd", "opinion.yaml: model.backend: unknown model backend 'scriptd'; did you mean 'scripted'?"),
        ("plugns=[]", "opinion.yaml: plugns: unknown field; did you mean 'plugins'?"),
    ],
)
def test_policy_params_and_model_are_checked_at_load(override: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("opinion", [override])
    assert str(info.value).startswith(expected)


def test_the_model_section_is_checked_even_when_no_mind_uses_a_model() -> None:
    with pytest.raises(ScenarioError, match=r"^scenario: model\.concurency: unknown field; did you mean 'concurrency'"):
        load_scenario({**VALID, "model": {"backend": "scripted", "concurency": 3}})
    spec = {**VALID, "model": {"backend": "scripted"}, "minds": [
        {"type": "archetype", "prompt": "{options}", "model": {"timeout": -1}}]}
    with pytest.raises(ScenarioError, match=r"minds\.0\.model\.timeout: -1 is not accepted"):
        load_scenario(spec)


def test_data_files_fall_back_to_the_builtin_scenarios_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert data_path("data/smallville.csv") == scenarios_dir() / "data" / "smallville.csv"  # posts_file's way
    sc = load_scenario(write(tmp_path, {**VALID, "population": {"file": "data/smallville.csv"}}))
    assert sc.resolve("data/smallville.csv") == scenarios_dir() / "data" / "smallville.csv"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "smallville.csv").write_text("age\n30\n", encoding="utf-8")
    assert sc.resolve("data/smallville.csv") == tmp_path / "data" / "smallville.csv"  # the user's own first
    assert sc.resolve("data/nothing.csv") == tmp_path / "data" / "nothing.csv"  # errors name the user's path


PLUGIN = '''
from pydantic import Field

from populace.actions import Actions
from populace.policy import PolicyParams, policy


class EveryParams(PolicyParams):
    every: int = Field(1, ge=1)


@policy("plugin_give_every", EveryParams)
def give_every(obs, mind):
    givers = obs.agents[obs["wealth"] > 0] if obs.step % mind.settings(EveryParams).every == 0 else obs.agents[:0]
    return [Actions("give", givers, {"to": (givers + 1) % mind.population.size})]
'''


def test_plugins_register_policies_that_the_scenario_then_uses(tmp_path: Path) -> None:
    from populace.simulation import Simulation

    (tmp_path / "mine").mkdir()
    plugin = tmp_path / "mine" / "populace_test_plugin.py"
    plugin.write_text(PLUGIN, encoding="utf-8")
    spec = {**VALID, "plugins": ["mine/populace_test_plugin.py"],
            "minds": [{"type": "rules", "policy": "plugin_give_every", "params": {"every": 2}}]}
    sc = load_scenario(write(tmp_path, spec))
    assert sc.plugins == [str(plugin.resolve())]  # absolute: a run's stored copy finds it again
    (tmp_path / "run").mkdir()
    assert load_scenario(write(tmp_path / "run", sc.to_yaml())).plugins == sc.plugins
    metrics = Simulation.from_scenario(sc).run().metrics()
    assert len(metrics) == 3
    bad = {**spec, "minds": [{"type": "rules", "policy": "plugin_give_every", "params": {"evry": 2}}]}
    with pytest.raises(ScenarioError, match=r"minds\.0\.params\.evry: unknown parameter; did you mean 'every'"):
        load_scenario(write(tmp_path, bad))


@pytest.mark.parametrize(
    ("plugins", "files", "expected"),
    [
        (["missing.py"], {}, r"s\.yaml: plugins\.0: '.*missing\.py' does not exist$"),
        (["no_such_module_xyz"], {}, r"plugins\.0: 'no_such_module_xyz' cannot be imported: ModuleNotFoundError"),
        (["populace_broken_plugin.py"], {"populace_broken_plugin.py": "1 / 0\n"},
         r"plugins\.0: 'populace_broken_plugin\.py' cannot be imported: ZeroDivisionError: division by zero$"),
        (["json.py"], {"json.py": ""}, r"plugins\.0: .*a module called 'json' is already imported"),
    ],
)
def test_a_plugin_that_cannot_be_imported_is_one_line(tmp_path: Path, plugins: list[str], files: dict[str, str],
                                                      expected: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=expected) as info:
        load_scenario(write(tmp_path, {**VALID, "plugins": plugins}))
    assert "\n" not in str(info.value)


def test_a_bad_selector_names_its_mind(tmp_path: Path) -> None:
    from populace.population import Population

    sc = load_scenario({**VALID, "minds": [{"select": "agee > 30", "type": "rules", "policy": "random_gift"}]})
    with pytest.raises(ScenarioError, match=r"^minds\.0\.select: selector 'agee > 30': no column 'agee'; "
                                            r"did you mean 'age'\?"):
        mind_masks(sc, Population({"age": [20, 40]}))


def test_every_problem_is_listed_one_line_each(tmp_path: Path) -> None:
    data = {**copy.deepcopy(VALID), "seedz": 1, "schedule": {"order": "random"}}
    with pytest.raises(ScenarioError) as schema:
        load_scenario(write(tmp_path, data))
    assert str(schema.value).split("\n") == [
        "s.yaml: schedule.order: 'random' is not accepted: Input should be 'simultaneous' or 'sequential'",
        "s.yaml: seedz: unknown field; did you mean 'seed'? (check the spelling; see `populace schema`)"]
    checked = {**copy.deepcopy(VALID), "world": {"type": "wealth", "params": {"colour": 1}},
               "minds": [{"type": "rules", "policy": "random_gfit"}],
               "interventions": [{"at_step": 1, "call": "tax_and_redistribute", "args": {"rate": "x"}}]}
    with pytest.raises(ScenarioError) as names:
        load_scenario(write(tmp_path, checked))
    lines = str(names.value).split("\n")
    assert [line.split(":")[1].strip() for line in lines] == [
        "world.params.colour", "minds.0.policy", "interventions.0.args.rate"]


def test_a_misspelt_required_key_is_one_line_with_did_you_mean(tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["populaton"] = data.pop("population")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, data))
    assert str(info.value) == "s.yaml: populaton: unknown field; did you mean 'population'? (a required field)"
    del data["populaton"]
    with pytest.raises(ScenarioError, match=r"^s\.yaml: population: required field is missing$"):
        load_scenario(write(tmp_path, data))


def test_intervention_arguments_are_typed_at_load() -> None:
    sc = load_scenario("opinion", ["interventions.0.args.value='0.3'"])  # a number written as text
    assert sc.interventions[0].args["value"] == 0.3
    with pytest.raises(ScenarioError, match=r"interventions\.0\.args\.value: required field is missing"):
        load_scenario("opinion", ["interventions.0.args={share: 0.1}"])


def test_an_intervention_past_a_shortened_run_is_a_warning_and_a_recorded_one_passes() -> None:
    late = ("opinion.yaml: interventions.0.at: 'broadcast' at 60h (step 60 at 1h steps) never runs: the run's last "
            "step is 9 (steps: 10)")
    assert load_scenario("opinion", ["steps=10"]).warnings == [late]
    assert load_scenario("opinion").warnings == []
    steps = load_scenario("opinion").steps
    with pytest.raises(ScenarioError, match=f"'broadcast' at 30d \\(step {steps} at 1h steps\\) never runs"):
        load_scenario("opinion", [f"interventions.0.at={steps}h"])  # the file's own steps: an error, not a warning
    recorded = load_scenario("opinion", ["steps=10"]).to_yaml()
    assert load_scenario(yaml.safe_load(recorded), recorded=True).steps == 10


def test_model_fields_are_checked_against_the_backend_that_uses_them() -> None:
    openai = "{backend: openai, base_url: 'http://127.0.0.1:9/v1'}"
    with pytest.raises(ScenarioError, match=r"model\.responses: the openai backend does not use it \(only scripted\)"):
        load_scenario(VALID, [f"model={openai}", "model.responses={'': x}"])
    assert load_scenario(VALID, [f"model={openai}", "model.threads=null"]).model["backend"] == "openai"
    # a mind's own model inherits the top level's embedded threads silently, but its own fields are checked
    minds = "minds=[{type: archetype, prompt: '{options}', model: {backend: scripted, schema_mode: none}}]"
    with pytest.raises(ScenarioError, match=r"^scenario: minds\.0\.model\.schema_mode: the scripted backend") as info:
        load_scenario(VALID, ["model={backend: embedded, threads: 2}", minds])
    assert "\n" not in str(info.value)


def test_a_selector_whose_agents_all_go_to_earlier_minds_names_them() -> None:
    from populace.population import Population

    sc = load_scenario({**VALID, "minds": [{"select": "age > 30", "type": "rules", "policy": "random_gift"},
                                           {"select": "age > 50", "type": "rules", "policy": "random_gift"},
                                           {"select": "age > 90", "type": "rules", "policy": "random_gift"},
                                           {"select": "all", "type": "rules", "policy": "random_gift"}]})
    with pytest.raises(ScenarioError) as info:
        mind_masks(sc, Population({"age": [20, 40, 60]}))
    assert str(info.value) == ("minds.1.select: never runs: its 1 agent(s) all go to minds.0 (select: 'age > 30') "
                               "first; put minds.1 before them or narrow them")
    assert len(mind_masks(sc, Population({"age": [20, 40]}))) == 4  # selects no one: a small population may
