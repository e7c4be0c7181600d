"""``populace fork RUN --at STEP``: a counterfactual branch of a recorded run.

The branch starts from the parent's state after ``STEP`` steps: the checkpoint at or before it,
replayed forward with the parent's own scenario to exactly ``STEP`` when they differ (the
parent's response cache is copied first, so that replay asks no model). The parent's trace
parts before ``STEP`` are copied into the branch, so its tables tell the whole history. Then the
changed scenario takes over: ``--set`` overrides (world and mind parameters, schedule, steps,
interventions) and interventions added at the fork step. ``run.json`` records the parent. What
the restored state fixes cannot be overridden (see ``FIXED``: the population, seed, world type,
regions, and each mind tier's type, selection and shards), nor can an intervention be added
before the fork step.

A fork keeps its parent's random streams, so it differs from its parent only by its changes. With
``reseed`` it draws afresh after the fork step instead: every random generator of the state is
replaced by one seeded from ``(parent seed, fork step, reseed)``. An ensemble of such forks, one per
``reseed``, gives the spread of what follows the fork point (``populace fork --seeds N``).

World parameters the world reads every step (rates, thresholds) take effect through its config.
One it only reads at reset takes effect when the world has a ``set_<name>`` operation, which the
fork runs at the fork step (``--set world.params.recommender.type=random`` calls
``set_recommender``); otherwise (e.g. the network's degree) it changes nothing after the fork.
"""

from __future__ import annotations

import io
import pickle
import re
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from populace import layout
from populace.context import MindContext
from populace.errors import RunError, ScenarioError
from populace.minds import Mind
from populace.minds.fallback import FallbackMind
from populace.regions import RegionalWorld
from populace.runs import Run
from populace.scenario import Scenario, load_scenario
from populace.simulation import Simulation, snapshot_tables
from populace.trace import load_checkpoint, write_checkpoint, write_snapshot
from populace.world import World

#: Scenario fields (dotted paths) a fork cannot change, as the state restored from the parent fixes them,
#: with the error's reason.
FIXED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"seed$"), "a fork continues its parent's random streams; start a new run to change it"),
    (re.compile(r"population(\..*)?$"), "a fork keeps its parent's agents; start a new run to change them"),
    (re.compile(r"world\.type$"), "a fork keeps its parent's world; start a new run to change it"),
    (re.compile(r"world\.partitions$"), "a fork keeps its parent's regions; start a new run to change them"),
    (re.compile(r"minds\.\d+\.(type|select|shards)$"),
     "a fork keeps its parent's mind tiers; change their parameters, not their type, selection or shards"),
    (re.compile(r"minds\.\d+\.fallback(\..*)?$"), "a fork keeps its parent's fallback chains"),
)
_MISSING = object()


