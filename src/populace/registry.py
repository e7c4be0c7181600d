"""Name -> class registries for worlds, minds, policies and model backends, with "did you mean" on a miss.

A registry with an entry-point ``group`` (e.g. ``populace.worlds``) also finds entries that installed
packages declare under it, loaded only when a name is not found otherwise::

    [project.entry-points."populace.backends"]
    echo = "my_package.echo:EchoBackend"
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, cast, overload

from populace.errors import ScenarioError, UnknownNameError

T = TypeVar("T")


def _identity(obj: object) -> str:
    """Where an object was defined: the same definition re-imported counts as the same entry."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


class Registry(Generic[T]):
    """A registry of named entries of one kind (e.g. "world").

    Built-in entries are declared lazily as ``"module:attribute"`` so that importing populace
    imports no world or model code until it is used. Installed packages add entries through the
    entry-point ``group``: each entry point's name is the entry's name, its value the object (or a
    module that registers it when imported); it is loaded on the first miss of that name.
    """

    def __init__(self, kind: str, lazy: dict[str, str] | None = None, discover: tuple[str, ...] = (),
                 group: str | None = None) -> None:
        self.kind = kind
        self.group = group
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

    def _entry_points(self) -> dict[str, importlib.metadata.EntryPoint]:
        """The installed packages' entry points of this registry's group, by name (none loaded)."""
        if self.group is None:
            return {}
        return {ep.name: ep for ep in importlib.metadata.entry_points(group=self.group)}

    def _load_entry_point(self, name: str) -> None:
        """Load the entry point called ``name``, if an installed package declares one."""
        ep = self._entry_points().get(name)
        if ep is None:
            return
        try:
            loaded = ep.load()
        except Exception as exc:  # the package's own error, or a module that is not installed
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ScenarioError(f"{self.kind} {name!r}: entry point {ep.value!r} ({self.group}) cannot be "
                                f"loaded: {type(exc).__name__}{': ' + first if first else ''}") from None
        if name not in self._entries:  # a module that registered it on import needs nothing more
            self.add(name, cast(T, loaded))

    @overload
    def register(self, target: str) -> Callable[[T], T]: ...

    @overload
    def register(self, target: T) -> T: ...

    def register(self, target: str | T) -> Callable[[T], T] | T:
        """Decorator: ``@registry.register`` registers a plugin class under its own ``name`` (every
        world, mind, backend, recommender, encoder and executor has one, beside its typed
        ``Config``); ``@registry.register("name")`` registers any object under ``name``."""
        if not isinstance(target, str):
            name = getattr(target, "name", "")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{self.kind} {target!r} has no name: set its name, or register(\"name\")")
            self.add(name, target)
            return target
        name_given = target

        def decorate(obj: T) -> T:
            self.add(name_given, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name``; a *different* object under a taken name is an error
        (two worlds' policies called alike would otherwise silently replace each other)."""
        existing = self._entries.get(name)
        if existing is not None and _identity(existing) != _identity(obj):
            raise ValueError(f"{self.kind} {name!r} is already registered by {_identity(existing)}")
        builtin = self._lazy.get(name, "").replace(":", ".")
        if existing is None and builtin and builtin != _identity(obj):  # a built-in not imported yet
            raise ValueError(f"{self.kind} {name!r} is already registered by {builtin}")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        """Return the entry called ``name`` or raise :class:`UnknownNameError`."""
        if name not in self._entries and name not in self._lazy:
            self._load_builtins()
        if name not in self._entries and name in self._lazy:
            module, _, attribute = self._lazy[name].partition(":")
            self._entries[name] = cast(T, getattr(importlib.import_module(module), attribute))
        if name not in self._entries:
            self._load_entry_point(name)
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        """All registered names, loaded or not (installed packages' entry points included)."""
        self._load_builtins()
        return sorted(set(self._entries) | set(self._lazy) | set(self._entry_points()))

    def __contains__(self, name: object) -> bool:
        if name not in self._entries and name not in self._lazy:
            self._load_builtins()
        return name in self._entries or name in self._lazy or name in self._entry_points()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        """Every entry, loading lazy ones."""
        return [(name, self.get(name)) for name in self.names()]
