"""Conformance checks for worlds, yours included: ``check_world(world)``.

Like Gymnasium's ``check_env``: it resets the world, observes, drives it with random valid
actions, checks that every action yields exactly one event, that the same seed gives the same
run, and that bad actions (unknown name, bad argument, missing agent) are rejected with a reason
rather than raising. A world that declares its observation (``World.observation``) must observe
exactly the declared columns, each of its declared kind and per-agent shape.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from collections.abc import Callable, Mapping
from functools import partial

import numpy as np

from populace.actions import Actions, ActionSpec, Arg
from populace.errors import WorldCheckError
from populace.events import OK, REJECTED, Events
from populace.world import Column, Observations, World


def check_world(world: World, *, steps: int = 5, seed: int = 0, batch: int = 32) -> None:
    """Raise :class:`WorldCheckError` listing every way ``world`` breaks the World contract."""
    problems: list[str] = []

    def expect(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

    def guarded(what: str, call: Callable[[], object]) -> object:
        try:
            return call()
        except Exception as exc:
            problems.append(f"{what} raised {type(exc).__name__}: {exc}")
            return None

    expect(bool(world.name), "world has no name")
    expect(len(world.action_space) > 0, "world declares no actions")
    table = guarded("handlers()", world.handlers)
    if isinstance(table, Mapping):
        missing = set(world.action_space.names) - set(table)
        expect(not missing, f"no handler for action(s) {sorted(missing)}")
    declared = guarded("observation_columns()", lambda: tuple(type(world).observation_columns(world.config)))
    columns: dict[str, Column] = {}
    if isinstance(declared, tuple):
        columns = {column.name: column for column in declared}
        twice = sorted({c.name for c in declared if sum(d.name == c.name for d in declared) > 1})
        expect(not twice, f"the observation declares column(s) {twice} more than once")
    if problems:
        raise WorldCheckError("; ".join(problems))

    first = guarded("a seeded run", lambda: _fingerprint(world, steps, seed, batch, expect, columns))
    second = guarded("a second seeded run", lambda: _fingerprint(world, steps, seed, batch, expect, columns))
    expect(first is None or first == second, "the same seed gave a different run (not deterministic)")

    guarded("reset()", lambda: world.reset(seed))
    n = world.n_agents
    good_agent = np.asarray([0], dtype=np.int64)
    spec = next(iter(world.action_space))
    bad_batches: list[tuple[str, Actions]] = [
        ("an unknown action", Actions("no_such_action_xyz", good_agent, {})),
        ("a missing agent", Actions(spec.name, np.asarray([n + 7], dtype=np.int64),
                                    _random_args(spec, 1, n, np.random.default_rng(1)))),
        ("a negative agent", Actions(spec.name, np.asarray([-3], dtype=np.int64),
                                     _random_args(spec, 1, n, np.random.default_rng(1)))),
    ]
    for spec in world.action_space:
        for arg_name, arg in spec.args.items():
            bad = _random_args(spec, 1, n, np.random.default_rng(2))
            bad[arg_name] = np.asarray([_bad_value(arg)], dtype=object)
            bad_batches.append((f"a bad {spec.name}.{arg_name}", Actions(spec.name, good_agent, bad)))
        if spec.args:
            args = _random_args(spec, 1, n, np.random.default_rng(3))
            args.pop(next(iter(spec.args)))
            bad_batches.append((f"{spec.name} without an argument", Actions(spec.name, good_agent, args)))
    mixed = _random_args(spec, 4, n, np.random.default_rng(4))
    mixed_batch = Actions(spec.name, np.asarray([0, n + 7, 0, 0], dtype=np.int64), mixed)
    events = guarded("apply() with a partly valid batch", partial(world.apply, [mixed_batch]))
    if isinstance(events, list):
        own = [e for e in events if e.kind == spec.name]
        expect(sum(len(e) for e in own) == 4,
               f"apply() with a partly valid batch of 4 gave {sum(len(e) for e in own)} events, not 4")
        bad_agent = [r for e in own if e.reason is not None for a, r in zip(e.agents, e.reason, strict=True)
                   if a == n + 7]
        expect(bad_agent == ["no such agent"], "a missing agent in a partly valid batch must be rejected")
    for label, bad_batch in bad_batches:
        events = guarded(f"apply() with {label}", partial(world.apply, [bad_batch]))
        if isinstance(events, list):
            outcomes = [o for e in events for o in e.outcome]
            reasons = [r for e in events if e.reason is not None for r in e.reason]
            expect(outcomes == [REJECTED], f"apply() with {label} was not rejected (got {outcomes})")
            expect(all(isinstance(r, str) and r for r in reasons), f"apply() with {label}: no reason")
    if problems:
        raise WorldCheckError(f"{type(world).__name__}: " + "; ".join(dict.fromkeys(problems)))


def _fingerprint(world: World, steps: int, seed: int, batch: int,
                 expect: Callable[[bool, str], None], declared: Mapping[str, Column]) -> str:
    world.reset(seed)
    rng = np.random.default_rng(seed + 1)
    digest = hashlib.sha256()
    n = world.n_agents
    for _ in range(steps):
        ids = np.sort(rng.choice(n, size=min(batch, n), replace=False)).astype(np.int64)
        obs = world.observe(ids)
        expect(isinstance(obs, Observations), "observe() must return Observations")
        expect(np.array_equal(obs.agents, ids), "observe() must keep the agents it was given, in order")
        for name, column in obs.columns.items():
            expect(len(column) == len(ids), f"observation column {name!r} has the wrong length")
        if declared:
            _check_declared(obs, declared, expect)
        digest.update(pickle.dumps({k: np.asarray(v).tolist() for k, v in obs.columns.items()}))
        batches = []
        for spec in world.action_space:
            who = ids[rng.random(len(ids)) < 0.5]
            batches.append(Actions(spec.name, who, _random_args(spec, len(who), n, rng)))
        events = world.apply(batches) + world.tick()
        expect(all(isinstance(e, Events) for e in events), "apply() and tick() must return Events")
        agent_events = sum(int(np.count_nonzero(e.outcome != "failed")) for e in events
                           if e.kind in world.action_space)
        expect(agent_events == sum(len(b) for b in batches),
               "every action must yield exactly one event (accepted or rejected)")
        for e in events:
            digest.update(pickle.dumps((e.kind, e.agents.tolist(), e.outcome.tolist())))
            if e.reason is not None:
                bad_reason = (e.outcome != OK) & np.asarray([not r for r in e.reason], dtype=bool)
                expect(not bad_reason.any(), f"{e.kind}: rejected events need a reason")
        metrics = world.metrics()
        expect(all(isinstance(v, int | float) and math.isfinite(v) for v in metrics.values()),
               "metrics() must return finite numbers")
        digest.update(pickle.dumps(sorted(metrics.items())))
    return digest.hexdigest()


def _check_declared(obs: Observations, declared: Mapping[str, Column],
                    expect: Callable[[bool, str], None]) -> None:
    """The columns observed are exactly those declared, each of its declared kind and per-agent shape."""
    missing = [name for name in declared if name not in obs.columns]
    expect(not missing, f"observe() lacks the declared column(s) {missing}")
    extra = [name for name in obs.columns if name not in declared]
    expect(not extra, f"observe() returns column(s) {extra} that the world does not declare (World.observation)")
    for name, values in obs.columns.items():
        if name in declared:
            mismatch = declared[name].mismatch(values)
            expect(mismatch is None, f"observation column {name!r}: {mismatch}")


def _random_args(spec: ActionSpec, k: int, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {name: _random_values(arg, k, n, rng) for name, arg in spec.args.items()}


def _random_values(arg: Arg, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    low = arg.ge if arg.ge is not None else 0
    high = arg.le if arg.le is not None else low + 10
    if arg.kind == "agent":
        return rng.integers(0, n, k)
    if arg.kind == "int":
        return rng.integers(math.ceil(low), math.floor(high) + 1, k)
    if arg.kind == "float":
        return rng.uniform(low, high, k)
    if arg.kind == "bool":
        return rng.random(k) < 0.5
    if arg.kind == "choice":
        return np.asarray(arg.choices, dtype=object)[rng.integers(0, len(arg.choices), k)]
    length = min(arg.max_length or 20, 20)
    return np.asarray([f"check {i}"[:length] for i in range(k)], dtype=object)


def _bad_value(arg: Arg) -> object:
    if arg.kind in ("agent", "int", "float"):
        return "not a number"
    if arg.kind == "bool":
        return "maybe"
    if arg.kind == "choice":
        return "not-one-of-the-choices"
    return 12345
