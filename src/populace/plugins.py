"""A scenario's ``plugins``: the user's own modules that register worlds, minds and policies.

They are imported when the scenario loads (before any name is looked up) and again in each worker
process before it unpickles its shards (see populace.execution.raycluster).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from populace.errors import ScenarioError


def load_plugins(plugins: list[str], base: Path) -> None:
    """Import a scenario's ``plugins`` (module names, or ``.py`` files relative to ``base``, the
    scenario file's folder), so that the worlds, minds and policies they register can be named.
    File paths are made absolute in place, so that a run's stored copy of the scenario finds them
    again."""
    for i, entry in enumerate(plugins):
        try:
            plugins[i] = import_plugin(entry, base)
        except ScenarioError as exc:
            raise ScenarioError(f"plugins.{i}: {exc}") from None
        except Exception as exc:  # any error of the user's module, or a missing module
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ScenarioError(f"plugins.{i}: {entry!r} cannot be imported: "
                                f"{type(exc).__name__}{': ' + first if first else ''}") from None


def import_plugin(entry: str, base: Path) -> str:
    """Import one plugin (a module name, or a ``.py`` file relative to ``base``); return how to
    name it from anywhere (the file's absolute path, or the module name)."""
    if not (entry.endswith(".py") or "/" in entry or os.sep in entry):
        importlib.import_module(entry)
        return entry
    path = Path(entry).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    _import_file(path)
    return str(path)


def import_plugins(entries: Sequence[str]) -> None:
    """Import plugins already resolved by :func:`load_plugins` (in a worker process, say)."""
    for entry in entries:
        import_plugin(entry, Path.cwd())


def _import_file(path: Path) -> None:
    """Import a ``.py`` file as the module named by its stem (once; pickles of its classes find it)."""
    if not path.is_file():
        raise ScenarioError(f"{str(path)!r} does not exist")
    if path.suffix != ".py":
        raise ScenarioError(f"{str(path)!r} is not a .py file")
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() == path:
            return
        raise ScenarioError(f"{str(path)!r}: a module called {name!r} is already imported from elsewhere; "
                            "rename the file")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
