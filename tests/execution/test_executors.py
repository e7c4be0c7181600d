from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from populace import Simulation, load_scenario
from populace.execution import LocalExecutor

ray = pytest.importorskip("ray", reason="the ray extra is part of the dev install")

SHARDED = ["population.size=3000", "steps=30", "minds.0.shards=3", "minds.1.shards=2",
           "trace.checkpoint_every=10", "schedule.activity=always"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local Ray cluster with 2 CPUs, as CI has."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_shards_split_agents_by_id_and_each_has_its_own_stream() -> None:
    sim = Simulation(load_scenario("opinion", SHARDED))
    assert len(sim.minds) == 5
    graduates = sim.population["education"] == "graduate"
    assert set(np.unique(sim.mind_of[graduates]).tolist()) == {0, 1, 2}
    assert set(np.unique(sim.mind_of[~graduates]).tolist()) == {3, 4}
    draws = {m.rng.random() for m in sim.minds}
    assert len(draws) == 5


def test_ray_executor_gives_bit_identical_results(cluster: None) -> None:
    from populace.execution.raycluster import RayExecutor

    local = Simulation.from_scenario("opinion", SHARDED, executor=LocalExecutor()).run()
    remote = Simulation.from_scenario("opinion", SHARDED, executor=RayExecutor()).run()
    assert remote.events().num_rows > 0
    assert remote.events().equals(local.events())
    assert remote.metrics().equals(local.metrics())


def test_a_worker_killed_mid_run_is_recovered_and_the_run_is_unchanged(cluster: None) -> None:
    from populace.execution.raycluster import RayExecutor

    overrides = [*SHARDED, "steps=40"]
    reference = Simulation.from_scenario("opinion", overrides).run()
    executor = RayExecutor()
    sim = Simulation.from_scenario("opinion", overrides, executor=executor)
    killed: list[int] = []
    running: dict[str, asyncio.AbstractEventLoop] = {}

    def kill_one_worker() -> None:  # wait for step 15 (past the checkpoint at 10), then SIGKILL a shard's process
        while sim.steps_done < 15:
            time.sleep(0.001)
        pid = asyncio.run_coroutine_threadsafe(executor.pids(), running["loop"]).result()[1]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    async def main() -> None:
        running["loop"] = asyncio.get_running_loop()
        threading.Thread(target=kill_one_worker, daemon=True).start()
        await sim.arun()

    asyncio.run(main())
    assert killed, "no worker was killed"
    assert executor.recoveries >= 1
    assert sim.events().equals(reference.events())
