"""The Simulation: a scenario's population, world, minds, scheduler and trace, stepped in time.

One ``numpy.random.SeedSequence(seed)`` is spawned into independent streams for the population,
the world, the scheduler and each mind, so the same seed gives the same run, and a checkpoint
(which holds every stream's state) resumes it exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time as wallclock
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from populace import layout
from populace.budget import Spending, exhausted, stop_message
from populace.context import MindContext
from populace.errors import PopulaceError, RunError, RunFailedError, ScenarioError
from populace.events import FAILED, OK, REJECTED, Events, count_outcomes
from populace.execution import Executor, LocalExecutor
from populace.execution.base import summed
from populace.execution.regions import Region, RegionStep, build_regions
from populace.execution.turns import by_shard, take_turn
from populace.health import MODEL_DECISIONS, RunHealth, failing_message, model_location, outage_message
from populace.minds import Decisions, Mind, minds
from populace.minds.fallback import BUDGET, FallbackMind
from populace.minds.language import LanguageMind
from populace.minds.memory import KINDS, MemoryStream
from populace.network import Network
from populace.persona import sample_attributes
from populace.population import Population
from populace.regions import RegionalWorld
from populace.runs import Run
from populace.scenario import MindSpec, Scenario, check_partitions, load_scenario, mind_masks
from populace.scheduler import Scheduler
from populace.trace import TraceStore, load_checkpoint, write_snapshot
from populace.world import Observations, World, worlds

#: what a resumed run may change in its scenario (see :meth:`Simulation.resume`)
RESUMABLE = ("budget",)


def build_population(scenario: Scenario, rng: np.random.Generator) -> Population:
    """Load the population file (if any), then sample the declared attributes."""
    spec = scenario.population
    population = Population.from_file(scenario.resolve(spec.file)) if spec.file else None
    size = population.size if population is not None else int(spec.size or 0)
    if population is not None and spec.size is not None and spec.size != size:
        if spec.size > size:
            raise ScenarioError(f"population.size: {spec.size} is more than the {size} rows of {spec.file}")
        population = Population({k: population[k][: spec.size] for k in population.columns})
        size = spec.size
    existing = {k: population[k] for k in population.columns} if population is not None else {}
    return Population(sample_attributes(spec.attributes, size, rng, existing), size=size)


SOURCE, NAME = layout.FIELD_SOURCE, layout.FIELD_NAME
AGENT, REGION, ID_IN_REGION = layout.AGENT, layout.REGION, layout.ID_IN_REGION


def snapshot_tables(state: dict[str, Any]) -> dict[str, pa.Table | None]:
    """The per-agent snapshot of a simulation state, by kind (see :mod:`populace.layout`): one row
    per agent with the population's columns and the world's per-agent state
    (:meth:`World.agent_state`; a partitioned world's regions joined in agent order, each region's
    values as it holds them); the minds' memory streams, where a mind keeps one; the world's
    contact network, where it has one."""
    population: Population = state["population"]
    regions: list[Region] = list(state.get("regions") or [])
    n = population.size
    columns: dict[str, pa.Array] = {AGENT: pa.array(np.arange(n, dtype=np.int64))}
    if regions:
        columns[REGION] = pa.array(np.concatenate([np.full(len(r.agents), r.index, np.int32) for r in regions]))
        columns[ID_IN_REGION] = pa.array(np.concatenate([np.arange(len(r.agents), dtype=np.int64) for r in regions]))
    values: list[tuple[str, str, Any]] = [("population", name, population[name]) for name in population.columns]
    if regions:
        parts = [r.world.agent_state() for r in regions]
        shared = [name for name in parts[0] if all(name in part for part in parts[1:])]
        joined = {}
        for name in shared:
            try:
                joined[name] = np.concatenate([np.asarray(part[name]) for part in parts])
            except ValueError:  # regions whose arrays do not join (other trailing shapes)
                continue
        values += [("world", name, value) for name, value in joined.items()]
    elif state.get("world") is not None:
        values += [("world", name, value) for name, value in state["world"].agent_state().items()]
    metadata: dict[str, dict[bytes, bytes]] = {AGENT: {SOURCE: b"run", NAME: AGENT.encode()}}
    for name in (REGION, ID_IN_REGION) if regions else ():
        metadata[name] = {SOURCE: b"run", NAME: name.encode()}
    for source, name, value in values:
        array = _arrow_column(np.asarray(value), n)
        if array is None:
            continue
        column = name if name not in columns else f"{source}.{name}"
        if column in columns:
            continue
        columns[column] = array
        metadata[column] = {SOURCE: source.encode(), NAME: name.encode()}
    schema = pa.schema([pa.field(name, array.type, metadata=metadata[name]) for name, array in columns.items()])
    agents = pa.Table.from_arrays(list(columns.values()), schema=schema)
    world = state.get("world")
    network = world.contacts() if world is not None else None
    return {layout.AGENTS_SNAPSHOT: agents, layout.MEMORIES_SNAPSHOT: _memory_table(state),
            layout.NETWORK_SNAPSHOT: None if network is None else _network_table(network)}


def _arrow_column(values: np.ndarray, n: int) -> pa.Array | None:
    """One snapshot column of ``n`` agents' values: a scalar per agent, or a fixed-size list where
    each agent has several (a 2-D array); None for what is not one row per agent."""
    if values.ndim == 0 or len(values) != n:
        return None
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    if values.ndim > 1:
        width = int(np.prod(values.shape[1:]))
        flat = _arrow_column(values.reshape(n * width), n * width)
        return None if flat is None else pa.FixedSizeListArray.from_arrays(flat, width)
    try:
        return pa.array(values)
    except (pa.ArrowException, TypeError, ValueError):  # mixed Python objects: kept as their text
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def _memory_table(state: dict[str, Any]) -> pa.Table | None:
    """Every memory of the minds that keep a memory stream (the generative mind's; a fallback
    chain's declared mind's), agents by their run ids; None when no mind keeps one."""
    holders: list[tuple[int, int, Any]] = []  # (first agent id of the shard's numbering, mind, stream)
    regions: list[Region] = list(state.get("regions") or [])
    groups = [(int(r.agents[0]) if len(r.agents) else 0, list(r.minds)) for r in regions] if regions else \
        [(0, list(state.get("minds") or []))]
    for offset, group in groups:
        for index, mind in enumerate(group):
            stream = getattr(mind, "memory", None)
            if isinstance(stream, MemoryStream):
                holders.append((offset, index, stream))
    if not holders:
        return None
    frames = []
    for offset, index, stream in holders:
        size = stream.size
        frames.append(pa.table({
            AGENT: pa.array(stream.agent[:size].astype(np.int64) + offset),
            "mind": pa.array(np.full(size, index, dtype=np.int32)),
            "row": pa.array(np.arange(size, dtype=np.int64)),
            "kind": pa.array([KINDS[c] if 0 <= c < len(KINDS) else str(c) for c in stream.kind[:size].tolist()],
                             pa.string()),
            "text": pa.array([None if t is None else str(t) for t in stream.text[:size]], pa.string()),
            "created": pa.array(stream.created[:size].astype(np.float64)),
            "accessed": pa.array(stream.accessed[:size].astype(np.float64)),
            "importance": pa.array(stream.importance[:size].astype(np.float32)),
        }))
    return pa.concat_tables(frames)


def _network_table(network: Network) -> pa.Table:
    """A contact network as its undirected edges, each once (``source < target``); the number of
    nodes in the schema's metadata."""
    source = np.repeat(np.arange(network.n, dtype=np.int64), network.degree())
    target = np.asarray(network.indices, dtype=np.int64)
    keep = source < target
    table = pa.table({"source": source[keep], "target": target[keep]})
    return table.replace_schema_metadata({layout.NETWORK_NODES: str(network.n).encode()})


