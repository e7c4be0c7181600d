"""The narrative world's grounded state: typed variables per agent, places, votes, and the
operations a game master may propose on them.

A scenario declares its variables (money, items, a mood on a bounded scale); each is a column
of one value per agent. A ruling proposes changes as typed operations::

    {"op": "transfer", "from": "Ann", "to": "Bob", "variable": "apples", "amount": 2}
    {"op": "set", "agent": "Ann", "variable": "mood", "value": 7}
    {"op": "move", "agent": "Ann", "place": "the well"}
    {"op": "vote", "agent": "Ann", "option": "yes"}

:meth:`Ledger.check` tries a whole ruling on a copy of the state and names the first operation
that cannot hold (an unknown agent, spending what one does not have, a value out of bounds, a
conserved quantity created from nothing, parties in different places); only a ruling that holds
entirely is applied, so the state is never half-changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from populace.errors import UnknownNameError


class VariableSpec(BaseModel):
    """One typed variable per agent: a bounded number, or a count of an item (an inventory)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["number", "count"] = Field("number", description="number: any value in bounds; "
                                                                   "count: whole items, never below 0")
    min: float | None = Field(None, description="lowest value an agent may hold (count: 0)")
    max: float | None = Field(None, description="highest value an agent may hold")
    initial: float | str = Field(0, description="every agent's starting value, or a population column")
    conserved: bool | None = Field(None, description="changes only by transfer between agents "
                                                     "(default: yes for counts, no for numbers)")

    @model_validator(mode="after")
    def _bounds(self) -> VariableSpec:
        if self.kind == "count":
            self.min = 0 if self.min is None else self.min
            if self.min < 0 or not float(self.min).is_integer():
                raise ValueError("a count's min must be a whole number >= 0")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self

    @property
    def is_conserved(self) -> bool:
        return self.conserved if self.conserved is not None else self.kind == "count"


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Transfer(_Op):
    """``amount`` of ``variable`` passes from one agent to another."""

    op: Literal["transfer"]
    source: str = Field(alias="from")
    to: str
    variable: str
    amount: float


class SetValue(_Op):
    """An agent's ``variable`` becomes ``value`` (not for conserved variables)."""

    op: Literal["set"]
    agent: str
    variable: str
    value: float


class Move(_Op):
    """An agent goes to a place."""

    op: Literal["move"]
    agent: str
    place: str


class Vote(_Op):
    """An agent casts (or changes) its vote."""

    op: Literal["vote"]
    agent: str
    option: str


Operation = Annotated[Transfer | SetValue | Move | Vote, Field(discriminator="op")]
_OPERATIONS: TypeAdapter[list[Operation]] = TypeAdapter(list[Operation])


class RulingError(ValueError):
    """A ruling's changes cannot be read, or cannot hold in the current state (one line)."""


