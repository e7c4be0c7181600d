"""Simulated time: durations, instants, the clock, and the one place simulated time becomes steps.

Every rate, half-life, delay and age in a scenario is simulated time (``30m``, ``6h``, ``2d``),
never a count of steps, so that a model means the same at any step length. For a step of ``dt``:

* a rate per simulated hour becomes the chance of at least one event in a step,
  ``1 - exp(-rate * dt)`` (:func:`per_step_probability`), the events of a Poisson process of that
  rate; where a step can hold only one event and their number counts, the chance that keeps
  their mean, ``min(1, rate * dt)`` (:func:`per_step_chance`);
* a half-life becomes the factor a quantity keeps over one step, ``0.5 ** (dt / half_life)``
  (:func:`per_step_decay`), or an age's weight ``0.5 ** (age / half_life)`` (:func:`half_life_weight`);
* a delay or an instant becomes a whole number of steps, rounded *up*
  (:func:`steps_for`, :meth:`Clock.step_at`): nothing happens before its time, and at most one
  step after it.

As ``dt`` shrinks, each converges to the continuous-time quantity it stands for. In a config
model, :data:`Duration` (a unit required), :data:`DurationHours` (a bare number counts as hours)
and :data:`Instant` (a duration from the start or a timestamp) validate with one-line errors.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(s|min|m|h|d|w)\s*$")
_EXAMPLES = "e.g. 90s, 30m, 6h, 2d, 1w"
#: one part in 10^9 of a step: a duration this close to a whole number of steps is that number
_TOLERANCE = 1e-9


def parse_duration(value: str | float | timedelta, default_unit: str | None = None, *,
                   zero: bool = False) -> timedelta:
    """``"90s"``, ``"30m"``, ``"6h"``, ``"2d"``, ``"1w"`` (or a timedelta) -> a timedelta.

    A bare number is read in ``default_unit`` where one is declared, and refused otherwise (a
    number alone once meant a count of steps). Longer than zero unless ``zero`` allows zero.
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if default_unit is None:
            raise ValueError(f"{value!r} has no unit; write a simulated duration ({_EXAMPLES})")
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration ({_EXAMPLES})")
        result = timedelta(**{_UNITS[default_unit]: float(value)})
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        result = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    else:
        raise ValueError(f"{value!r} is not a duration ({_EXAMPLES})")
    if result < timedelta(0) or (result == timedelta(0) and not zero):
        raise ValueError(f"{value!r} must be longer than zero")
    return result


def duration_text(value: timedelta) -> str:
    """A duration as a scenario writes it, in the largest unit that keeps it whole (``1d``, ``90m``, ``2.5s``)."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def hours(value: timedelta) -> float:
    """A duration in simulated hours."""
    return value.total_seconds() / 3600.0


def _strict(value: Any) -> timedelta:
    return parse_duration(value)


def _in_hours(value: Any) -> timedelta:
    return parse_duration(value, "h")


_SCHEMA = WithJsonSchema({"type": "string", "pattern": _DURATION.pattern, "examples": ["30m", "6h", "2d"]})
_AS_TEXT = PlainSerializer(duration_text, return_type=str)

#: A simulated duration longer than zero, written with its unit (``30m``, ``6h``, ``2d``).
Duration = Annotated[timedelta, BeforeValidator(_strict), _AS_TEXT, _SCHEMA]
#: A simulated duration longer than zero where a bare number counts as hours (``24`` = ``24h``).
DurationHours = Annotated[timedelta, BeforeValidator(_in_hours), _AS_TEXT,
                          WithJsonSchema({"type": ["string", "number"], "examples": ["30m", "6h", 24]})]


def parse_instant(value: Any) -> timedelta | datetime:
    """When something happens: a duration from the start of the run (``0h``, ``6h``, ``90m``) or a
    timestamp (``2025-01-01T14:00:00``, naive or with a zone). A bare number other than 0 (the
    start) is refused: it would be read as a step index, which is a different time at each step
    length."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return timedelta(0)  # the start, at any step length
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} has no unit; write a time from the start ({_EXAMPLES}, 0h for the start) "
                         "or a timestamp; a step index goes in at_step")
    if isinstance(value, timedelta | str):
        try:
            return parse_duration(value, zero=True)
        except ValueError:
            pass
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is neither a time from the start ({_EXAMPLES}) nor a timestamp "
                     "(e.g. 2025-01-01T14:00:00)")


