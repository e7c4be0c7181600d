"""Per-agent snapshots: with every checkpoint the simulation writes, through the run store,
``snapshots/NNNNNNNN.parquet`` (population and world columns, one row per agent), the minds' memories
and the world's network beside it; what it writes are the values of the live state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from populace import layout
from populace.network import Network
from populace.operations.fork import fork
from populace.scenario import load_scenario
from populace.simulation import NAME, SOURCE, Simulation


def _sources(path: Path) -> dict[str, tuple[str, str]]:
    """Each column's (source, name) from its field metadata."""
    schema = pq.read_schema(path)
    return {f.name: (f.metadata[SOURCE].decode(), f.metadata[NAME].decode()) for f in schema}


def test_a_snapshot_beside_every_checkpoint_holds_the_agents_state(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("wealth", ["population.size=40", "steps=10", "trace.checkpoint_every=4"],
                                   tmp_path).run()
    assert sim.path is not None
    assert layout.snapshot_steps(sim.path) == layout.checkpoint_steps(sim.path) == [4, 8, 10]
    last = pq.read_table(layout.snapshot_file(sim.path, 10))
    assert last["agent"].to_pylist() == list(range(40))
    assert last["wealth"].to_pylist() == sim.world.wealth.tolist()
    assert _sources(layout.snapshot_file(sim.path, 10))["wealth"] == ("world", "wealth")
    assert not layout.snapshot_file(sim.path, 10, layout.MEMORIES_SNAPSHOT).exists()  # rules minds keep none


def test_a_resume_drops_the_snapshots_after_its_checkpoint(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("wealth", ["population.size=20", "steps=8", "trace.checkpoint_every=4"], tmp_path)
    sim.run(steps=6)  # a checkpoint at 4, and at 6 where it paused
    assert sim.path is not None and layout.snapshot_steps(sim.path) == [4, 6]
    layout.checkpoint_file(sim.path, 6).unlink()  # as if killed between the snapshot and the checkpoint at 6
    resumed = Simulation.resume(sim.path)
    assert resumed.steps_done == 4 and layout.snapshot_steps(sim.path) == [4]
    resumed.run()
    assert layout.snapshot_steps(sim.path) == [4, 8]


def test_a_partitioned_world_is_snapshot_in_agent_order(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("prisoners-dilemma", ["world.partitions=2", "steps=4", "trace.checkpoint_every=2"],
                                   tmp_path).run()
    assert sim.path is not None
    table = pq.read_table(layout.snapshot_file(sim.path, 4)).to_pandas()
    assert table["region"].tolist() == [r.index for r in sim.regions for _ in r.agents]
    assert table["id_in_region"].tolist() == [i for r in sim.regions for i in range(len(r.agents))]
    joined = np.concatenate([r.world.partner for r in sim.regions])  # as each region holds it (its own ids)
    assert table["partner"].tolist() == joined.tolist()
    assert _sources(layout.snapshot_file(sim.path, 4))["player"] == ("population", "player")


def test_the_network_is_snapshot_as_its_edges(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("opinion", ["population.size=60", "steps=2", "trace.checkpoint_every=2"],
                                   tmp_path).run()
    assert sim.path is not None
    file = layout.snapshot_file(sim.path, 2, layout.NETWORK_SNAPSHOT)
    edges = pq.read_table(file)
    assert (pq.read_schema(file).metadata or {})[b"populace.nodes"] == b"60"
    rebuilt = Network.from_edges(60, edges["source"].to_numpy(), edges["target"].to_numpy())
    assert np.array_equal(rebuilt.indptr, sim.world.network.indptr)
    assert np.array_equal(rebuilt.indices, sim.world.network.indices)
    assert pq.read_table(layout.snapshot_file(sim.path, 2))["opinion"].to_pylist() == sim.world.opinion.tolist()


def respond(prompt: str, sampling: Any, schema: dict[str, Any] | None) -> str:
    """Generative agents keep to themselves, plan nothing and conclude nothing."""
    if schema is None or "oneOf" not in schema:
        return json.dumps({"plan": []} if schema and "plan" in schema.get("properties", {}) else
                          {"hours": []} if schema and "hours" in schema.get("properties", {}) else {"insights": []})
    return json.dumps({"action": "nothing"})


@pytest.mark.parametrize("partitions", [1, 2])
def test_a_generative_minds_memories_are_snapshot(tmp_path: Path, partitions: int) -> None:
    world = {"type": "opinion", "params": {"network": {"degree": 4}}} if partitions == 1 else \
        {"type": "games", "partitions": partitions, "params": {"game": "prisoners_dilemma"}}
    scenario = load_scenario({"name": "remembered", "seed": 5, "steps": 2, "population": {"size": 8}, "world": world,
                              "model": {"backend": "scripted", "function": "test_snapshot_writing:respond", "retries": 0},
                              "minds": [{"select": "all", "type": "generative", "top_k": 2}],
                              "trace": {"checkpoint_every": 2}})
    sim = Simulation.from_scenario(scenario, runs_dir=tmp_path).run()
    assert sim.path is not None
    memories = pq.read_table(layout.snapshot_file(sim.path, 2, layout.MEMORIES_SNAPSHOT)).to_pandas()
    streams = [(int(r.agents[0]), m.memory) for r in sim.regions for m in r.minds] if sim.regions else \
        [(0, m.memory) for m in sim.minds]
    assert len(memories) == sum(stream.size for _, stream in streams) > 0
    offset, stream = streams[-1]
    mine = memories[memories["mind"] == 0].tail(stream.size)
    assert mine["agent"].tolist() == (stream.agent[:stream.size] + offset).tolist()
    assert mine["text"].tolist() == list(stream.text[:stream.size])
    assert set(memories["kind"]) <= {"observation", "action", "reflection", "plan", "writing"}


def test_a_fork_writes_the_snapshot_of_its_fork_step(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("wealth", ["population.size=20", "steps=8", "trace.checkpoint_every=4"],
                                   tmp_path).run()
    assert sim.path is not None
    branch = fork(sim.path, 6)
    assert branch.path is not None
    assert layout.snapshot_steps(branch.path) == layout.checkpoint_steps(branch.path) == [6]
    assert pq.read_table(layout.snapshot_file(branch.path, 6))["wealth"].to_pylist() == branch.world.wealth.tolist()