class Place(NamedTuple):
    """Where an agent lives in a simulation state (a checkpoint's)."""

    world: Any  # the world, or for a partitioned world the agent's region's part of it
    agent: int  # the agent's id there (a region numbers its agents from 0)
    minds: list[Any]  # the minds that hold its memories
    region: int | None  # the region's index, None where the world is whole


def locate(state: Mapping[str, Any], agent: int) -> Place:
    """Where ``agent`` lives in a simulation state."""
    for region in state.get("regions") or []:
        start = int(region.agents[0])
        if start <= agent < start + len(region.agents):
            return Place(region.world, agent - start, list(region.minds), region.index)
    return Place(state.get("world"), agent, list(state.get("minds", [])), None)


def snapshot_checkpoints(run_path: Path | str) -> list[int]:
    """Write the per-agent snapshots of a run recorded before they existed, from its pickled
    checkpoints (each one read whole); returns the steps written."""
    path = Run.open(Path(run_path)).path
    written = []
    for step in layout.checkpoint_steps(path):
        if not layout.snapshot_file(path, step).is_file():
            write_snapshot(path, step, snapshot_tables(load_checkpoint(path, step)))
            written.append(step)
    return written


@dataclass
class StepResult:
    step: int
    active: int
    ok: int
    rejected: int
    failed: int
    metrics: dict[str, float] = field(default_factory=dict)


