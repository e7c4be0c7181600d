"""Name -> class registries for worlds, minds and policies, with "did you mean" on a miss."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, cast

from populace.errors import UnknownNameError

T = TypeVar("T")


def _identity(obj: object) -> str:
    """Where an object was defined: the same definition re-imported counts as the same entry."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


class Registry(Generic[T]):
    """A registry of named entries of one kind (e.g. "world").

    Built-in entries are declared lazily as ``"module:attribute"`` so that importing populace
    imports no world or model code until it is used.
    """

    def __init__(self, kind: str, lazy: dict[str, str] | None = None, discover: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = dict(lazy or {})
        self._discover = discover
        self._discovered = False

    def _load_builtins(self) -> None:
        """Import every module of the ``discover`` packages once; they register themselves."""
        if self._discovered:
            return
        self._discovered = True
        for package in self._discover:
            module = importlib.import_module(package)
            for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
                if not info.name.rsplit(".", 1)[-1].startswith("_"):
                    importlib.import_module(info.name)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name``."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name``; a *different* object under a taken name is an error
        (two worlds' policies called alike would otherwise silently replace each other)."""
        existing = self._entries.get(name)
        if existing is not None and _identity(existing) != _identity(obj):
            raise ValueError(f"{self.kind} {name!r} is already registered by {_identity(existing)}")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        """Return the entry called ``name`` or raise :class:`UnknownNameError`."""
        if name not in self._entries and name not in self._lazy:
            self._load_builtins()
        if name not in self._entries and name in self._lazy:
            module, _, attribute = self._lazy[name].partition(":")
            self._entries[name] = cast(T, getattr(importlib.import_module(module), attribute))
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        """All registered names, loaded or not."""
        self._load_builtins()
        return sorted(set(self._entries) | set(self._lazy))

    def __contains__(self, name: object) -> bool:
        if name not in self._entries and name not in self._lazy:
            self._load_builtins()
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        """Every entry, loading lazy ones."""
        return [(name, self.get(name)) for name in self.names()]