def parse_intervention(text: str, at: int) -> dict[str, Any]:
    """``"operation key=value ..."`` (shell-quoted; values read as YAML) -> an intervention at step ``at``."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ScenarioError(f"intervention {text!r}: {exc}") from None
    if not words:
        raise ScenarioError(f"intervention {text!r} must look like 'operation key=value ...'")
    call, pairs = words[0], words[1:]
    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ScenarioError(f"intervention {text!r}: {pair!r} must look like key=value")
        try:
            args[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            args[key] = raw
    return {"at_step": at, "call": call, "args": args}


def _branch_scenario(parent: Run, at: int, overrides: Sequence[str], interventions: Sequence[str]) -> Scenario:
    original = parent.scenario()
    data = yaml.safe_load(layout.scenario_file(parent.path).read_text(encoding="utf-8"))
    data.setdefault("interventions", [])
    data["interventions"] = [*data["interventions"], *(parse_intervention(t, at) for t in interventions)]
    scenario = load_scenario(data, overrides, recorded=True)  # the parent's late interventions may run now
    setters = _setter_interventions(original, scenario, at)
    if setters:
        data["interventions"] = [*data["interventions"], *setters]
        scenario = load_scenario(data, overrides, recorded=True)
    scenario._base_dir = original.base_dir
    if len(scenario.minds) != len(original.minds):
        raise ScenarioError("a fork keeps the parent's mind tiers; change their parameters, not their number")
    _check_changes(original, scenario, at)
    return scenario


def _check_changes(original: Scenario, changed: Scenario, at: int) -> None:
    """Refuse a change the fork could not apply (a ``FIXED`` field, an intervention before ``at``)."""
    for path in _changed_fields(original.model_dump(), changed.model_dump()):
        for pattern, reason in FIXED:
            if pattern.match(path):
                raise ScenarioError(f"{path}: {reason}")
    clock = changed.clock.clock()
    for iv in changed.interventions:
        step = iv.step(clock)
        if step < at and iv not in original.interventions:
            raise ScenarioError(f"interventions: {iv.call!r} at step {step} is before the fork step {at}, "
                                "so it would never run")
        if step >= changed.steps and iv not in original.interventions:
            raise ScenarioError(f"interventions: {iv.call!r} at step {step} never runs: the branch's last step is "
                                f"{changed.steps - 1} (steps: {changed.steps})")


def _changed_fields(old: Any, new: Any, path: str = "") -> list[str]:
    """The dotted paths at which two scenario dumps differ (lists of equal length item by item)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [changed for key in dict.fromkeys([*old, *new])
                for changed in _changed_fields(old.get(key, _MISSING), new.get(key, _MISSING),
                                               f"{path}.{key}" if path else str(key))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [changed for i, (a, b) in enumerate(zip(old, new, strict=True))
                for changed in _changed_fields(a, b, f"{path}.{i}")]
    return [] if old == new else [path]


def _setter_interventions(original: Scenario, changed: Scenario, at: int) -> list[dict[str, Any]]:
    """For a changed world parameter ``x`` that the world only reads at reset, its ``set_x``
    operation (if it has one) run at the fork step: e.g. ``world.params.recommender`` ->
    ``set_recommender(type=..., params=...)``."""
    from populace.world import worlds

    operations = worlds.get(changed.world.type).operations()
    out = []
    for key, value in changed.world.params.items():
        if original.world.params.get(key) != value and f"set_{key}" in operations:
            out.append({"at_step": at, "call": f"set_{key}",
                        "args": value if isinstance(value, dict) else {"value": value}})
    return out


def _copy_parts(parent: Path, child: Path, at: int) -> None:
    """Copy every trace part holding steps before ``at``; cut the one that spans it."""
    for name in layout.TABLES:
        layout.table_dir(child, name).mkdir(parents=True, exist_ok=True)
        for part in layout.parts(parent, name):
            found = layout.part_steps(part)
            if found is None or found[0] >= at:
                continue
            first, last = found
            if last < at:
                shutil.copy2(part, layout.table_dir(child, name) / part.name)
                continue
            table = pq.read_table(part)
            table = table.filter(pc.less(table["step"], at))
            pq.write_table(table, layout.part_file(child, name, first, at - 1))


def _state_at(parent: Run, at: int, child: Run) -> dict[str, Any]:
    """The parent's simulation state after ``at`` steps, replaying from its last checkpoint before."""
    scenario = parent.scenario()
    sim = Simulation(scenario, None)
    sim.context = MindContext(child.path, dict(scenario.model), False, plugins=tuple(scenario.plugins))
    start = max((s for s in layout.checkpoint_steps(parent.path) if s <= at), default=None)
    if start is not None:
        sim._load_state(load_checkpoint(parent.path, start))
    else:
        for shard in sim.shards:
            shard.attach(sim.context)
    if sim.steps_done < at:
        sim.run(steps=at - sim.steps_done)
    return sim._state()


def _reconfigure(sim: Simulation) -> None:
    """Apply the branch scenario's parameters to the world and minds restored from the checkpoint."""
    scenario = sim.scenario
    world_cls = type(sim.world)
    if sim.regions:  # a partitioned world: every region's part of the world and its minds (one per tier)
        assert issubclass(world_cls, RegionalWorld)
        sizes = [len(region.agents) for region in sim.regions]
        for region, params in zip(sim.regions, world_cls.region_params(scenario.world.params, sizes), strict=True):
            _reconfigure_world(region.world, params, scenario.world.actions)
            for mind, spec in zip(region.minds, scenario.minds, strict=True):
                _reconfigure_mind(mind, spec.params())
        return
    _reconfigure_world(sim.world, scenario.world.params, scenario.world.actions)
    for mind, tier in zip(sim.minds, sim.mind_tier, strict=True):
        _reconfigure_mind(mind, scenario.minds[tier].params())


def _reconfigure_world(world: World, params: dict[str, Any], actions: list[str] | None) -> None:
    world.config = type(world).Config.model_validate(params)
    world.action_space = type(world).actions.subset(actions)


def _reconfigure_mind(mind: Mind, params: dict[str, Any]) -> None:
    if isinstance(mind, FallbackMind):  # the declared mind takes the parameters; its fallbacks keep theirs
        mind = mind.primary
    config = type(mind).Config.model_validate(params)
    reconfigure = getattr(mind, "reconfigure", None)
    if callable(reconfigure):
        reconfigure(config)
        return
    mind.config = config
    if hasattr(mind, "params") and hasattr(config, "params"):
        mind.params = config.params
    if hasattr(mind, "policy") and hasattr(config, "policy"):
        from populace.minds.rules import policies

        mind.policy = policies.get(config.policy)


class _Reseeding(pickle.Pickler):
    """Pickles a state with every random generator replaced by a fresh one, each seeded by the next
    child of one seed sequence (in the pickler's fixed order; a generator shared by two owners stays shared)."""

    def __init__(self, file: io.BytesIO, seeds: np.random.SeedSequence) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.seeds = seeds

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, np.random.Generator):
            return np.random.default_rng, (self.seeds.spawn(1)[0],)
        return NotImplemented


