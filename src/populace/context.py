"""What a run offers the code that decides in it (minds, model clients): the run's context."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class MindContext:
    """What a run offers its minds: where it records, the scenario's default model spec, whether
    it replays from the response cache, and a place to share expensive objects (model clients,
    encoders) between minds. Not pickled into checkpoints: it is re-attached on resume."""

    run_path: Path | None = None
    model: dict[str, Any] = field(default_factory=dict)
    replay: bool = False
    shared: dict[str, Any] = field(default_factory=dict)
    #: the scenario's plugins, imported again by worker processes before they unpickle shards
    plugins: tuple[str, ...] = ()
