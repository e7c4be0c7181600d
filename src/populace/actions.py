"""Typed action spaces and columnar batches of actions.

A world declares its actions explicitly (no reflection)::

    ACTIONS = ActionSpace(
        ActionSpec("give", {"to": Arg.agent()}, "give one unit of wealth to another agent"),
    )

Minds return :class:`Actions`: one action name, many agents, one array per argument. The
space validates a batch vectorised and splits it into valid actions and rejections with reasons.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from populace.errors import UnknownNameError
from populace.events import Events, filled

ArgKind = Literal["agent", "int", "float", "bool", "str", "choice"]


@dataclass(frozen=True)
class Arg:
    """The type and bounds of one action argument."""

    kind: ArgKind
    ge: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    description: str = ""

    @classmethod
    def agent(cls, description: str = "") -> Arg:
        return cls("agent", description=description)

    @classmethod
    def integer(cls, ge: float | None = None, le: float | None = None, description: str = "") -> Arg:
        return cls("int", ge=ge, le=le, description=description)

    @classmethod
    def number(cls, ge: float | None = None, le: float | None = None, description: str = "") -> Arg:
        return cls("float", ge=ge, le=le, description=description)

    @classmethod
    def boolean(cls, description: str = "") -> Arg:
        return cls("bool", description=description)

    @classmethod
    def text(cls, max_length: int | None = None, description: str = "") -> Arg:
        return cls("str", max_length=max_length, description=description)

    @classmethod
    def choice(cls, *choices: str, description: str = "") -> Arg:
        return cls("choice", choices=tuple(choices), description=description)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of this argument, for constrained model output."""
        schema: dict[str, Any]
        if self.kind in ("agent", "int"):
            schema = {"type": "integer"}
            if self.kind == "agent":
                schema["minimum"] = 0
        elif self.kind == "float":
            schema = {"type": "number"}
        elif self.kind == "bool":
            schema = {"type": "boolean"}
        elif self.kind == "choice":
            schema = {"type": "string", "enum": list(self.choices)}
        else:
            schema = {"type": "string"}
            if self.max_length is not None:
                schema["maxLength"] = self.max_length
        if self.ge is not None:
            schema["minimum"] = self.ge
        if self.le is not None:
            schema["maximum"] = self.le
        if self.description:
            schema["description"] = self.description
        return schema

    def convert(self, values: np.ndarray, n_agents: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Convert raw values to this kind; return (converted, ok mask, reason per failure kind)."""
        n = len(values)
        ok = np.ones(n, dtype=bool)
        reason = _Reasons(n)
        if self.kind in ("agent", "int", "float"):
            out = _to_number(values)
            if out.dtype.kind == "f":
                bad = np.isnan(out)
                reason[bad] = f"must be {'a number' if self.kind == 'float' else 'an integer'}"
                ok &= ~bad
                if self.kind != "float":
                    whole = np.where(bad, 0, out)
                    integral = np.equal(np.mod(whole, 1), 0)
                    reason[ok & ~integral] = "must be an integer"
                    ok &= integral
                    out = whole.astype(np.int64)
            elif self.kind != "float":  # integers already: nothing to check or convert
                out = out.astype(np.int64, copy=False)
            if self.kind == "agent":
                missing = ok & ((out < 0) | (out >= n_agents))
                reason[missing] = "no such agent"
                ok &= ~missing
            if self.ge is not None:
                low = ok & (out < self.ge)
                reason[low] = f"must be >= {self.ge:g}"
                ok &= ~low
            if self.le is not None:
                high = ok & (out > self.le)
                reason[high] = f"must be <= {self.le:g}"
                ok &= ~high
            return out, ok, reason.array
        if self.kind == "bool":
            if values.dtype == bool:
                return values, ok, reason.array
            out = np.zeros(n, dtype=bool)
            for i, v in enumerate(values):
                if isinstance(v, bool | np.bool_) or v in (0, 1):
                    out[i] = bool(v)
                elif isinstance(v, str) and v.lower() in ("true", "false"):
                    out[i] = v.lower() == "true"
                else:
                    ok[i], reason[i] = False, "must be true or false"
            return out, ok, reason.array
        if values.dtype.kind == "U":  # a NumPy string array holds text only: no per-value checks
            as_str = values
        else:
            as_str = np.asarray([v if isinstance(v, str) else None for v in values], dtype=object)
            not_str = np.asarray([v is None for v in as_str], dtype=bool)
            reason[not_str] = "must be text"
            ok &= ~not_str
        if self.kind == "choice":
            outside = ok & ~np.isin(as_str.astype(str), self.choices)
            reason[outside] = f"must be one of {', '.join(self.choices)}"
            ok &= ~outside
        elif self.max_length is not None:
            lengths = np.fromiter((len(v) if v is not None else 0 for v in as_str), np.int64, n)
            long = ok & (lengths > self.max_length)
            reason[long] = f"longer than {self.max_length} characters"
            ok &= ~long
        return as_str, ok, reason.array


_NO_REASON = np.array("", dtype=object)


class _Reasons:
    """Why rows failed, one text per row, allocated at the first failure: a valid batch never pays."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._array: np.ndarray | None = None

    def __setitem__(self, where: Any, message: Any) -> None:
        if self._array is None:
            if isinstance(where, np.ndarray) and where.dtype == bool and not where.any():
                return
            self._array = filled(self.n, "")
        self._array[where] = message

    @property
    def array(self) -> np.ndarray:
        """One reason per row, "" where none; a read-only view when nothing failed."""
        return self._array if self._array is not None else np.broadcast_to(_NO_REASON, (self.n,))


def _to_number(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    if values.dtype.kind in "fb":
        return values.astype(np.float64, copy=False)
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if isinstance(v, bool | np.bool_) or v is None:
            continue
        if isinstance(v, int | float | np.integer | np.floating):
            out[i] = float(v)
        elif isinstance(v, str):
            with contextlib.suppress(ValueError):
                out[i] = float(v)
    return out


@dataclass(frozen=True)
class ActionSpec:
    """One action a world accepts: its name, typed arguments and a description for prompts."""

    name: str
    args: Mapping[str, Arg] = field(default_factory=dict)
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {n: a.json_schema() for n, a in self.args.items()},
            "required": list(self.args),
            "additionalProperties": False,
        }


class ActionSpace:
    """The explicit table of a world's actions."""

    def __init__(self, *specs: ActionSpec) -> None:
        self._specs = {spec.name: spec for spec in specs}
        if len(self._specs) != len(specs):
            raise ValueError("action names must be unique")

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ActionSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    def __getitem__(self, name: str) -> ActionSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownNameError("action", name, self._specs) from None

    def subset(self, names: Iterable[str] | None) -> ActionSpace:
        """The space restricted to ``names`` (a scenario chooses which actions are available)."""
        if names is None:
            return self
        return ActionSpace(*(self[n] for n in names))

    def json_schema(self) -> dict[str, Any]:
        """One schema for "pick one action and its arguments", for constrained model output."""
        return {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"action": {"const": spec.name}, "args": spec.json_schema()},
                    "required": ["action", "args"],
                    "additionalProperties": False,
                }
                for spec in self
            ]
        }

    def validate(self, batch: Actions, n_agents: int) -> tuple[Actions | None, Events | None]:
        """Split a batch into its valid part (arguments converted) and rejection events."""
        n = len(batch)
        agents = np.asarray(batch.agents)
        if batch.name not in self._specs:
            msg = str(UnknownNameError("action", batch.name, self._specs))
            return None, Events.rejected(batch, np.ones(n, dtype=bool), msg)
        spec = self._specs[batch.name]
        ok = (agents >= 0) & (agents < n_agents) if agents.dtype.kind in "iu" else np.zeros(n, bool)
        reason = _Reasons(n)
        reason[~ok] = "no such agent"
        converted: dict[str, np.ndarray] = {}
        for arg_name in batch.args:
            if arg_name not in spec.args:
                reason[ok] = f"unexpected argument {arg_name!r} for {spec.name}"
                ok[:] = False
        for arg_name, arg in spec.args.items():
            if arg_name not in batch.args:
                reason[ok] = f"missing argument {arg_name!r}"
                ok[:] = False
                continue
            values, arg_ok, arg_reason = arg.convert(np.asarray(batch.args[arg_name]), n_agents)
            newly_bad = ok & ~arg_ok
            reason[newly_bad] = [f"{arg_name}: {r}" for r in arg_reason[newly_bad]]
            ok &= arg_ok
            converted[arg_name] = values
        rejected = None if ok.all() else Events.rejected(batch, ~ok, reason.array)
        if not ok.any():
            return None, rejected
        if rejected is None:  # all valid: no copies
            return Actions(spec.name, agents.astype(np.int64, copy=False), converted, batch.request), None
        keep = np.flatnonzero(ok)
        valid = Actions(
            spec.name, agents[keep].astype(np.int64),
            {k: v[keep] for k, v in converted.items()},
            None if batch.request is None else batch.request[keep],
        )
        return valid, rejected


