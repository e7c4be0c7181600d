from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from populace import Actions, ActionSpace, ActionSpec, Arg, Events, Observations, Population, World, WorldCheckError
from populace.testing import check_world
from populace.world import Column, Handler, worlds


@pytest.mark.parametrize("name", worlds.names())
def test_every_registered_world_conforms(name: str) -> None:
    world = worlds.get(name)(Population(size=12))
    check_world(world)


class Counter(World):
    """A minimal, correct world used as the base of deliberately broken ones."""

    name = "counter"
    actions = ActionSpace(ActionSpec("add", {"amount": Arg.integer(ge=0, le=5)}))

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        self.count = np.zeros(self.n_agents, dtype=np.int64)

    def observe(self, agent_ids: np.ndarray) -> Observations:
        return Observations(agent_ids, {"count": self.count[agent_ids]})

    def handlers(self) -> Mapping[str, Handler]:
        return {"add": self._add}

    def _add(self, actions: Actions) -> Events:
        np.add.at(self.count, actions.agents, actions.args["amount"])
        return Events.accepted(actions)


class NotDeterministic(Counter):
    def observe(self, agent_ids: np.ndarray) -> Observations:
        return Observations(agent_ids, {"noise": np.random.random(len(agent_ids))})


class DropsEvents(Counter):
    def _add(self, actions: Actions) -> Events:
        return Events.accepted(actions.take(np.arange(len(actions)) % 2 == 0))


class Crashes(Counter):
    def _add(self, actions: Actions) -> Events:
        raise RuntimeError("boom")


class ReturnsNothing(Counter):
    def _add(self, actions: Actions) -> Events:
        np.add.at(self.count, actions.agents, actions.args["amount"])
        return None  # type: ignore[return-value]  # the mistake under test


class MissingHandler(Counter):
    def handlers(self) -> Mapping[str, Handler]:
        return {}


class WrongObservation(Counter):
    def observe(self, agent_ids: np.ndarray) -> Observations:
        return Observations(agent_ids[:1], {"count": self.count[:1]})


class Declared(Counter):
    observation = (Column("count", "int64", "what the agent has added"),)


class DeclaresTheWrongKind(Counter):
    observation = (Column("count", "bool", "what the agent has added"),)


class DeclaresTheWrongShape(Counter):
    observation = (Column("count", "int64", "what the agent has added", shape=(3,)),)


class DeclaresAnotherColumn(Counter):
    observation = (Column("count", "int64", "what the agent has added"), Column("total", "int64", "everyone's"))


class ObservesAnUndeclaredColumn(Declared):
    def observe(self, agent_ids: np.ndarray) -> Observations:
        obs = super().observe(agent_ids)
        obs.columns["secret"] = np.zeros(len(agent_ids))
        return obs


def test_a_correct_world_passes() -> None:
    check_world(Counter(Population(size=20)))
    check_world(Declared(Population(size=20)))


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (NotDeterministic, "not deterministic"),
        (DropsEvents, "exactly one event"),
        (Crashes, "raised RuntimeError: boom"),
        (MissingHandler, "no handler for action(s) ['add']"),
        (ReturnsNothing, "the handler of 'add' returned NoneType, not Events"),
        (WrongObservation, "must keep the agents it was given"),
        (DeclaresTheWrongKind, "observation column 'count': declared bool, got int64"),
        (DeclaresTheWrongShape, "observation column 'count': declared int64 (3,), got int64"),
        (DeclaresAnotherColumn, "observe() lacks the declared column(s) ['total']"),
        (ObservesAnUndeclaredColumn, "observe() returns column(s) ['secret'] that the world does not declare"),
    ],
)
def test_broken_worlds_are_caught(cls: type[World], message: str) -> None:
    with pytest.raises(WorldCheckError) as info:
        check_world(cls(Population(size=20)))
    assert message in str(info.value)


def test_packages_and_registries_do_not_share_a_name() -> None:
    """After ``import populace``, ``populace.worlds`` and ``populace.minds`` are the packages (so
    ``populace.minds.rules`` is a module), and the registries are where their names say."""
    import importlib
    import types

    import populace
    from populace.minds import minds
    from populace.policy import policies
    from populace.world import worlds

    worlds.get("epidemic")  # discovery imports the built-in worlds
    assert isinstance(populace.worlds, types.ModuleType) and isinstance(populace.minds, types.ModuleType)
    assert populace.minds.rules is importlib.import_module("populace.minds.rules")
    assert populace.worlds.social.world is importlib.import_module("populace.worlds.social.world")
    assert minds.get("rules") is populace.minds.rules.RulesMind and "browse" in policies.names()
    with pytest.raises(AttributeError, match=r"the registry is populace.world.worlds"):
        populace.worlds.register  # noqa: B018 -- code written for the old shared name is told where to look


def test_a_declared_column_names_a_known_kind() -> None:
    with pytest.raises(ValueError, match="dtype 'integer-ish' is not a NumPy dtype, 'text' or 'object'"):
        Column("count", "integer-ish", "what the agent has added")


def test_every_built_in_world_declares_its_observation() -> None:
    """Each column with a one-phrase meaning; check_world (above) holds every world to it."""
    for name in worlds.names():
        columns = worlds.get(name).observation
        assert columns, f"world {name!r} declares no observation"
        assert all(c.meaning and "\n" not in c.meaning for c in columns), name


def test_one_decorator_registers_any_plugin_under_its_name() -> None:
    """Worlds, minds, backends, recommenders, encoders and executors are classes with a ``name``
    and a typed ``Config``; ``@registry.register`` takes the name from the class."""
    from populace.registry import Registry

    registry: Registry[type] = Registry("thing")

    @registry.register
    class Lamp:
        name = "lamp"

    @registry.register("candle")
    class Candle:
        pass

    assert registry.get("lamp") is Lamp and registry.get("candle") is Candle
    with pytest.raises(ValueError, match="has no name"):
        registry.register(type("Nameless", (), {}))
