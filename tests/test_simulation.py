from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from populace import Simulation, load_scenario
from populace.runs import Run
from populace.trace import TraceStore

SMALL = ["population.size=300", "steps=40"]


def test_same_seed_same_run_and_different_seed_differs() -> None:
    a = Simulation.from_scenario("opinion", SMALL).run()
    b = Simulation.from_scenario("opinion", SMALL).run()
    c = Simulation.from_scenario("opinion", [*SMALL, "seed=99"]).run()
    assert a.events().equals(b.events())
    assert a.metrics().equals(b.metrics())
    assert not a.events().equals(c.events())


def test_activity_profile_and_step_length_control_who_acts() -> None:
    always = Simulation.from_scenario("wealth", ["population.size=2000", "steps=24"]).run()
    steps = always.trace.read("steps").to_pandas()
    assert (steps["active"] == 2000).all()
    profile = [0.0] * 12 + [0.5] * 12  # nobody acts before noon, half a session an hour after
    sim = Simulation.from_scenario("wealth", [
        "population.size=2000", "steps=24", f"schedule.activity={profile}", "clock.start=2025-01-01T00:00:00",
    ]).run()
    active = sim.trace.read("steps").to_pandas()["active"].to_numpy()
    assert active[:12].sum() == 0
    assert abs(active[12:].mean() / 2000 - 0.5) < 0.05
    # the same hourly rate with 15-minute steps: a session in a step with chance 0.5 / 4
    quarter = Simulation.from_scenario("wealth", [
        "population.size=2000", "steps=48", f"schedule.activity={profile}",
        "clock.start=2025-01-01T12:00:00", "clock.step=15m",
    ]).run()
    rate = quarter.trace.read("steps").to_pandas()["active"].mean() / 2000
    assert abs(rate - 0.125) < 0.02


def test_per_agent_activity_column_scales_the_profile() -> None:
    sc = load_scenario("wealth", [
        "population.size=4000", "steps=10", "schedule.activity=diurnal",
        "population.attributes={activity: {dist: categorical, values: [0.0, 1.0]}}",
    ])
    sim = Simulation(sc).run()
    idle = np.flatnonzero(sim.population["activity"] == 0.0)
    acting = set(sim.events().column("agent").to_numpy().tolist())
    assert not acting & set(idle.tolist())


def test_sequential_order_lets_later_agents_see_earlier_actions() -> None:
    sc = load_scenario("wealth", ["population.size=50", "steps=5", "schedule.order=sequential", "schedule.batch=1"])
    sim = Simulation(sc).run()
    assert sim.world.wealth.sum() == 50
    assert sim.trace.read("steps").column("active").to_pylist() == [50] * 5


def test_interventions_run_at_their_step_and_are_recorded() -> None:
    sim = Simulation.from_scenario("wealth", [
        "population.size=500", "steps=30", "interventions=[{at_step: 20, call: tax_and_redistribute, args: {rate: 1.0}}]",
    ]).run()
    events = sim.events().to_pandas()
    iv = events[events.action == "tax_and_redistribute"]
    assert iv.step.tolist() == [20] and iv.agent.tolist() == [-1]
    gini = sim.metrics()["gini"]
    assert gini[19] > 0.3 and gini[20] < gini[19]


def test_mind_selection_first_match_wins_and_unassigned_agents_idle() -> None:
    sc = load_scenario("wealth", [
        "population.size=100", "steps=1",
        "population.attributes={group: {dist: categorical, values: [a, b, c]}}",
        "minds=[{select: \"group == 'a'\", type: rules, policy: random_gift}, "
        "{select: \"group != 'c'\", type: rules, policy: random_gift}]",
    ])
    sim = Simulation(sc)
    group = sim.population["group"]
    assert (sim.mind_of[group == "a"] == 0).all()
    assert (sim.mind_of[group == "b"] == 1).all()
    assert (sim.mind_of[group == "c"] == -1).all()
    sim.run()
    givers = set(sim.events().column("agent").to_pylist())
    assert givers.isdisjoint(set(np.flatnonzero(group == "c").tolist()))


def test_trace_levels(tmp_path: Path) -> None:
    none = Simulation.from_scenario("wealth", [*SMALL, "trace.events=none"], runs_dir=tmp_path).run()
    assert none.events().num_rows == 0
    assert none.trace.read("steps").num_rows == 40
    rejected = Simulation.from_scenario("opinion", [*SMALL, "trace.events=rejected"]).run()
    assert set(rejected.events().column("outcome").to_pylist()) <= {"rejected", "failed"}