@dataclass
class Actions:
    """Many agents taking the same action: ``agents[i]`` acts with ``args[k][i]``.

    ``request`` optionally links each action to the model request that produced it.
    """

    name: str
    agents: np.ndarray
    args: dict[str, np.ndarray] = field(default_factory=dict)
    request: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.agents)

    def take(self, index: np.ndarray) -> Actions:
        """The actions at ``index`` (positions or a boolean mask)."""
        return Actions(
            self.name, self.agents[index], {k: v[index] for k, v in self.args.items()},
            None if self.request is None else self.request[index],
        )

    @staticmethod
    def from_records(records: Iterable[tuple[int, str, Mapping[str, Any], str | None]]) -> list[Actions]:
        """Group ``(agent, action, args, request_id)`` records (e.g. parsed model output) by action."""
        grouped: dict[str, list[tuple[int, Mapping[str, Any], str | None]]] = {}
        for agent, name, args, request in records:
            grouped.setdefault(name, []).append((agent, args, request))
        batches = []
        for name, rows in grouped.items():
            keys = sorted({k for _, args, _ in rows for k in args})
            batches.append(Actions(
                name,
                np.asarray([r[0] for r in rows], dtype=np.int64),
                {k: _object_array([args.get(k) for _, args, _ in rows]) for k in keys},
                _object_array([r[2] for r in rows]),
            ))
        return batches


def _object_array(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
