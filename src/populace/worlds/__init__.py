"""Built-in worlds, one module (or package) each; each registers itself in the registry
:data:`populace.world.worlds` when it is imported, which a lookup by name does on first use."""

from __future__ import annotations


def __getattr__(name: str) -> object:
    """Say where the registry is to code written when this package also answered for it."""
    if name in {"add", "get", "register", "names", "items"}:
        raise AttributeError(f"populace.worlds is the package of built-in worlds; the registry is "
                             f"populace.world.worlds (from populace.world import worlds; worlds.{name}(...))")
    raise AttributeError(f"module 'populace.worlds' has no attribute {name!r}")
