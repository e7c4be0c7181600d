"""The names of a run directory, in one place: every module that reads or writes a run finds its
files here, never by a literal of its own.

Layout of a run directory (``runs/<id>/``)::

    run.json                            manifest: id, scenario, seed, status, progress
    scenario.yaml                       the validated scenario the run was started with
    events/00000000-00000009.parquet    one row per event (step, time, agent, action, args, ...)
    steps/…, metrics/…                  one row per step; one row per (step, metric)
    decisions/…, memories/…             tables a component records beside the trace (same part names)
    interviews/00000012-<id>.parquet    answers to ``populace interview``, one part per interview
    checkpoints/00000010.pkl            the state after 10 steps, from which a run resumes or forks
    snapshots/00000010.parquet          per-agent state after 10 steps: population and world columns
    snapshots/00000010-memories.parquet the minds' memory streams then (generative minds only)
    snapshots/00000010-network.parquet  the world's contact network then (where it has one)
    cache/responses.sqlite              the model's answers by request (what a replay reads)
    fidelity.json                       a run's own fidelity figures (``populace fidelity``)
    report.html                         the report (``populace report``)

A part of a table is named ``FIRST-LAST.parquet`` by the first and last step it holds (eight
digits, so names sort by step); a checkpoint or a snapshot by the steps done when it was taken.
A file is written under a temporary name (``.NAME.tmp``) and renamed, so no reader sees it torn.
"""

from __future__ import annotations

from pathlib import Path

MANIFEST = "run.json"
SCENARIO = "scenario.yaml"
EVENTS, STEPS, METRICS = "events", "steps", "metrics"
#: the trace's own tables, written part by part by the trace store
TABLES = (EVENTS, STEPS, METRICS)
DECISIONS, MEMORIES, INTERVIEWS = "decisions", "memories", "interviews"
CHECKPOINTS = "checkpoints"
SNAPSHOTS = "snapshots"
CACHE = "cache"
RESPONSES = "responses.sqlite"
FIDELITY = "fidelity.json"
REPORT = "report.html"

PART = ".parquet"
#: the glob of a table's parts
PARTS = "*" + PART
CHECKPOINT = ".pkl"
#: what a snapshot file's name adds after the step: the agents' own file has none
AGENTS_SNAPSHOT, MEMORIES_SNAPSHOT, NETWORK_SNAPSHOT = "", "memories", "network"
#: a snapshot's own columns: the agent's id, and for a partitioned world its region and its id there
AGENT, REGION, ID_IN_REGION = "agent", "region", "id_in_region"
#: what each field of an agents' snapshot says of itself in its metadata: where its values come from
#: (``population``, ``world``, ``run``) and their own name (the column is renamed on a clash)
FIELD_SOURCE, FIELD_NAME = b"populace.source", b"populace.name"
#: the network snapshot's metadata: its number of nodes (agents)
NETWORK_NODES = b"populace.nodes"


def step_name(step: int) -> str:
    """A step as it names files: eight digits, so that names sort by step."""
    return f"{int(step):08d}"


def table_dir(run: Path, name: str) -> Path:
    """The folder of table ``name`` (``events``, ``steps``, ``decisions``, ...)."""
    return run / name


def part_name(first: int, last: int) -> str:
    """The name of a part holding steps ``first`` to ``last``."""
    return f"{step_name(first)}-{step_name(last)}{PART}"


def part_file(run: Path, name: str, first: int, last: int) -> Path:
    return table_dir(run, name) / part_name(first, last)


def part_steps(part: Path) -> tuple[int, int] | None:
    """``(first, last)`` of a part named ``FIRST-LAST.parquet``; None for another name."""
    first, _, last = part.stem.partition("-")
    return (int(first), int(last)) if first.isdigit() and last.isdigit() else None


def part_first(part: Path) -> int | None:
    """The first step of a part named ``FIRST-...``; None when its name does not start with one."""
    first = part.stem.partition("-")[0]
    return int(first) if first.isdigit() else None


def parts(run: Path, name: str) -> list[Path]:
    """The parts of table ``name`` in step order (empty when there are none)."""
    directory = table_dir(run, name)
    return sorted(directory.glob(PARTS)) if directory.is_dir() else []


def has_parts(run: Path, name: str) -> bool:
    directory = table_dir(run, name)
    return directory.is_dir() and any(directory.glob(PARTS))


def interview_file(run: Path, step: int, interview: str) -> Path:
    """The part of the answers to one interview, asked as of ``step``."""
    return table_dir(run, INTERVIEWS) / f"{step_name(step)}-{interview}{PART}"


def temporary(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place."""
    return path.with_name(f".{path.name}.tmp")


def manifest_file(run: Path) -> Path:
    return run / MANIFEST


def scenario_file(run: Path) -> Path:
    return run / SCENARIO


def checkpoint_dir(run: Path) -> Path:
    return run / CHECKPOINTS


def checkpoint_file(run: Path, step: int) -> Path:
    """The checkpoint taken after ``step`` steps."""
    return checkpoint_dir(run) / f"{step_name(step)}{CHECKPOINT}"


def checkpoint_steps(run: Path) -> list[int]:
    """Steps after which a checkpoint was taken, ascending."""
    directory = checkpoint_dir(run)
    if not directory.is_dir():
        return []
    return sorted(int(p.stem) for p in directory.glob("*" + CHECKPOINT) if p.stem.isdigit())


def snapshot_dir(run: Path) -> Path:
    return run / SNAPSHOTS


def snapshot_file(run: Path, step: int, kind: str = AGENTS_SNAPSHOT) -> Path:
    """The snapshot of ``kind`` (the agents', ``memories``, ``network``) after ``step`` steps."""
    return snapshot_dir(run) / f"{step_name(step)}{'-' + kind if kind else ''}{PART}"


def snapshot_step(path: Path) -> tuple[int, str] | None:
    """``(step, kind)`` of a snapshot file's name; None for another name."""
    step, _, kind = path.stem.partition("-")
    return (int(step), kind) if path.suffix == PART and step.isdigit() else None


def snapshot_steps(run: Path) -> list[int]:
    """Steps after which the agents' snapshot was written, ascending."""
    directory = snapshot_dir(run)
    if not directory.is_dir():
        return []
    found = (snapshot_step(p) for p in directory.glob(PARTS))
    return sorted(s[0] for s in found if s is not None and s[1] == AGENTS_SNAPSHOT)


def snapshot_files(run: Path, step: int) -> list[Path]:
    """Every snapshot file of ``step`` (the agents', their memories, the network)."""
    directory = snapshot_dir(run)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(PARTS) if (found := snapshot_step(p)) is not None and found[0] == step)


def cache_dir(run: Path) -> Path:
    """The model's response cache of a run."""
    return run / CACHE


def responses_file(run: Path) -> Path:
    return cache_dir(run) / RESPONSES


def fidelity_file(run: Path) -> Path:
    return run / FIDELITY


def report_file(run: Path) -> Path:
    return run / REPORT