def parse_changes(text: str) -> list[Transfer | SetValue | Move | Vote]:
    """A ruling's changes from their JSON text (a list of operations); one line on what is wrong."""
    try:
        raw = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise RulingError(f"changes are not JSON ({exc.msg})") from None
    try:
        return _OPERATIONS.validate_python(raw, by_alias=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RulingError(f"changes[{where}]: {first['msg']}") from None


def describe_change(op: Transfer | SetValue | Move | Vote) -> str:
    """An operation as a short phrase, for reasons and memories."""
    if isinstance(op, Transfer):
        return f"transfer {op.amount:g} {op.variable} from {op.source} to {op.to}"
    if isinstance(op, SetValue):
        return f"set {op.agent}'s {op.variable} to {op.value:g}"
    if isinstance(op, Move):
        return f"move {op.agent} to {op.place}"
    return f"{op.agent} votes {op.option}"


class Ledger:
    """Every agent's variables, place and vote, as columns; checks and applies rulings."""

    def __init__(self, names: Sequence[str], variables: Mapping[str, VariableSpec],
                 initial: Mapping[str, np.ndarray], places: Sequence[str], place: np.ndarray,
                 options: Sequence[str] = ()) -> None:
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.variables = dict(variables)
        self.values = {k: np.asarray(initial[k], dtype=np.float64).copy() for k in self.variables}
        self.places = list(places)
        self.place = np.asarray(place, dtype=np.int64).copy()
        self.options = list(options)
        self.vote = np.full(len(self.names), -1, dtype=np.int64)

    # -- reading -----------------------------------------------------------------------------
    def holdings(self, agent: int) -> str:
        """An agent's variables as text, e.g. ``coins 10, apples 3``."""
        return ", ".join(f"{k} {v[agent]:g}" for k, v in self.values.items()) or "nothing tracked"

    def present(self, agent: int) -> np.ndarray:
        """The agents at the same place as ``agent`` (itself included), by id."""
        return np.flatnonzero(self.place == self.place[agent])

    def tally(self) -> np.ndarray:
        """Votes per option."""
        cast = self.vote[self.vote >= 0]
        return np.bincount(cast, minlength=len(self.options))

    # -- grounding ---------------------------------------------------------------------------
    def check(self, changes: Sequence[Transfer | SetValue | Move | Vote]) -> str | None:
        """Why the changes cannot all hold, applied in order to the current state; None if they can."""
        try:
            self._run(changes, trial=True)
        except RulingError as exc:
            return str(exc)
        return None

    def apply(self, changes: Sequence[Transfer | SetValue | Move | Vote]) -> None:
        """Apply changes that :meth:`check` accepted."""
        self._run(changes, trial=False)

    def _run(self, changes: Sequence[Transfer | SetValue | Move | Vote], *, trial: bool) -> None:
        values = {k: v.copy() for k, v in self.values.items()} if trial else self.values
        place = self.place.copy() if trial else self.place
        vote = self.vote.copy() if trial else self.vote
        for op in changes:
            what = describe_change(op)
            if isinstance(op, Transfer):
                giver, taker = self._agent(op.source, what), self._agent(op.to, what)
                spec, column = self._variable(op.variable, what), values[op.variable]
                self._amount(op.amount, spec, what)
                if op.amount <= 0:
                    raise RulingError(f"{what}: the amount must be positive")
                if giver == taker:
                    raise RulingError(f"{what}: an agent cannot transfer to itself")
                if place[giver] != place[taker]:
                    raise RulingError(f"{what}: {op.source} is at {self.places[place[giver]]} and {op.to} "
                                      f"at {self.places[place[taker]]}")
                low = spec.min if spec.min is not None else -np.inf
                if column[giver] - op.amount < low:
                    raise RulingError(f"{what}: {op.source} has only {column[giver]:g} {op.variable}")
                if spec.max is not None and column[taker] + op.amount > spec.max:
                    raise RulingError(f"{what}: {op.to} would hold more than {spec.max:g} {op.variable}")
                column[giver] -= op.amount
                column[taker] += op.amount
            elif isinstance(op, SetValue):
                agent, spec = self._agent(op.agent, what), self._variable(op.variable, what)
                if spec.is_conserved:
                    raise RulingError(f"{what}: {op.variable} is conserved; only a transfer changes it")
                self._amount(op.value, spec, what)
                if (spec.min is not None and op.value < spec.min) or (spec.max is not None and op.value > spec.max):
                    raise RulingError(f"{what}: {op.variable} must stay within "
                                      f"[{_bound(spec.min, '-inf')}, {_bound(spec.max, 'inf')}]")
                values[op.variable][agent] = op.value
            elif isinstance(op, Move):
                agent = self._agent(op.agent, what)
                if op.place not in self.places:
                    raise RulingError(f"{what}: {UnknownNameError('place', op.place, self.places)}")
                place[agent] = self.places.index(op.place)
            else:
                agent = self._agent(op.agent, what)
                if not self.options:
                    raise RulingError(f"{what}: there is no vote")
                if op.option not in self.options:
                    raise RulingError(f"{what}: {UnknownNameError('option', op.option, self.options)}")
                vote[agent] = self.options.index(op.option)

    def _agent(self, name: str, what: str) -> int:
        if name not in self.index:
            raise RulingError(f"{what}: {UnknownNameError('agent', name, self.names)}")
        return self.index[name]

    def _variable(self, name: str, what: str) -> VariableSpec:
        if name not in self.variables:
            raise RulingError(f"{what}: {UnknownNameError('variable', name, self.variables)}")
        return self.variables[name]

    @staticmethod
    def _amount(value: float, spec: VariableSpec, what: str) -> None:
        if not np.isfinite(value):
            raise RulingError(f"{what}: not a finite number")
        if spec.kind == "count" and not float(value).is_integer():
            raise RulingError(f"{what}: counts change by whole items")

    # -- what a game master may propose ------------------------------------------------------
    def changes_schema(self, names: Sequence[str], max_changes: int = 4) -> dict[str, Any]:
        """JSON Schema of a list of operations among ``names`` (those present), for constrained output.

        Deliberately loose (amounts are plain numbers; one alternative per operation): bounds and
        per-variable alternatives make llama.cpp's grammar keep many parses alive and sample
        several times slower, and the ledger checks every value anyway."""
        who = {"type": "string", "enum": list(names)}
        alternatives: list[dict[str, Any]] = []
        if self.variables:
            alternatives.append(_op("transfer", {"from": who, "to": who,
                                                 "variable": {"type": "string", "enum": list(self.variables)},
                                                 "amount": {"type": "number"}}))
        settable = [k for k, spec in self.variables.items() if not spec.is_conserved]
        if settable:
            alternatives.append(_op("set", {"agent": who, "variable": {"type": "string", "enum": settable},
                                            "value": {"type": "number"}}))
        if len(self.places) > 1:
            alternatives.append(_op("move", {"agent": who, "place": {"type": "string", "enum": self.places}}))
        if self.options:
            alternatives.append(_op("vote", {"agent": who, "option": {"type": "string", "enum": self.options}}))
        items: dict[str, Any] = {"oneOf": alternatives} if alternatives else {"type": "object"}
        return {"type": "array", "maxItems": max_changes if alternatives else 0, "items": items}


def _op(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"op": {"const": name}, **properties},
            "required": ["op", *properties], "additionalProperties": False}


def _bound(value: float | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:g}"
