"""Built-in worlds. Each module registers itself lazily in ``populace.world.worlds``.

This package shares its name with that registry, which ``populace`` exports as ``worlds``: once
Python has imported the package, ``populace.worlds`` is the package. So the package also acts as
the registry (``worlds.add``, ``worlds.get``, ``name in worlds``, iteration), and both
``from populace import worlds`` and ``import populace.worlds.social.world`` work.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

from populace.world import worlds as _registry


class _WorldsPackage(types.ModuleType):
    """The package, answering for the registry where it has no attribute of its own."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_registry, name)

    def __contains__(self, name: object) -> bool:
        return name in _registry

    def __iter__(self) -> Iterator[str]:
        return iter(_registry)


sys.modules[__name__].__class__ = _WorldsPackage