def reseeded(state: dict[str, Any], entropy: Sequence[int]) -> dict[str, Any]:
    """A copy of a simulation state whose random generators all start afresh from
    ``SeedSequence(entropy)``: the same agents and world, other random draws from here on."""
    buffer = io.BytesIO()
    _Reseeding(buffer, np.random.SeedSequence(list(entropy))).dump(state)
    state_copy: dict[str, Any] = pickle.loads(buffer.getvalue())
    return state_copy


def check_fork(run_path: Path | str, at: int, overrides: Sequence[str] = (),
               interventions: Sequence[str] = ()) -> Scenario:
    """The branch's scenario, once the fork is known to be possible (a recorded step, changes it can
    apply); makes nothing."""
    parent = Run.open(Path(run_path))
    done = int(parent.manifest().get("steps_done") or 0)
    if not 0 <= at <= done:
        raise RunError(f"--at {at}: {parent.id} has {done} steps recorded; choose a step from 0 to {done}")
    scenario = _branch_scenario(parent, at, overrides, interventions)
    if scenario.steps < at:
        raise ScenarioError(f"steps: {scenario.steps} is before the fork step {at}")
    return scenario


def fork(run_path: Path | str, at: int, overrides: Sequence[str] = (), interventions: Sequence[str] = (),
         runs_dir: Path | None = None, *, reseed: int | None = None, name: str | None = None) -> Simulation:
    """Create the branch run (not yet stepped) and return its simulation, ready at step ``at``.

    ``reseed``: draw afresh after the fork step (see the module's notes); ``name``: the branch's run id
    (default: the scenario's name, a time stamp and a random suffix)."""
    parent = Run.open(Path(run_path))
    scenario = check_fork(parent.path, at, overrides, interventions)
    child = Run.create(runs_dir if runs_dir is not None else parent.path.parent, scenario, name=name)
    if layout.cache_dir(parent.path).is_dir():
        shutil.copytree(layout.cache_dir(parent.path), layout.cache_dir(child.path))
    state = _state_at(parent, at, child)
    if reseed is not None:
        state = reseeded(state, (scenario.seed, at, reseed))
    write_snapshot(child.path, at, snapshot_tables(state))  # first, as a run writes them: a checkpoint has its snapshot
    write_checkpoint(child.path, at, state)
    _copy_parts(parent.path, child.path, at)
    changes = [*overrides, *(f"intervention {t!r} at step {at}" for t in interventions)]
    if reseed is not None:
        changes.append(f"random draws reseeded ({reseed}) after step {at}")
    child.update(parent={"id": parent.id, "path": str(parent.path.resolve()), "at": at}, changes=changes,
                 steps_done=at, last_checkpoint=at, status="forked", reseed=reseed)
    return _branch(child)


def resume_branch(run_path: Path | str) -> Simulation:
    """A fork that stopped (or was killed) on its way, ready to go on: from its last checkpoint, with
    the branch's parameters applied (its checkpoint at the fork step still holds the parent's)."""
    return _branch(Run.open(Path(run_path)))


def _branch(run: Run, *, replay: bool = False) -> Simulation:
    """A branch run ready at its fork step: the restored state, with the branch's parameters applied."""
    sim = Simulation.resume(run.path)
    sim.context.replay = replay  # model clients are made on first use, so answers come from the cache only
    _reconfigure(sim)
    return sim


def replay_branch(branch: Run, replay: Run) -> Simulation:
    """A fork set to be replayed into the run ``replay``: from the state the fork started from (its
    checkpoint at the fork step) and the trace before it, with the fork's changes, as the fork ran.
    The state before the fork step is the parent's, replayed when the fork was made."""
    at = int(branch.manifest()["parent"]["at"])
    base = layout.checkpoint_file(branch.path, at)
    if not base.is_file():
        raise RunError(f"{branch.id} is a fork of step {at}, but its checkpoint of that step is gone, so it cannot "
                       "be replayed; replay its parent, or fork it again")
    for snapshot in layout.snapshot_files(branch.path, at):
        layout.snapshot_dir(replay.path).mkdir(exist_ok=True)
        shutil.copy2(snapshot, layout.snapshot_dir(replay.path) / snapshot.name)
    layout.checkpoint_dir(replay.path).mkdir(exist_ok=True)
    shutil.copy2(base, layout.checkpoint_file(replay.path, at))
    _copy_parts(branch.path, replay.path, at)
    replay.update(steps_done=at, last_checkpoint=at)
    return _branch(replay, replay=True)