class Simulation:
    """Build from a :class:`Scenario`; ``run()`` steps it and records everything."""

    def __init__(self, scenario: Scenario, run: Run | None = None, *, replay: bool = False,
                 executor: Executor | None = None) -> None:
        self.scenario = scenario
        self.executor = executor or LocalExecutor()
        self._executor_started = False
        self.run_record = run
        self.context = MindContext(run.path if run else None, dict(scenario.model), replay,
                                   plugins=tuple(scenario.plugins))
        root = np.random.SeedSequence(scenario.seed)
        pop_seq, world_seq, sched_seq, minds_seq = root.spawn(4)
        self.population = build_population(scenario, np.random.default_rng(pop_seq))
        world_cls = worlds.get(scenario.world.type)
        spec = scenario.world
        self.clock = scenario.clock.clock()
        self.world: World = world_cls(self.population, spec.params, available=spec.actions, clock=self.clock)
        self.regions: list[Region] = []  # a partitioned world's regions; empty where the world is whole
        self.shared: dict[str, float] = {}  # the regions' tallies summed after the last step
        self.minds: list[Mind] = []  # one entry per shard; mind_of[agent] indexes it
        self.mind_tier: list[int] = []  # the scenario's mind tier of each shard
        self.mind_of = np.full(self.population.size, -1, dtype=np.int32)
        check_partitions(scenario, world_cls)
        if spec.partitions > 1:
            assert issubclass(world_cls, RegionalWorld)
            self.regions = build_regions(world_cls, self.population, spec.params, spec.actions, spec.partitions,
                                         world_seq, self.clock)
            self.region_of = np.concatenate([np.full(len(r.agents), r.index, dtype=np.int32) for r in self.regions])
        else:
            self.world.reset(world_seq)
        self.scheduler = Scheduler(
            self.population, scenario.schedule.activity, self.clock.step, scenario.schedule.order
        )
        self.scheduler_rng = np.random.default_rng(sched_seq)
        unassigned = np.ones(self.population.size, dtype=bool)
        self.model_agents = np.zeros(self.population.size, dtype=bool)  # whose mind asks a language model
        masks = mind_masks(scenario, self.population)
        for tier, (mind_spec, seq, mask) in enumerate(zip(scenario.minds, minds_seq.spawn(len(scenario.minds)),
                                                          masks, strict=True)):
            mind_cls = minds.get(mind_spec.type)
            ids = np.flatnonzero(mask & unassigned)
            unassigned[ids] = False
            if issubclass(mind_cls, LanguageMind):
                self.model_agents[ids] = True
            if self.regions:
                for region, region_seq in zip(self.regions, seq.spawn(len(self.regions)), strict=True):
                    local = ids[self.region_of[ids] == region.index] - region.agents[0]
                    region.mind_of[local] = len(region.minds)
                    region.minds.append(self._mind(mind_spec, region.world.population, region.world, region_seq))
                continue
            shard_seqs = [seq] if mind_spec.shards == 1 else seq.spawn(mind_spec.shards)
            self.mind_of[ids] = len(self.minds) + ids % mind_spec.shards
            for shard_seq in shard_seqs:
                self.mind_tier.append(tier)
                self.minds.append(self._mind(mind_spec, self.population, self.world, shard_seq))
        self._last_stats: dict[str, float] = {}
        self._asks_model = bool(self.model_agents.any())
        self._declared_model_agents = self.model_agents.copy()  # as declared, before any step down
        #: what the run has spent (all its steps), and the line that stopped it when its budget did
        self.spent = Spending()
        self.budget_stop: str | None = None
        #: why the model minds were stepped down their fallback chains (the budget), None while they are not
        self.degraded: str | None = None
        self.degraded_at: int | None = None  # the first step decided by the stepped-down minds
        #: a replay steps down where the replayed run did, ``(step, cause)`` (its model calls are cache hits)
        self.replay_step_down: tuple[int, str] | None = None
        self._notes: list[Events] = []  # world events to record with the next step (a step down)
        #: the run's health so far (all its steps, a resumed run's included), and the last step's
        self.health = RunHealth()
        self.step_health = RunHealth()
        self.steps_done = 0
        self._collected_at = 0  # the step at which the shards' states were last brought back here
        self._released = False  # True while the regions live only in the executor's workers
        self.trace = TraceStore(run.path if run else None, scenario.trace.events)
        self._interventions: dict[int, list[Any]] = {}
        for iv in scenario.interventions:
            self._interventions.setdefault(iv.step(self.clock), []).append(iv)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_scenario(cls, source: str | Path | Scenario, overrides: list[str] | None = None,
                      runs_dir: Path | None = None, executor: Executor | None = None,
                      name: str | None = None) -> Simulation:
        """Build from a scenario (name, file or object); with ``runs_dir``, record to a new run (its id
        ``name``, by default made from the scenario's name and the time)."""
        scenario = source if isinstance(source, Scenario) else load_scenario(source, overrides or [])
        run = Run.create(runs_dir, scenario, name=name) if runs_dir is not None else None
        try:
            return cls(scenario, run, executor=executor)
        except BaseException:
            if run is not None:  # nothing was recorded: leave no half-made run behind
                shutil.rmtree(run.path, ignore_errors=True)
            raise

    @classmethod
    def resume(cls, run_path: Path, executor: Executor | None = None, overrides: Sequence[str] = ()) -> Simulation:
        """Re-open a killed or finished run at its last checkpoint (or at the start if none).

        ``overrides`` (``budget.calls=2000``) change its budget, the one part of a scenario a run
        may change on its way (a fork changes the rest); the run's scenario file records them."""
        run = Run.open(run_path)
        scenario = run.scenario()
        if overrides:
            fixed = [o for o in overrides if o.partition("=")[0].strip().split(".")[0] not in RESUMABLE]
            if fixed:
                raise ScenarioError(f"--set {fixed[0].partition('=')[0]}: a resumed run may change only its "
                                    f"{', '.join(RESUMABLE)}; fork it to change the rest "
                                    "(populace fork RUN --at N --set ...)")
            scenario = run.scenario(overrides)
            run.save_scenario(scenario)
        sim = cls(scenario, run, executor=executor)
        checkpoints = sim.trace.checkpoints()
        if checkpoints:
            sim._load_state(sim.trace.load_checkpoint(checkpoints[-1]))
        sim.trace.truncate(sim.steps_done)
        rows = sim.trace.read(layout.STEPS).to_pylist()
        sim.health = RunHealth.of_steps(rows)
        sim.spent = Spending.of_steps(rows)
        return sim

    def _mind(self, spec: MindSpec, population: Population, world: World, seq: np.random.SeedSequence) -> Mind:
        """A mind tier's mind (one shard, or one region's), wrapped with its fallback chain if it declares one."""
        mind = minds.get(spec.type)(population, world.action_space, spec.params(), rng=np.random.default_rng(seq),
                                    context=self.context)
        if not spec.fallback:
            return mind
        chain = [mind]
        for step_down, step_seq in zip(spec.fallback, seq.spawn(len(spec.fallback)), strict=True):
            chain.append(minds.get(step_down.type)(population, world.action_space, step_down.params(),
                                                   rng=np.random.default_rng(step_seq), context=self.context))
        return FallbackMind(chain)

    @property
    def shards(self) -> list[Any]:
        """What the executor hosts: the regions of a partitioned world, or else the mind shards."""
        if self._released:
            raise RunError("the regions' states were lost with their workers; resume the run from its last checkpoint")
        return list(self.regions) if self.regions else list(self.minds)

    def _state(self) -> dict[str, Any]:
        return {
            "steps_done": self.steps_done, "population": self.population, "world": self.world,
            "minds": self.minds, "scheduler_rng": self.scheduler_rng, "mind_of": self.mind_of,
            "last_stats": self._last_stats, "regions": self.regions, "shared": self.shared,
            "degraded": self.degraded, "degraded_at": self.degraded_at,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.steps_done = self._collected_at = state["steps_done"]
        self.population = state["population"]
        self.world = state["world"]
        self.minds = state["minds"]
        self.regions = state.get("regions", [])
        self._released = False
        self.shared = state.get("shared", {})
        for shard in self.shards:
            shard.attach(self.context)
        self._executor_started = False
        self.scheduler_rng = state["scheduler_rng"]
        self.mind_of = state["mind_of"]
        self._last_stats = state.get("last_stats", {})
        self.scheduler.population = self.population
        for world in [self.world, *(region.world for region in self.regions)]:
            world.clock = self.clock  # the run's, also for a world checkpointed before worlds kept one
        self.degraded = state.get("degraded")
        self.degraded_at = state.get("degraded_at")
        self._mark_model_agents()

    # -- stepping ----------------------------------------------------------------------------
    async def astep(self) -> StepResult:
        """Run one step: interventions, activation, observe/decide/apply, world dynamics, record."""
        if not self._executor_started:  # stepping by hand, without arun()
            await self.start_executor()
        started = wallclock.perf_counter()
        step = self.steps_done
        now = self.clock.time(step)
        rounds = self.scheduler.sessions(now, self.scheduler_rng)
        active = rounds[0] if rounds else np.empty(0, dtype=np.int64)
        if self.scheduler.order == "sequential":
            size = self.scenario.schedule.batch
            turns = [ids[i:i + size] for ids in rounds for i in range(0, len(ids), size)]
        else:
            turns = rounds
        tables: list[pa.Table] | None = None
        if self.regions:
            tables, counts, metrics = await self._step_regions(step, now, turns)
            events: list[Events] = []
        else:
            events, metrics = await self._step_world(step, now, turns)
            events, self._notes = [*self._notes, *events], []
            counts = count_outcomes(events)
        summary: dict[str, Any] = {"active": len(active), **counts}
        if self._asks_model:
            summary[MODEL_DECISIONS] = sum(int(np.count_nonzero(self.model_agents[ids])) for ids in rounds)
        stats = self.executor.stats()
        for key, value in stats.items():
            summary[key] = value - self._last_stats.get(key, 0)
        self._last_stats = stats
        summary["wall_s"] = wallclock.perf_counter() - started
        self.step_health = RunHealth.of_step(summary)
        self.health.add(self.step_health)
        self.spent.add(Spending.of_step(summary))
        self.trace.record(step, now, events, summary, metrics, tables=tables)
        self.steps_done += 1
        await self._after_step()
        return StepResult(step, len(active), counts[OK], counts[REJECTED], counts[FAILED], metrics)

    async def _step_world(self, step: int, now: datetime | None,
                          turns: list[np.ndarray]) -> tuple[list[Events], dict[str, float]]:
        """A whole world steps here; minds decide wherever the executor runs them."""
        self.world.set_clock(step, now)
        events: list[Events] = []
        for iv in self._interventions.get(step, []):
            events.extend(self.world.call(iv.call, **iv.args))
        for ids in turns:
            if len(ids) == 0:
                continue
            events.extend(await take_turn(self.world, ids, step, now, self.decide))
        events.extend(self.world.tick())
        return events, self.world.metrics()

    async def _step_regions(self, step: int, now: datetime,
                            turns: list[np.ndarray]) -> tuple[list[pa.Table], dict[str, int], dict[str, float]]:
        """Every region steps where the executor hosts it and tabulates its own events (so the work and
        the transfer stay small in the driver); their tallies give the metrics."""
        world_cls = type(self.world)
        assert issubclass(world_cls, RegionalWorld)
        if not self.shared:
            self.shared = summed(await self.executor.call([(r.index, "tallies", ()) for r in self.regions]))
        sizes = [len(r.agents) for r in self.regions]
        orders = [RegionStep(step, now, dict(self.shared), self.trace.keep_events) for _ in self.regions]
        for iv in self._interventions.get(step, []):
            for order, args in zip(orders, world_cls.region_args(iv.call, iv.args, sizes), strict=True):
                order.operations.append((iv.call, args))
        for ids in turns:
            owner = self.region_of[ids]
            for region, order in zip(self.regions, orders, strict=True):
                local = ids[owner == region.index] - region.agents[0]
                order.turns.append(None if len(local) == len(region.agents) else local)
        results = await self.executor.call([(r.index, "step", (o,)) for r, o in zip(self.regions, orders, strict=True)])
        tables = [result.events for result in results if result.events is not None]
        counts = {OK: 0, REJECTED: 0, FAILED: 0}
        for result in results:
            for outcome, n in result.counts.items():
                counts[outcome] = counts.get(outcome, 0) + n
        self.shared = summed([result.tallies for result in results])
        return tables, counts, world_cls.metrics_of(self.shared)

    async def decide(self, observations: Observations) -> Decisions:
        """Split a batch by mind shard and let the executor run every shard concurrently."""
        requests = by_shard(observations, self.mind_of[observations.agents], len(self.minds))
        decisions = Decisions()
        for result in await self.executor.decide(requests):
            decisions.extend(result)
        return decisions

    async def _after_step(self) -> None:
        spec = self.scenario.trace
        done = self.steps_done
        if done % spec.checkpoint_every == 0 or done == self.scenario.steps:
            await self.checkpoint()
        elif done % spec.flush_every == 0:
            self.trace.flush()

    async def start_executor(self) -> None:
        """Hand the shards to the executor. One that keeps them elsewhere (Ray workers) holds the only
        live copy of the regions: the driver keeps just their ids until it takes them back."""
        await self.executor.start(self.shards, self.context)
        self._executor_started = True
        if self.regions and self.executor.keeps_state_elsewhere:
            self.regions = [r.placeholder(self.world) for r in self.regions]
            self._released = True

    async def _take_back(self) -> None:
        """Bring the shards' current states here from wherever the executor runs them."""
        shards = await self.executor.collect()
        if self.regions:
            self.regions = shards
            self._released = False
        else:
            self.minds = shards
        self._collected_at = self.steps_done

    async def checkpoint(self) -> None:
        """Flush the trace and store a resumable state after ``steps_done`` steps, and beside it the
        per-agent snapshot that readers read (written first: a checkpoint always has its snapshot)."""
        await self._take_back()
        state = self._state()
        if self.trace.path is not None:
            self.trace.flush(wait=True)
            self.trace.save_snapshot(self.steps_done, snapshot_tables(state))
        self.trace.save_checkpoint(self.steps_done, state)
        self.executor.checkpointed()
        if self.run_record is not None:
            self.run_record.update(steps_done=self.steps_done, last_checkpoint=self.steps_done)

    async def arun(self, steps: int | None = None,
                   progress: Callable[[StepResult], None] | None = None) -> None:
        """Step until ``steps`` (default: the scenario's) are done, then close the trace.

        Raises :class:`RunFailedError`, with everything recorded and the manifest saying ``failed``,
        when most of the run's model decisions failed, or when every model decision of a step failed
        because the model server was gone: then the run stops after that step, checkpointed, and
        resumes once the server is back (see :mod:`populace.health`). A replay reports its own misses.
        """
        target = self.scenario.steps if steps is None else min(self.scenario.steps, self.steps_done + steps)
        if self.run_record is not None:
            self.run_record.mark_running()
        failure: str | None = None
        try:
            if not self._executor_started:
                await self.start_executor()
            await self._check_budget(target)
            while self.steps_done < target and self.budget_stop is None:
                result = await self.astep()
                if progress is not None:
                    progress(result)
                failure = self._outage()
                if failure is not None:
                    break
                await self._check_budget(target)
            if failure is None and self.health.failing() and not self.context.replay:
                failure = failing_message(self.health, model_location(self.scenario))
            if self._collected_at != self.steps_done:  # paused between checkpoints: the state lives in the shards
                if self.run_record is not None:
                    await self.checkpoint()  # so that a resume goes on from here, not from the last checkpoint
                else:
                    await self._take_back()
            status = "completed" if self.steps_done >= self.scenario.steps else \
                "budget_exhausted" if self.budget_stop else "paused"
        except BaseException as exc:
            if self.run_record is not None:
                message = str(exc) if isinstance(exc, PopulaceError) else f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(RunError):  # e.g. a full disk: the original error is the one to report
                    self.run_record.update(status="failed", error=message)
            raise
        finally:
            self.trace.close()
            await self.executor.close()
            self._executor_started = False
        if self.run_record is not None:
            self.run_record.update(status="failed" if failure else status, steps_done=self.steps_done,
                                   health=self.health.as_dict(), error=failure, **self._budget_record())
        if failure is not None:
            raise RunFailedError(failure)

    # -- the budget --------------------------------------------------------------------------
    async def _check_budget(self, target: int) -> None:
        """Before the first step and after each: once a cap of ``budget:`` is reached, stop (set
        :attr:`budget_stop`) or step the model minds down their fallback chains; with a larger budget
        (a resumed run), step them back up. A replay steps down where the run it replays did."""
        if self.context.replay:
            if self.replay_step_down is not None and self.steps_done >= self.replay_step_down[0] and not self.degraded:
                await self._step_down(self.replay_step_down[1])
            return
        budget = self.scenario.budget
        reached = exhausted(budget, self.spent)
        if budget is None or reached is None:
            if self.degraded:
                await self._step_down(None)
            return
        if budget.on_exhausted == "degrade":
            if not self.degraded:
                await self._step_down(str(reached))
        elif self.steps_done < target:
            run = self.run_record.id if self.run_record is not None else None
            self.budget_stop = stop_message(reached, self.steps_done, self.scenario.steps, run)

    async def _step_down(self, cause: str | None) -> None:
        """Step every fallback chain down to its first mind that asks no model (``cause``: why), or
        back up to its declared mind (``None``); recorded as a world event with the next step."""
        shards = [i for i, mind in enumerate(self.minds) if isinstance(mind, FallbackMind)]
        method = "degrade" if cause is not None else "recover"
        changes = await self.executor.call([(i, method, (BUDGET,) if cause is not None else ()) for i in shards])
        moved = dict.fromkeys(f"minds.{self.mind_tier[i]}: {change}" for i, change in zip(shards, changes, strict=True)
                              if change)
        if cause is not None and self.degraded_at is None:
            self.degraded_at = self.steps_done
        self.degraded = cause
        self._mark_model_agents()
        self._notes.append(Events.world("degrade" if cause is not None else "recover", None,
                                        cause=cause or "a larger budget", minds="; ".join(moved)))

    def _mark_model_agents(self) -> None:
        """Which agents' minds ask a model now: as declared, less those stepped down to a mind that does not."""
        self.model_agents = self._declared_model_agents.copy()
        if self.degraded:
            chains = [i for i, mind in enumerate(self.minds) if isinstance(mind, FallbackMind)]
            self.model_agents[np.isin(self.mind_of, chains)] = False

    def _budget_record(self) -> dict[str, Any]:
        """What the manifest keeps of the budget: spending, and where the run stopped or stepped down."""
        if self.scenario.budget is None and self.degraded_at is None:
            return {}
        return {"budget": {"spent": self.spent.as_dict(), "stopped": self.budget_stop,
                           "degraded": self.degraded, "degraded_at": self.degraded_at}}

    def _outage(self) -> str | None:
        """The one-line reason to stop now, when every model decision of the last step failed because
        the model server was gone (the client's retries spent); None otherwise."""
        cause = None if self.context.replay else self.step_health.outage()
        if cause is None:
            return None
        run = str(self.run_record.path) if self.run_record is not None else None
        return outage_message(cause, self.step_health, self.steps_done, self.scenario.steps,
                              model_location(self.scenario), run)

    def run(self, steps: int | None = None, progress: Callable[[StepResult], None] | None = None) -> Simulation:
        """Synchronous wrapper around :meth:`arun`."""
        asyncio.run(self.arun(steps, progress))
        return self

    @property
    def path(self) -> Path | None:
        return self.run_record.path if self.run_record else None

    def events(self) -> Any:
        """All recorded events as an Arrow table."""
        return self.trace.read(layout.EVENTS)

    def metrics(self) -> Any:
        """Recorded metrics as a pandas DataFrame indexed by step, one column per metric."""
        table = self.trace.read(layout.METRICS)
        if table.num_rows == 0:
            raise RunError("no metrics were recorded")
        return table.to_pandas().pivot(index="step", columns="metric", values="value")
