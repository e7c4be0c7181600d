"""Simulated time: a start instant and a fixed duration per step."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)\s*$")


def parse_duration(text: str) -> timedelta:
    """``"3m"``, ``"1h"``, ``"30s"``, ``"1d"`` -> a positive timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 3m, 1h, 1d, 1w)")
    value = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    return value


@dataclass(frozen=True)
class Clock:
    start: datetime
    step: timedelta

    def time(self, step: int) -> datetime:
        """The simulated instant at which ``step`` begins."""
        return self.start + step * self.step

    @property
    def hours_per_step(self) -> float:
        return self.step.total_seconds() / 3600.0
