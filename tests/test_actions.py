from __future__ import annotations

import numpy as np

from populace import Actions, ActionSpace, ActionSpec, Arg

SPACE = ActionSpace(
    ActionSpec("give", {"to": Arg.agent(), "amount": Arg.number(ge=0, le=10)}),
    ActionSpec("post", {"text": Arg.text(max_length=5), "mood": Arg.choice("up", "down")}),
    ActionSpec("vote", {"yes": Arg.boolean(), "weight": Arg.integer(ge=1)}),
)


def obj(*values: object) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def test_valid_actions_pass_converted() -> None:
    batch = Actions("give", np.array([0, 1]), {"to": obj("2", 3), "amount": obj(1, "2.5")})
    valid, rejected = SPACE.validate(batch, n_agents=5)
    assert rejected is None and valid is not None
    assert valid.args["to"].tolist() == [2, 3] and valid.args["to"].dtype == np.int64
    assert valid.args["amount"].tolist() == [1.0, 2.5]


def test_each_kind_of_bad_action_is_rejected_with_its_reason() -> None:
    batch = Actions("give", np.array([0, 1, 2, 9, 3]),
                    {"to": obj(1, 7, "x", 1, 2.5), "amount": obj(1, 1, 1, 1, 1)})
    valid, rejected = SPACE.validate(batch, n_agents=5)
    assert valid is not None and valid.agents.tolist() == [0]
    assert rejected is not None
    reasons = dict(zip(rejected.agents.tolist(), rejected.reason.tolist(), strict=True))
    assert reasons[1] == "to: no such agent"
    assert reasons[2] == "to: must be an integer"
    assert reasons[9] == "no such agent"
    assert reasons[3] == "to: must be an integer"
    assert 0 not in reasons  # the valid action gets no event here: its handler gives it one
    assert rejected.outcome.tolist() == ["rejected"] * 4


def test_bounds_choices_text_and_bool() -> None:
    _, rej = SPACE.validate(Actions("give", np.array([0]), {"to": obj(1), "amount": obj(11)}), 5)
    assert rej is not None and rej.reason.tolist() == ["amount: must be <= 10"]
    _, rej = SPACE.validate(Actions("post", np.array([0, 1]), {"text": obj("toolong", 5), "mood": obj("up", "up")}), 5)
    assert rej is not None and rej.reason.tolist() == ["text: longer than 5 characters", "text: must be text"]
    _, rej = SPACE.validate(Actions("post", np.array([0]), {"text": obj("hi"), "mood": obj("sideways")}), 5)
    assert rej is not None and rej.reason.tolist() == ["mood: must be one of up, down"]
    valid, rej = SPACE.validate(Actions("vote", np.array([0, 1]), {"yes": obj("true", "maybe"), "weight": obj(1, 1)}), 5)
    assert valid is not None and valid.args["yes"].tolist() == [True]
    assert rej is not None and rej.agents.tolist() == [1] and "must be true or false" in rej.reason[0]


def test_unknown_action_missing_and_unexpected_arguments() -> None:
    _, rej = SPACE.validate(Actions("gve", np.array([0]), {}), 5)
    assert rej is not None and "did you mean 'give'" in rej.reason[0]
    _, rej = SPACE.validate(Actions("give", np.array([0]), {"to": obj(1)}), 5)
    assert rej is not None and rej.reason[0] == "missing argument 'amount'"
    _, rej = SPACE.validate(Actions("give", np.array([0]), {"to": obj(1), "amount": obj(1), "x": obj(1)}), 5)
    assert rej is not None and "unexpected argument 'x'" in rej.reason[0]


def test_from_records_groups_by_action_and_keeps_request_ids() -> None:
    batches = Actions.from_records([
        (0, "give", {"to": 1, "amount": 2}, "r0"),
        (1, "post", {"text": "hi", "mood": "up"}, "r1"),
        (2, "give", {"to": 0, "amount": 1}, None),
    ])
    by_name = {b.name: b for b in batches}
    assert by_name["give"].agents.tolist() == [0, 2]
    assert by_name["give"].request is not None and by_name["give"].request.tolist() == ["r0", None]
    assert by_name["post"].args["text"].tolist() == ["hi"]


def test_json_schema_describes_every_action() -> None:
    schema = SPACE.json_schema()
    names = [option["properties"]["action"]["const"] for option in schema["oneOf"]]
    assert names == ["give", "post", "vote"]
    give = schema["oneOf"][0]["properties"]["args"]
    assert give["properties"]["amount"] == {"type": "number", "minimum": 0, "maximum": 10}
    assert give["required"] == ["to", "amount"]
    assert SPACE.subset(["vote"]).names == ["vote"]
