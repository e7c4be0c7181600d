"""Simulated time: durations and instants parse with one-line errors, and convert per step as stated."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from populace.clock import (
    Clock,
    Duration,
    DurationHours,
    Instant,
    duration_text,
    half_life_weight,
    parse_duration,
    per_step_chance,
    per_step_decay,
    per_step_probability,
    steps_for,
)

START = datetime(2025, 1, 1, 8, 0)


class Config(BaseModel):
    half_life: Duration = timedelta(hours=24)
    age: DurationHours = timedelta(hours=24)
    at: Instant = timedelta(0)


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)), ("30min", timedelta(minutes=30)),
    ("6h", timedelta(hours=6)), ("1.5h", timedelta(minutes=90)), ("2d", timedelta(days=2)), ("1w", timedelta(days=7)),
    (" 12 h ", timedelta(hours=12)),
])
def test_durations_parse_with_their_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert Config(half_life=text).half_life == expected


def test_a_bare_number_needs_a_declared_unit() -> None:
    assert parse_duration(6, "h") == timedelta(hours=6) == Config(age=6).age
    with pytest.raises(ValueError, match="12 has no unit; write a simulated duration"):
        parse_duration(12)
    with pytest.raises(ValidationError, match="half_life\n  Value error, 12 has no unit"):
        Config(half_life=12)  # counted in steps before: refused, not reinterpreted


@pytest.mark.parametrize("bad", ["3 fortnights", "h", "-1h", "0s", "", "nan", True, float("inf")])
def test_what_is_not_a_positive_duration_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        Config(half_life=bad, age=bad)
    errors = info.value.errors(include_url=False)
    assert [e["loc"] for e in errors] == [("half_life",), ("age",)]
    assert all(e["type"] == "value_error" and "\n" not in e["msg"] for e in errors)  # one line each


def test_durations_are_written_as_a_scenario_writes_them() -> None:
    assert [duration_text(timedelta(**kw)) for kw in ({"hours": 1}, {"minutes": 90}, {"days": 35}, {"seconds": 2.5})] \
        == ["1h", "90m", "35d", "2.5s"]
    dumped = Config(half_life="1.5h", age=36, at="2025-01-02T00:00:00").model_dump(mode="json")
    assert dumped == {"half_life": "90m", "age": "36h", "at": "2025-01-02T00:00:00"}
    assert Config.model_validate(dumped) == Config(half_life="1.5h", age=36, at="2025-01-02T00:00:00")


def test_instants_are_a_time_from_the_start_or_a_timestamp() -> None:
    clock = Clock(START, timedelta(minutes=25))
    assert Config(at="0h").at == Config(at=0).at == timedelta(0)  # 0 is the start at any step length
    assert clock.step_at(Config(at="6h").at) == 15  # 6h / 25m = 14.4: rounded up, never early
    assert clock.step_at(Config(at="50m").at) == 2  # a whole number of steps stays itself
    assert clock.step_at(datetime(2025, 1, 1, 9, 0)) == 3
    assert clock.step_at(datetime(2025, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))) == 0  # 08:00 UTC
    with pytest.raises(ValidationError, match="6 has no unit; write a time from the start .* at_step"):
        Config(at=6)
    with pytest.raises(ValidationError, match="'soon' is neither a time from the start"):
        Config(at="soon")
    with pytest.raises(ValueError, match="is before the run starts"):
        clock.step_at(datetime(2025, 1, 1, 7, 0))


def test_a_rate_becomes_the_chance_of_an_event_in_a_step() -> None:
    hour, quarter = timedelta(hours=1), timedelta(minutes=15)
    assert per_step_probability(2.0, hour) == pytest.approx(1 - math.exp(-2))
    assert per_step_probability(math.inf, quarter) == 1.0 and per_step_probability(0.0, hour) == 0.0
    # the chance of no event over an hour is the same whether it is one step or four
    assert (1 - per_step_probability(2.0, quarter)) ** 4 == pytest.approx(1 - per_step_probability(2.0, hour))
    rates = np.array([0.0, 0.5, np.inf])
    assert per_step_probability(rates, hour) == pytest.approx([0.0, 1 - math.exp(-0.5), 1.0])
    # the count-keeping chance: one event a step, rate * dt of them on average, capped at 1
    assert per_step_chance(1.0, timedelta(minutes=30)) == 0.5 and per_step_chance(3.0, hour) == 1.0
    assert per_step_chance(np.array([0.5, 4.0]), quarter) == pytest.approx([0.125, 1.0])


def test_a_half_life_becomes_a_decay_per_step_and_a_weight_by_age() -> None:
    assert per_step_decay(timedelta(hours=6), timedelta(hours=6)) == pytest.approx(0.5)
    assert per_step_decay(timedelta(hours=6), timedelta(hours=1)) ** 6 == pytest.approx(0.5)
    assert half_life_weight(np.array([0.0, 3600.0, 7200.0]), timedelta(hours=1)) == pytest.approx([1, 0.5, 0.25])


def test_a_delay_is_whole_steps_rounded_up() -> None:
    assert steps_for(timedelta(minutes=90), timedelta(hours=1)) == 2
    assert steps_for(timedelta(hours=2), timedelta(hours=1)) == 2
    assert steps_for(timedelta(hours=1), timedelta(minutes=20)) == 3  # 3.0000000000000004 in floats is 3
    assert steps_for(timedelta(0), timedelta(hours=1)) == 0
