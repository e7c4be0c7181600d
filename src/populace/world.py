"""The World contract: ``reset(seed)``, ``observe(agent_ids)``, ``apply(actions) -> events``.

A world owns the environment's rules and state. Its actions are an explicit, typed
:class:`~populace.actions.ActionSpace`; ``apply`` validates every batch against it before the
world's own handler sees it, so an unknown action, a bad argument or a missing agent becomes a
rejected event with its reason, never an exception. ``populace.testing.check_world`` checks any
world, including yours, against this contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar, cast

import numpy as np
from pydantic import BaseModel, ConfigDict

from populace.actions import Actions, ActionSpace
from populace.clock import Clock
from populace.errors import UnknownNameError, WorldError
from populace.events import Events
from populace.network import Network
from populace.population import Population
from populace.registry import Registry

Seed = int | np.random.SeedSequence | None
Handler = Callable[[Actions], Events]
Operation = Callable[..., Events | None]
F = TypeVar("F", bound=Callable[..., Any])


def operation(method: F) -> F:
    """Mark a world method as an operation that scenarios can schedule as an intervention."""
    method.__populace_operation__ = True  # type: ignore[attr-defined]
    return method


class WorldConfig(BaseModel):
    """Base of every world's parameters; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


#: the declared kinds of values that are not one NumPy dtype
TEXT, OBJECT = "text", "object"


@dataclass(frozen=True)
class Column:
    """One observation column a world declares: ``Column("wealth", "int64", "units of wealth held")``.

    ``dtype`` is a NumPy dtype name (``"float64"``, ``"int64"``, ``"bool"``, ``"uint8"`` ...),
    ``"text"`` (one ``str`` per agent, in an object or unicode array) or ``"object"`` (any Python
    value per agent: a list of feed items, a tuple, a dict). ``shape`` is each agent's own shape:
    ``()`` for one value, ``(10,)`` for a feed of ten, ``(5, 5)`` for a window; ``None`` stands for
    a length that depends on the world's parameters. Values are checked by kind, not width: an
    ``int64`` column may hold ``int8`` values, and a float column integers (a parameter given as 1).
    """

    name: str
    dtype: str
    meaning: str
    shape: tuple[int | None, ...] = ()

    def __post_init__(self) -> None:
        if self.dtype not in (TEXT, OBJECT):
            try:
                np.dtype(self.dtype)
            except TypeError:
                raise ValueError(f"observation column {self.name!r}: dtype {self.dtype!r} is not a NumPy dtype, "
                                 f"'{TEXT}' or '{OBJECT}'") from None

    @property
    def numeric(self) -> bool:
        """Whether the values are numbers or booleans (one NumPy dtype)."""
        return self.dtype not in (TEXT, OBJECT)

    def describe(self) -> str:
        """``int64``, ``float32 (10,)``: the dtype, and the shape unless one value per agent."""
        if not self.shape:
            return self.dtype
        dims = ", ".join("N" if d is None else str(d) for d in self.shape)
        return f"{self.dtype} ({dims}{',' if len(self.shape) == 1 else ''})"

    def mismatch(self, values: np.ndarray) -> str | None:
        """Why a column of ``values`` (one row per agent) does not fit this declaration; None if it does."""
        values = np.asarray(values)
        kind, shape = values.dtype.kind, values.shape[1:]
        got = f"{values.dtype}" + (f" {shape}" if shape else "")
        if len(shape) != len(self.shape) or any(d not in (None, s) for d, s in zip(self.shape, shape, strict=True)):
            return f"declared {self.describe()}, got {got}"
        if self.dtype == OBJECT:
            fits = kind == "O"
        elif self.dtype == TEXT:
            fits = kind == "U" or (kind == "O" and all(isinstance(v, str) for v in values.ravel().tolist()))
        else:
            wanted = np.dtype(self.dtype).kind
            fits = kind == wanted or (wanted == "f" and kind in "iu")
        return None if fits else f"declared {self.describe()}, got {got}"


@dataclass
class Observations:
    """What a batch of agents perceives: ``columns[k][i]`` belongs to ``agents[i]``.

    Columns may hold numbers, text or objects (e.g. a list of feed items per agent). Minds see
    the world only through this.
    """

    agents: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    step: int = 0
    time: datetime | None = None
    #: the simulated time a step covers (the run's clock step), for minds whose choices are rates
    #: per simulated hour (see :func:`populace.clock.per_step_probability`); None outside a run
    step_duration: timedelta | None = None

    def __len__(self) -> int:
        return len(self.agents)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def take(self, index: np.ndarray) -> Observations:
        """The observations of the agents at ``index`` (positions or a boolean mask)."""
        return Observations(
            self.agents[index], {k: v[index] for k, v in self.columns.items()}, self.step, self.time,
            self.step_duration,
        )

    def row(self, i: int) -> dict[str, Any]:
        """Agent ``agents[i]``'s observation as plain values."""
        return {k: (v[i].item() if isinstance(v[i], np.generic) else v[i]) for k, v in self.columns.items()}


C = TypeVar("C", bound=WorldConfig)


