"""Columnar batches of events: what happened to whom, accepted, rejected or failed, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

OK, REJECTED, FAILED = "ok", "rejected", "failed"
NO_AGENT = -1


class ActionBatch(Protocol):
    """What events are made from: a batch of actions (:class:`populace.actions.Actions`), as seen
    from here so that events need not import actions (which build on events)."""

    name: str
    agents: np.ndarray
    args: dict[str, np.ndarray]
    request: np.ndarray | None

    def __len__(self) -> int: ...

    def take(self, index: np.ndarray) -> ActionBatch: ...


@dataclass
class Events:
    """Events of one kind (an action name, or a world or intervention event).

    ``outcome`` is ``"ok"``, ``"rejected"`` or ``"failed"`` per row; ``reason`` says why for the
    latter two; ``args`` are the action's arguments and ``data`` what the world reports back
    (e.g. the id of a created post). World events not caused by an agent use agent ``-1``.
    """

    kind: str
    agents: np.ndarray
    outcome: np.ndarray
    reason: np.ndarray | None = None
    args: dict[str, np.ndarray] = field(default_factory=dict)
    data: dict[str, np.ndarray] = field(default_factory=dict)
    request: np.ndarray | None = None
    #: decision outcomes counted where the batch was built (``{}``: world events, not decisions;
    #: ``None``: unknown, counted from ``outcome`` when needed)
    tally: dict[str, int] | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.agents)

    @classmethod
    def accepted(cls, actions: ActionBatch, **data: Any) -> Events:
        """Every action in the batch took effect."""
        n = len(actions)
        return cls(
            actions.name, np.asarray(actions.agents, dtype=np.int64), constant(n, OK),
            None, dict(actions.args), {k: _column(v, n) for k, v in data.items()}, actions.request, {OK: n},
        )

    @classmethod
    def rejected(cls, actions: ActionBatch, mask: np.ndarray, reason: str | np.ndarray) -> Events:
        """Events for the actions selected by ``mask`` only, all rejected for ``reason`` (one string,
        or one per action of the whole batch)."""
        mask = np.asarray(mask, dtype=bool)
        reasons = reason if isinstance(reason, str) else np.asarray(reason, dtype=object)[mask]
        chosen = actions if mask.all() else actions.take(mask)
        return cls.outcomes(chosen, np.zeros(len(chosen), dtype=bool), reasons)

    @classmethod
    def outcomes(cls, actions: ActionBatch, ok: np.ndarray, reason: str | np.ndarray = "", **data: Any) -> Events:
        """Events for a whole batch where ``ok`` says which actions took effect.

        ``reason`` (one string or one per action) explains the rejected ones.
        """
        ok = np.asarray(ok, dtype=bool)
        n = len(actions)
        bad = ~ok
        if not bad.any():
            return cls.accepted(actions, **data)
        outcome, reasons = filled(n, OK), filled(n, None)
        outcome[bad] = REJECTED  # only rejected rows get a reason, so only they are converted
        if isinstance(reason, str):
            reasons[bad] = reason
        else:
            given = reason if isinstance(reason, np.ndarray) else np.asarray(reason, dtype=object)
            reasons[bad] = given[bad]
        accepted = int(np.count_nonzero(ok))
        return cls(
            actions.name, np.asarray(actions.agents, dtype=np.int64), outcome, reasons,
            dict(actions.args), {k: _column(v, n) for k, v in data.items()}, actions.request,
            {OK: accepted, REJECTED: n - accepted},
        )

    @classmethod
    def failed(cls, agents: np.ndarray, causes: str | np.ndarray, request: np.ndarray | None = None) -> Events:
        """Failed decisions: the mind could not produce an action (the agent does nothing)."""
        n = len(agents)
        return cls(
            "decision", np.asarray(agents, dtype=np.int64), constant(n, FAILED),
            np.asarray(np.broadcast_to(np.asarray(causes, dtype=object), (n,)), dtype=object),
            request=request, tally={FAILED: n},
        )

    @classmethod
    def world(cls, kind: str, agents: np.ndarray | None = None, **data: Any) -> Events:
        """Events the world itself produces (an infection, a regrowth, an intervention)."""
        agents = np.asarray([NO_AGENT] if agents is None else agents, dtype=np.int64)
        n = len(agents)
        return cls(kind, agents, constant(n, OK), None, {},
                   {k: _column(v, n) for k, v in data.items()}, tally={})

    def take(self, index: np.ndarray) -> Events:
        return Events(
            self.kind, self.agents[index], self.outcome[index],
            None if self.reason is None else self.reason[index],
            {k: v[index] for k, v in self.args.items()}, {k: v[index] for k, v in self.data.items()},
            None if self.request is None else self.request[index],
        )


_CONSTANTS = {value: np.array(value, dtype=object) for value in (OK, REJECTED, FAILED)}


def constant(n: int, value: str) -> np.ndarray:
    """``n`` times one outcome as a read-only view of a single object: no allocation per row."""
    return np.broadcast_to(_CONSTANTS[value], (n,))


def filled(n: int, value: Any) -> np.ndarray:
    """An object array of ``n`` references to ``value`` (``np.full`` would build ``n`` new strings)."""
    out = np.empty(n, dtype=object)
    out[:] = value
    return out


def _column(value: Any, n: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 0 or len(array) != n:
        out = np.empty(n, dtype=object)
        out[:] = [value] * n
        return out
    return array


#: prefix of the counts of failed decisions by cause, e.g. ``failed_connection``
FAILED_BY = "failed_"
#: prefix of the counts of decisions a fallback mind made instead, by cause, e.g. ``fallback_timeout``
#: (see :mod:`populace.minds.fallback`)
FALLBACK_BY = "fallback_"


def count_outcomes(events: list[Events]) -> dict[str, int]:
    """How many agents' decisions ended ok, rejected or failed, and the failed ones by cause
    (``failed_<cause>``; world events are not decisions)."""
    counts = {OK: 0, REJECTED: 0, FAILED: 0}
    for batch in events:
        if batch.tally is not None:  # counted where the batch was built
            for outcome, n in batch.tally.items():
                counts[outcome] += n
            if batch.tally.get(FAILED):
                _count_causes(batch, counts)
            continue
        by_agent = batch.agents >= 0
        # list.count compares by identity first: several times faster than == over an object array
        outcome = (batch.outcome if by_agent.all() else batch.outcome[by_agent]).tolist()
        ok = outcome.count(OK)
        counts[OK] += ok
        if ok < len(outcome):
            counts[REJECTED] += outcome.count(REJECTED)
            failed = outcome.count(FAILED)
            counts[FAILED] += failed
            if failed:
                _count_causes(batch, counts)
    return counts


def _count_causes(batch: Events, counts: dict[str, int]) -> None:
    """Add a batch's failed decisions to ``counts`` by cause (its reason; ``unknown`` if none)."""
    failed = (batch.outcome == FAILED) & (batch.agents >= 0)
    reasons = batch.reason[failed].tolist() if batch.reason is not None else ["unknown"] * int(failed.sum())
    for reason in reasons:
        key = FAILED_BY + (str(reason) if reason else "unknown")
        counts[key] = counts.get(key, 0) + 1
