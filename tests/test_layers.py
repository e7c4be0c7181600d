"""The floors of the code (docs/architecture.md): every import points down or sideways, never up,
and no two modules import each other, not even for annotations.

Imports are read from the source (every ``import`` statement, at the top, inside a function or
under ``TYPE_CHECKING``), so a lazy import that points up fails here like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"

#: Each module's floor, by the longest matching prefix. A module imports only from its own floor or below.
FLOORS: dict[str, int] = {
    # 0 ground: no world, no mind, no run
    "populace.errors": 0, "populace.clock": 0, "populace.population": 0, "populace.persona": 0,
    "populace.network": 0, "populace.registry": 0, "populace.measures": 0, "populace.parameters": 0,
    "populace.outputs": 0, "populace.progress": 0, "populace.datafiles": 0, "populace.plugins": 0,
    "populace.layout": 0,
    # 1 the contract: what worlds and minds agree on
    "populace.actions": 1, "populace.events": 1, "populace.world": 1, "populace.policy": 1,
    "populace.context": 1, "populace.regions": 1, "populace.scheduler": 1, "populace.embedding": 1,
    "populace.originality": 1, "populace.testing": 1, "populace.records": 1,
    # 2 peers on the contract: worlds, minds, the model client, encoders, adapters
    "populace.worlds": 2, "populace.minds": 2, "populace.llm": 2, "populace.encoders": 2,
    "populace.adapters": 2,
    # 3 where minds run
    "populace.execution": 3,
    # 4 a scenario and the run store
    "populace.scenario": 4, "populace.runs": 4, "populace.trace": 4,
    "populace.summary": 4, "populace.budget": 4, "populace.health": 4,
    # 5 a simulation, and analysis over what runs recorded
    "populace.simulation": 5, "populace.analysis": 5,
    # 6 what a user does with runs: operations, reports, reliability exercises
    "populace.operations": 6, "populace.report": 6, "populace.reliability": 6,
    # 7 the command line and the package's public face
    "populace.cli": 7, "populace.__main__": 7, "populace": 7,
}

#: Peers of one floor that must not know each other (package -> packages it may not import).
APART: dict[str, tuple[str, ...]] = {
    "populace.worlds": ("populace.minds", "populace.llm", "populace.encoders", "populace.adapters"),
    "populace.minds": ("populace.worlds", "populace.adapters"),
    "populace.llm": ("populace.worlds", "populace.minds", "populace.encoders", "populace.adapters"),
    "populace.encoders": ("populace.worlds", "populace.minds", "populace.llm", "populace.adapters"),
    "populace.adapters": ("populace.minds", "populace.llm", "populace.encoders"),
}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted((SOURCE / "populace").rglob("*.py")):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """The populace modules ``name`` imports, each with the line of its first import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # ``from pkg import module`` imports that module; ``from module import name`` the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            if _within(target, "populace"):
                found.setdefault(target, node.lineno)
    return found


def floor(name: str) -> int:
    matches = [prefix for prefix in FLOORS if _within(name, prefix)]
    return FLOORS[max(matches, key=len)] if matches else -1


def graph() -> dict[str, dict[str, int]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def test_every_module_has_a_floor() -> None:
    """A new top-level module or package must be given its floor here (and in docs/architecture.md)."""
    assert [name for name in modules() if floor(name) < 0] == []


def test_no_import_points_up() -> None:
    up = [f"{name} (floor {floor(name)}) imports {target} (floor {floor(target)}) at line {line}"
          for name, targets in graph().items() for target, line in targets.items() if floor(target) > floor(name)]
    assert up == [], "\n".join(up)


def test_peers_stay_apart() -> None:
    crossed = [f"{name} imports {target} at line {line}"
               for name, targets in graph().items() for target, line in targets.items()
               for package, banned in APART.items() if _within(name, package)
               and any(_within(target, b) for b in banned)]
    assert crossed == [], "\n".join(crossed)


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import cycles: strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_cycles() -> None:
    edges = graph()
    # a package's __init__ re-exporting its own modules is not a cycle of the design
    edges = {name: {t: line for t, line in targets.items() if not _within(name, t) and not _within(t, name)}
             for name, targets in edges.items()}
    assert cycles(edges) == []


@pytest.mark.parametrize(("edges", "expected"), [
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}, [["a", "b", "c"]]),
    ({"a": {"b": 1}, "b": {}}, []),
])
def test_the_cycle_finder_finds_cycles(edges: dict[str, dict[str, int]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_the_floors_catch_an_upward_import(tmp_path: Path) -> None:
    """The check itself: a world module importing the simulation is reported with its line."""
    module = tmp_path / "bad.py"
    module.write_text("import numpy\n\ndef f():\n    from populace.simulation import Simulation\n")
    found = imports("populace.worlds.bad", module, {"populace.simulation"})
    assert found == {"populace.simulation": 4}
    assert floor("populace.simulation") > floor("populace.worlds.bad")