def instant_text(value: timedelta | datetime) -> str:
    """An instant as a scenario writes it: ``6h`` (from the start) or an ISO timestamp."""
    return duration_text(value) if isinstance(value, timedelta) else value.isoformat()


#: A moment of a run: a duration from its start (``6h``) or a timestamp (``2025-01-01T14:00:00``).
Instant = Annotated[timedelta | datetime, BeforeValidator(parse_instant),
                    PlainSerializer(instant_text, return_type=str),
                    WithJsonSchema({"type": "string", "examples": ["0h", "6h", "2025-01-01T14:00:00"]})]


# -- conversions per step ------------------------------------------------------------------------
def per_step_probability(rate: float | np.ndarray, dt: timedelta) -> float | np.ndarray:
    """The chance that a Poisson process of ``rate`` events per simulated hour has at least one
    event in a step of ``dt``: ``1 - exp(-rate * dt)`` (an infinite rate: 1)."""
    if isinstance(rate, np.ndarray):
        return -np.expm1(-rate.astype(np.float64) * hours(dt))
    return -math.expm1(-rate * hours(dt)) if math.isfinite(rate) else 1.0


def per_step_chance(rate: float | np.ndarray, dt: timedelta) -> float | np.ndarray:
    """The chance of a once-a-step event that happens ``rate`` times per simulated hour on
    average: ``min(1, rate * dt)``. For events counted one by one (a chat, a vote) where a step
    holds at most one, it keeps their mean number an hour exact while ``rate * dt <= 1``, where
    :func:`per_step_probability` falls short by ``1 - (1 - exp(-x)) / x`` (28% at ``x = 0.7``);
    both converge to the same continuous-time model as ``dt`` shrinks."""
    if isinstance(rate, np.ndarray):
        return np.minimum(1.0, rate.astype(np.float64) * hours(dt))
    return min(1.0, rate * hours(dt))


def per_step_decay(half_life: timedelta, dt: timedelta) -> float:
    """The share a quantity with ``half_life`` keeps over one step of ``dt``: ``0.5 ** (dt / half_life)``."""
    return 0.5 ** (dt / half_life)


def half_life_weight(age_s: np.ndarray | float, half_life: timedelta) -> np.ndarray:
    """The weight ``0.5 ** (age / half_life)`` of things ``age_s`` simulated seconds old (1 when new)."""
    return np.exp2(-np.asarray(age_s, dtype=np.float64) / half_life.total_seconds())


def steps_for(delay: timedelta, dt: timedelta) -> int:
    """The whole number of steps of ``dt`` that covers ``delay``, rounded up (a delay of 90m at
    1h steps is 2 steps), so that nothing waited for comes early; 0 for no delay."""
    return max(0, math.ceil(delay / dt - _TOLERANCE))


@dataclass(frozen=True)
class Clock:
    """A run's simulated time: the instant step 0 begins and the duration of every step."""

    start: datetime
    step: timedelta

    def time(self, step: int) -> datetime:
        """The simulated instant at which ``step`` begins."""
        return self.start + step * self.step

    @property
    def hours_per_step(self) -> float:
        return hours(self.step)

    def step_at(self, when: timedelta | datetime) -> int:
        """The first step that begins at or after ``when`` (a duration from the start or a
        timestamp): at most one step late, never early. Raises ValueError before the start."""
        offset = when if isinstance(when, timedelta) else _naive(when) - _naive(self.start)
        if offset < timedelta(0):
            raise ValueError(f"{instant_text(when)} is before the run starts ({self.start.isoformat()})")
        return steps_for(offset, self.step)


def _naive(moment: datetime) -> datetime:
    """A timestamp as naive UTC, so that zoned and naive ones (read as UTC) compare."""
    offset = moment.utcoffset()
    return moment if offset is None else (moment - offset).replace(tzinfo=None)


__all__ = ["Clock", "Duration", "DurationHours", "Instant", "duration_text", "half_life_weight", "hours",
           "instant_text", "parse_duration", "parse_instant", "per_step_chance", "per_step_decay",
           "per_step_probability", "steps_for"]
