"""One exception hierarchy for populace.

    PopulaceError
    ├── ScenarioError        a scenario file or its parts are invalid (one line: field, value, accepted)
    ├── UnknownNameError     a world, mind, policy or scenario name is not registered ("did you mean")
    ├── PopulationError      a population file or declared distribution cannot be used
    ├── RunError             a run directory is missing, corrupt or not resumable
    ├── RunFailedError       a run's model decisions mostly failed, or its model stopped answering
    └── WorldCheckError      a world fails the conformance check in ``populace.testing``

A failed *agent action* is never an exception: it is a recorded event with its reason.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PopulaceError(Exception):
    """Base class of every error populace raises on purpose."""


class ScenarioError(PopulaceError):
    """A scenario (file, field or value) is invalid."""


class UnknownNameError(PopulaceError, KeyError):
    """A name looked up in a registry does not exist."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        message = f"unknown {kind} {name!r}{hint} (known: {', '.join(known) or 'none'})"
        super().__init__(message)
        self.kind, self.name, self.known = kind, name, known

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class PopulationError(PopulaceError):
    """A population cannot be built from its declaration or file."""


class RunError(PopulaceError):
    """A run directory cannot be used as asked."""


class RunFailedError(PopulaceError):
    """A run went wrong as a whole: most of its model decisions failed, or its model stopped answering
    (everything recorded is kept; the manifest says ``failed``)."""


class WorldError(PopulaceError):
    """A world broke its contract while running (e.g. a handler that returned no events)."""


class WorldCheckError(PopulaceError):
    """A world does not conform to the World contract."""
