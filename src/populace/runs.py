"""Run directories: creation, the ``run.json`` manifest, discovery and summaries (the directory's
names: :mod:`populace.layout`)."""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from populace import layout
from populace.errors import RunError
from populace.scenario import Scenario, load_scenario

MANIFEST = layout.MANIFEST


def default_runs_dir() -> Path:
    return Path(os.environ.get("POPULACE_RUNS", "runs"))


@dataclass
class Run:
    """One run directory and its manifest."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, runs_dir: Path, scenario: Scenario, name: str | None = None) -> Run:
        """A new run directory under ``runs_dir``, named ``name`` (default: the scenario's name, a time
        stamp and a random suffix); a directory of that name must not exist yet."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = runs_dir / (name or f"{scenario.name}-{stamp}-{secrets.token_hex(2)}")
        try:
            path.mkdir(parents=True)
            layout.scenario_file(path).write_text(scenario.to_yaml(), encoding="utf-8")
        except OSError as exc:
            raise RunError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
        run = cls(path)
        run.write({
            "id": run.id, "scenario": scenario.name, "seed": scenario.seed, "steps": scenario.steps,
            "status": "created", "steps_done": 0, "last_checkpoint": None,
            "created": _now(), "base_dir": str(scenario.base_dir),
        })
        return run

    @classmethod
    def open(cls, path: Path | str, runs_dir: Path | None = None) -> Run:
        """A run by its directory, or by its id under ``runs_dir`` (default: :func:`default_runs_dir`)."""
        path = Path(path)
        if not layout.manifest_file(path).is_file():
            where = runs_dir if runs_dir is not None else default_runs_dir()
            candidate = where / str(path)
            if layout.manifest_file(candidate).is_file():
                path = candidate
            else:
                raise RunError(f"{str(path)!r} is not a run directory (no {MANIFEST}) nor a run id under {where}")
        return cls(path)

    def manifest(self) -> dict[str, Any]:
        file = layout.manifest_file(self.path)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{file} cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise RunError(f"{file} is not a JSON object")
        return data

    def write(self, data: dict[str, Any]) -> None:
        file = layout.manifest_file(self.path)
        tmp = layout.temporary(file)
        try:
            tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
            os.replace(tmp, file)
        except OSError as exc:
            raise RunError(f"{file} cannot be written: {exc.strerror or exc}") from None

    def status(self) -> str:
        """The manifest's status, except that a run whose process has died is ``interrupted``.

        A running process records its pid and host; a ``running`` run on this host whose process is
        gone was killed (or crashed) and resumes from its last checkpoint. A run on another host
        keeps the recorded status: its process cannot be checked from here.
        """
        data = self.manifest()
        status = str(data.get("status"))
        if status == "running" and data.get("host") == socket.gethostname() and not _alive(data.get("pid")):
            return "interrupted"
        return status

    def mark_running(self) -> None:
        """Record that this process is running the run (see :meth:`status`)."""
        self.update(status="running", pid=os.getpid(), host=socket.gethostname())

    def update(self, **changes: Any) -> None:
        data = self.manifest()
        data.update(changes, updated=_now())
        self.write(data)

    def scenario(self, overrides: Sequence[str] = ()) -> Scenario:
        """The scenario the run was started with (relative paths resolved as they were), with
        ``overrides`` (``key.path=value``) applied."""
        file = layout.scenario_file(self.path)
        if not file.is_file():
            raise RunError(f"{self.path} has no {layout.SCENARIO}")
        scenario = load_scenario(file, overrides, recorded=True)
        base = self.manifest().get("base_dir")
        if base:
            scenario._base_dir = Path(base)
        return scenario

    def save_scenario(self, scenario: Scenario) -> None:
        """Record a changed scenario (a resumed run's larger budget), replacing the file atomically."""
        file = layout.scenario_file(self.path)
        tmp = layout.temporary(file)
        try:
            tmp.write_text(scenario.to_yaml(), encoding="utf-8")
            os.replace(tmp, file)
        except OSError as exc:
            raise RunError(f"{file} cannot be written: {exc.strerror or exc}") from None


def list_runs(runs_dir: Path) -> list[Run]:
    """Runs under ``runs_dir``, oldest first."""
    if not runs_dir.is_dir():
        return []
    found = [Run(p) for p in runs_dir.iterdir() if layout.manifest_file(p).is_file()]
    return sorted(found, key=lambda r: (r.manifest().get("created", ""), r.id))


def _alive(pid: object) -> bool:
    """Whether a process with this pid exists (a zombie or a recycled pid counts as alive)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    if os.path.exists(f"/proc/{pid}/stat"):  # Linux: a killed child not yet reaped is a zombie, not alive
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
        except OSError:
            return False
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