class World(ABC, Generic[C]):
    """Base class of every world. Subclasses set ``name``, ``Config`` and ``actions``."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[WorldConfig]] = WorldConfig
    actions: ClassVar[ActionSpace] = ActionSpace()
    #: the metrics ``metrics()`` reports, with a one-line meaning each, for reports and plots
    metric_descriptions: ClassVar[Mapping[str, str]] = {}
    #: the clock step the world's dynamics are written for (rates per day, say); None: any step
    step_length: ClassVar[timedelta | None] = None
    #: the columns ``observe()`` returns, in its order, each with its kind and meaning (see
    #: :class:`Column`); scenarios are checked against them before a run. Empty: undeclared, and
    #: nothing is checked. Columns that depend on the parameters: see :meth:`observation_columns`.
    observation: ClassVar[tuple[Column, ...]] = ()

    def __init__(
        self, population: Population, config: WorldConfig | Mapping[str, Any] | None = None,
        *, available: Iterable[str] | None = None, clock: Clock | None = None,
    ) -> None:
        self.population = population
        #: the run's clock: its durations (half-lives, windows, rates) become per-step values with
        #: :mod:`populace.clock`; without one, step 0 is 2025-01-01 00:00 and a step is an hour
        self.clock = clock if clock is not None else Clock(datetime(2025, 1, 1), timedelta(hours=1))
        #: the world's parameters, typed as its ``Config`` where the class says ``World[ItsConfig]``
        given = config if isinstance(config, self.Config) else self.Config.model_validate(config or {})
        self.config: C = cast(C, given)
        self.action_space = type(self).actions.subset(available)
        self.rng = np.random.default_rng(0)
        self.step = 0
        self.time: datetime | None = None
        #: the run's ids of this world's agents where it is one region of a partitioned world
        #: (see populace.regions); None where it is the whole world and ids are the run's own
        self.agent_ids: np.ndarray | None = None

    @property
    def n_agents(self) -> int:
        return self.population.size

    # -- the contract ------------------------------------------------------------------------
    def reset(self, seed: Seed = None) -> None:
        """Start the world afresh; the same seed must give the same world. Call super() first."""
        self.rng = np.random.default_rng(seed)
        self.step = 0

    @abstractmethod
    def observe(self, agent_ids: np.ndarray) -> Observations:
        """What each of ``agent_ids`` perceives now."""

    @abstractmethod
    def handlers(self) -> Mapping[str, Handler]:
        """The explicit table: action name -> method applying a batch of *valid* actions."""

    def apply(self, batches: Iterable[Actions]) -> list[Events]:
        """Validate and apply batches of actions in order; return every resulting event."""
        table = self.handlers()
        events: list[Events] = []
        for batch in batches:
            if len(batch) == 0:
                continue
            valid, rejected = self.action_space.validate(batch, self.n_agents)
            if rejected is not None:
                events.append(rejected)
            if valid is not None:
                outcome = table[valid.name](valid)
                if not isinstance(outcome, Events):
                    raise WorldError(f"{type(self).__name__}: the handler of {valid.name!r} returned "
                                     f"{type(outcome).__name__}, not Events (e.g. Events.accepted(actions))")
                events.append(outcome)
        return events

    def tick(self) -> list[Events]:
        """The environment's own dynamics once per step, after the agents acted (default: none)."""
        return []

    def metrics(self) -> dict[str, float]:
        """Scalar measurements of the current state, recorded every step."""
        return {}

    @classmethod
    def observation_columns(cls, config: WorldConfig) -> tuple[Column, ...]:
        """The columns a world with these (validated) parameters observes: :attr:`observation`,
        unless a world whose columns or lengths depend on its parameters says otherwise."""
        return tuple(cls.observation)

    @classmethod
    def operations(cls) -> Mapping[str, Operation]:
        """Operations a scenario may schedule as interventions (methods marked ``@operation``)."""
        return {
            name: member for klass in reversed(cls.__mro__) for name, member in vars(klass).items()
            if getattr(member, "__populace_operation__", False)
        }

    def call(self, operation: str, **args: Any) -> list[Events]:
        """Run a named operation (an intervention) and return its events."""
        ops = self.operations()
        if operation not in ops:
            raise UnknownNameError("operation", operation, ops)
        result = ops[operation](self, **args)
        return [] if result is None else [result]

    def set_clock(self, step: int, time: datetime | None) -> None:
        """Called by the simulation before each step."""
        self.step, self.time = step, time

    # -- what snapshots record ---------------------------------------------------------------
    def agent_state(self) -> dict[str, np.ndarray]:
        """The world's per-agent state by name, row ``i`` agent ``i``'s (a region's agents numbered as
        it numbers them): what the run's snapshots record at every checkpoint. Default: every NumPy
        array attribute whose first dimension is the number of agents."""
        n = self.n_agents
        return {name: value for name, value in vars(self).items()
                if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n}

    def contacts(self) -> Network | None:
        """The world's contact network, what the run's snapshots record of it. Default: a
        :class:`~populace.network.Network` attribute, else a follow relation (``state.follows``
        with ``pairs()``) seen as undirected ties; None when the world has neither."""
        for value in vars(self).values():
            if isinstance(value, Network):
                return value
        follows = getattr(getattr(self, "state", None), "follows", None)
        if follows is not None and hasattr(follows, "pairs"):
            left, right = follows.pairs()
            return Network.from_edges(self.n_agents, np.asarray(left), np.asarray(right))
        return None


#: Worlds by name. Built-in worlds are the modules of ``populace.worlds``, imported on first lookup.
worlds: Registry[type[World]] = Registry("world", discover=("populace.worlds",), group="populace.worlds")