def test_run_directory_layout_and_manifest(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("wealth", [*SMALL, "trace.checkpoint_every=15", "trace.flush_every=5"],
                                   runs_dir=tmp_path).run()
    assert sim.path is not None
    manifest = Run(sim.path).manifest()
    assert manifest["status"] == "completed" and manifest["steps_done"] == 40
    assert sorted(p.name for p in (sim.path / "checkpoints").iterdir()) == [
        "00000015.pkl", "00000030.pkl", "00000040.pkl"]
    parts = sorted(p.stem for p in (sim.path / "events").glob("*.parquet"))
    assert parts[0] == "00000000-00000004" and parts[-1].endswith("00000039")
    assert not list(sim.path.rglob("*.tmp"))


def test_paused_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    full = Simulation.from_scenario("opinion", [*SMALL, "trace.checkpoint_every=10"]).run()
    part = Simulation.from_scenario("opinion", [*SMALL, "trace.checkpoint_every=10"], runs_dir=tmp_path)
    part.run(steps=25)  # stops after 25, between the checkpoints at 20 and 30: pausing checkpoints
    assert part.path is not None and Run(part.path).manifest()["status"] == "paused"
    resumed = Simulation.resume(part.path)
    assert resumed.steps_done == 25
    resumed.run()
    assert resumed.events().equals(full.events())
    assert resumed.metrics().equals(full.metrics())


def test_a_paused_run_goes_on_in_the_same_process(tmp_path: Path) -> None:
    """run(steps=k) twice on one recording simulation: the trace writer, stopped by the pause, restarts."""
    full = Simulation.from_scenario("opinion", [*SMALL, "trace.checkpoint_every=10"]).run()
    part = Simulation.from_scenario("opinion", [*SMALL, "trace.checkpoint_every=10"], runs_dir=tmp_path)
    part.run(steps=25)
    part.run()
    assert part.path is not None and Run(part.path).manifest()["status"] == "completed"
    assert part.events().equals(full.events())
    assert Simulation.resume(part.path).events().equals(full.events())


def test_stepping_by_hand_with_astep_equals_a_run() -> None:
    import asyncio

    full = Simulation.from_scenario("opinion", SMALL).run()
    by_hand = Simulation.from_scenario("opinion", SMALL)

    async def drive() -> None:
        while by_hand.steps_done < by_hand.scenario.steps:
            await by_hand.astep()

    asyncio.run(drive())
    assert by_hand.events().equals(full.events()) and by_hand.metrics().equals(full.metrics())


def test_writer_errors_surface_as_run_errors(tmp_path: Path) -> None:
    from populace import RunError

    store = TraceStore(tmp_path / "run")
    (tmp_path / "run" / "events").rmdir()
    (tmp_path / "run" / "events").write_text("not a directory")
    from datetime import datetime

    store.record(0, datetime(2025, 1, 1), [], {"active": 0}, {})
    store.record(1, datetime(2025, 1, 1), [], {"active": 0}, {})
    with pytest.raises(RunError, match="cannot write the trace"):
        store.flush(wait=True)


@pytest.mark.parametrize("kill_after_checkpoints", [1, 3])
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path, kill_after_checkpoints: int) -> None:
    """A real `populace run` subprocess is killed with SIGKILL mid-run and resumed."""
    overrides = ["population.size=40000", "steps=120", "trace.checkpoint_every=10", "trace.flush_every=3"]
    args = [arg for o in overrides for arg in ("--set", o)]
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "populace", "run", "opinion", *args, "--runs-dir", str(runs), "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    run_dir: Path | None = None
    while time.monotonic() < deadline:
        dirs = list(runs.glob("opinion-*")) if runs.exists() else []
        if dirs and len(list((dirs[0] / "checkpoints").glob("*.pkl"))) >= kill_after_checkpoints:
            run_dir = dirs[0]
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert run_dir is not None, "the run never reached a checkpoint"
    assert Run(run_dir).manifest()["status"] == "running", "the run finished before it could be killed"
    assert Run(run_dir).status() == "interrupted"  # its process is gone: `populace runs` says so
    committed = Simulation.resume(run_dir)
    committed_events = committed.events()  # what survived the kill, after truncation to the checkpoint
    assert committed.steps_done >= 10 * kill_after_checkpoints
    assert set(committed_events.column("step").to_pylist()) == set(range(committed.steps_done))

    resumed = subprocess.run(
        [sys.executable, "-m", "populace", "resume", str(run_dir), "-q"], capture_output=True, text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    after = Simulation.resume(run_dir)  # re-open the finished run to read its trace
    events = after.events()
    reference = Simulation.from_scenario("opinion", overrides).run().events()
    assert events.num_rows == reference.num_rows
    assert events.equals(reference)  # nothing lost, nothing duplicated, same continuation
    assert events.slice(0, committed_events.num_rows).equals(committed_events)
    assert Run(run_dir).manifest()["status"] == "completed"


def test_events_are_readable_from_duckdb_and_pandas(tmp_path: Path) -> None:
    import duckdb

    sim = Simulation.from_scenario("wealth", SMALL, runs_dir=tmp_path).run()
    assert sim.path is not None
    count = duckdb.sql(f"SELECT count(*) FROM read_parquet('{sim.path}/events/*.parquet')").fetchall()[0]
    assert count is not None and count[0] == sim.events().num_rows
    frame = sim.events().to_pandas()
    assert {"step", "time", "agent", "action", "outcome", "reason", "args"} <= set(frame.columns)
    assert isinstance(sim.events(), pa.Table)


def test_a_running_run_whose_process_is_gone_reads_interrupted(tmp_path: Path) -> None:
    import socket

    run = Run.create(tmp_path, load_scenario("opinion", SMALL))
    run.mark_running()
    assert run.status() == "running"  # this process
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run.update(pid=gone.pid)
    assert run.status() == "interrupted"
    run.update(host=socket.gethostname() + "-elsewhere")
    assert run.status() == "running"  # another host's process cannot be checked from here
    run.update(status="completed", host=socket.gethostname())
    assert run.status() == "completed"
