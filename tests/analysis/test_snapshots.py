"""Readers of agent states read the Parquet snapshots, never a pickled checkpoint: analysis and the
dashboard import no pickle, simulation or minds, and a run recorded before snapshots existed is
refused in one line (while resume and fork still go on from its checkpoints)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from populace import analysis, layout
from populace.errors import RunError
from populace.operations.fork import fork
from populace.report.dashboard import create_app
from populace.simulation import Simulation, snapshot_checkpoints

SOURCE = Path(__file__).resolve().parents[2] / "src" / "populace"
#: the readers of recorded runs that must not unpickle, rebuild or host a simulation
READERS = [*sorted((SOURCE / "analysis").glob("*.py")), SOURCE / "report" / "dashboard.py"]
BANNED = ("pickle", "populace.simulation", "populace.minds", "populace.trace")


def _imported(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports (top-level, lazy or under TYPE_CHECKING), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, node.lineno)] + [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return found


def test_readers_import_no_pickle_simulation_or_minds() -> None:
    bad = [f"{path.relative_to(SOURCE)}:{line} imports {name}" for path in READERS
           for name, line in _imported(path) if any(name == b or name.startswith(b + ".") for b in BANNED)]
    assert bad == []


def test_the_check_sees_a_lazy_import(tmp_path: Path) -> None:
    module = tmp_path / "reader.py"
    module.write_text("def f():\n    import pickle\n    from populace.minds.memory import KINDS\n")
    assert [name for name, _ in _imported(module)] == ["pickle", "populace.minds.memory", "populace.minds.memory.KINDS"]


@pytest.fixture(scope="module")
def old_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run as recorded before per-agent snapshots existed: its checkpoints, and no snapshots/."""
    sim = Simulation.from_scenario("opinion", ["population.size=40", "steps=6", "trace.checkpoint_every=3"],
                                   tmp_path_factory.mktemp("runs")).run()
    assert sim.path is not None
    shutil.rmtree(layout.snapshot_dir(sim.path))
    return sim.path


def test_a_run_recorded_before_snapshots_is_refused_in_one_line(old_run: Path) -> None:
    for read in (lambda: analysis.states(old_run, "opinion"), lambda: analysis.network_at(old_run),
                 lambda: analysis.snapshot_steps(old_run)):
        with pytest.raises(RunError) as error:
            read()
        message = str(error.value)
        assert "\n" not in message and old_run.name in message and "recorded before per-agent snapshots" in message
    assert analysis.checkpoint_steps(old_run) == [3, 6]  # the checkpoints are listed, never read
    reply = TestClient(create_app(old_run)).get("/api/agents/2")
    assert reply.status_code == 404 and "recorded before per-agent snapshots" in reply.json()["detail"]


def test_a_run_recorded_before_snapshots_still_forks_and_resumes(old_run: Path, tmp_path: Path) -> None:
    branch = fork(old_run, 4, ["steps=8"], runs_dir=tmp_path).run()
    assert branch.path is not None and analysis.snapshot_steps(branch.path) == [4, 6, 8]
    copy = tmp_path / "copy"
    shutil.copytree(old_run, copy)
    resumed = Simulation.resume(copy, overrides=()).run()
    assert resumed.steps_done == 6
    assert snapshot_checkpoints(copy) == [3, 6]  # written from its pickled checkpoints
    assert analysis.states(copy, "opinion").groupby("step")["value"].count().to_dict() == {3: 40, 6: 40}


def test_the_snapshot_command_backfills_an_old_run(old_run: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from populace.cli import app

    copy = tmp_path / "old"
    shutil.copytree(old_run, copy)
    with pytest.raises(RunError, match=f"populace snapshot {copy}"):  # the refusal says what to do
        analysis.snapshot_steps(copy)
    first = CliRunner().invoke(app, ["snapshot", str(copy)])
    assert first.exit_code == 0 and "wrote the snapshots after steps 3, 6" in first.output
    assert analysis.snapshot_steps(copy) == [3, 6]
    again = CliRunner().invoke(app, ["snapshot", str(copy)])
    assert again.exit_code == 0 and "already has its snapshot" in again.output


def test_states_population_memories_and_network_come_from_the_snapshots(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("opinion", ["population.size=50", "steps=4", "trace.checkpoint_every=2"],
                                   tmp_path).run()
    assert sim.path is not None
    assert analysis.snapshot_steps(sim.path) == [2, 4]
    opinions = analysis.states(sim.path, "opinion")
    assert opinions[opinions["step"] == 4]["value"].tolist() == sim.world.opinion.tolist()
    population = analysis.population_at(sim.path)
    assert population.columns == sim.population.columns and population.row(7) == sim.population.row(7)
    assert analysis.population_at(sim.path, 2, agents=[9, 3]).row(1) == sim.population.row(9)
    assert analysis.memories(sim.path, 4).empty  # rules minds keep no memory stream
    described = analysis.describe(sim.path, 4, 7)
    assert described["world"]["opinion"] == pytest.approx(sim.world.opinion[7])
    assert described["population"] == sim.population.row(7)
    network = analysis.network_at(sim.path)
    assert network is not None and (network.indices == sim.world.network.indices).all()
    with pytest.raises(RunError, match="no snapshot after step 3"):
        analysis.snapshot(sim.path, 3)
