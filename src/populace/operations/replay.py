"""Replay: re-run a recorded run from its response cache, with no model calls, and compare.

The replay is a new run directory (``replay_of`` in its manifest) holding a copy of the original's
``cache/``; every model request is answered from it, and a request it does not hold is a
``replay_miss`` naming that request. Then the two traces are compared event by event. A fork
replays from the state it was forked from, with its changes (see
:func:`populace.operations.fork.replay_branch`): its steps before the fork are its parent's.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from populace import layout
from populace.llm.base import Usage
from populace.llm.client import LanguageModel
from populace.runs import Run


@dataclass
class ReplayResult:
    """What a replay did and whether it reproduced the original."""

    original: Path
    replay: Path
    steps: int
    #: the step the replay started from: 0, or a fork's fork step
    start: int = 0
    usage: Usage = field(default_factory=Usage)
    misses: list[str] = field(default_factory=list)
    difference: str | None = None

    @property
    def identical(self) -> bool:
        """The replay's trace equals the original's. Requests the cache lacks (``misses``) fail in the
        replay; the trace can only stay identical if they had failed in the original as well."""
        return self.difference is None


def read_table(run_path: Path, name: str) -> pa.Table | None:
    """A recorded table (``events``, ``metrics``) with dictionary columns decoded, or None."""
    parts = layout.parts(run_path, name)
    if not parts:
        return None
    table = pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")
    columns = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c
               for c in (table.column(i).combine_chunks() for i in range(table.num_columns))]
    return pa.table(columns, names=table.column_names)


def first_difference(a: pa.Table | None, b: pa.Table | None, what: str) -> str | None:
    """None when the tables hold the same rows; otherwise where they first differ, in words."""
    if a is None or b is None:
        return None if a is None and b is None else f"{what}: only one run recorded any"
    if a.num_rows != b.num_rows:
        return f"{what}: {a.num_rows} rows in the original, {b.num_rows} in the replay"
    for name in a.column_names:
        if name not in b.column_names:
            return f"{what}: column {name!r} is missing from the replay"
        x, y = a.column(name), b.column(name)
        if x.equals(y):
            continue
        if x.type != y.type:
            return f"{what}: column {name!r} is {x.type} in the original, {y.type} in the replay"
        same = pc.fill_null(pc.equal(x, y), False)
        both_null = pc.and_(pc.is_null(x), pc.is_null(y))
        differs = pc.invert(pc.or_(same, both_null))
        rows = pc.indices_nonzero(differs)
        if len(rows) == 0:
            continue
        row = rows[0].as_py()
        step = a.column("step")[row].as_py() if "step" in a.column_names else "?"
        return f"{what}: row {row} (step {step}) differs in {name!r}: {x[row].as_py()!r} != {y[row].as_py()!r}"
    return None


def replay_run(run_path: Path | str, runs_dir: Path | None = None) -> ReplayResult:
    """Re-run ``run_path``'s scenario from its cache into a new run and compare the traces."""
    from populace.simulation import Simulation

    original = Run.open(run_path)
    manifest = original.manifest()
    scenario = original.scenario()
    steps = int(manifest.get("steps_done") or 0)
    replay = Run.create(runs_dir or original.path.parent, scenario)
    replay.update(replay_of=original.id)
    cache = layout.cache_dir(original.path)
    if cache.is_dir():
        shutil.copytree(cache, layout.cache_dir(replay.path), dirs_exist_ok=True)
    if manifest.get("parent"):
        from populace.operations.fork import replay_branch

        sim = replay_branch(original, replay)
    else:
        sim = Simulation(scenario, replay, replay=True)
    budget = manifest.get("budget") or {}
    if budget.get("degraded_at") is not None:  # the replay's model calls are cache hits: step down where the run did
        sim.replay_step_down = (int(budget["degraded_at"]), str(budget.get("degraded") or "budget"))
    start = sim.steps_done
    sim.run(steps - start)
    result = ReplayResult(original.path, replay.path, steps, start)
    for client in sim.context.shared.values():
        if isinstance(client, LanguageModel):
            result.usage.add(client.usage)
            result.misses.extend(client.misses)
    result.difference = (first_difference(read_table(original.path, layout.EVENTS),
                                          read_table(replay.path, layout.EVENTS), layout.EVENTS)
                         or first_difference(read_table(original.path, layout.METRICS),
                                             read_table(replay.path, layout.METRICS), layout.METRICS))
    replay.update(replay_identical=result.identical, replay_model_calls=result.usage.calls)
    return result
