"""populace: generative agent-based simulation, measured.

    from populace import Simulation, load_scenario
    sim = Simulation.from_scenario("wealth").run()
    print(sim.metrics().tail())

``populace.worlds`` and ``populace.minds`` are the packages of built-in worlds and minds; the
registries are ``populace.world.worlds``, ``populace.minds.minds`` and ``populace.policy.policies``.
"""

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.errors import (
    PopulaceError,
    PopulationError,
    RunError,
    ScenarioError,
    UnknownNameError,
    WorldCheckError,
    WorldError,
)
from populace.events import Events
from populace.minds.base import Decisions, Mind, MindConfig
from populace.minds.rules import RulesMind
from populace.policy import PolicyContext, PolicyParams, policy
from populace.population import Population
from populace.scenario import Scenario, load_scenario
from populace.simulation import Simulation
from populace.world import Column, Observations, World, WorldConfig, operation

__version__ = "0.1.0"


#: subpackages that ``populace.<name>`` imports on first use
SUBPACKAGES = ("adapters", "analysis", "cli", "encoders", "execution", "llm", "operations", "report", "worlds")


def __getattr__(name: str) -> object:
    """``populace.Experiment``, imported on first use (it brings pandas and the analysis along), and
    the subpackages (``populace.worlds``, ``populace.analysis`` ...) on first use as attributes."""
    if name == "Experiment":
        from populace.operations.experiment import Experiment

        return Experiment
    if name in SUBPACKAGES:
        import importlib

        return importlib.import_module(f"populace.{name}")
    raise AttributeError(f"module 'populace' has no attribute {name!r}")

__all__ = [
    "ActionSpace",
    "ActionSpec",
    "Actions",
    "Arg",
    "Column",
    "Decisions",
    "Events",
    "Experiment",
    "Mind",
    "MindConfig",
    "Observations",
    "PolicyContext",
    "PolicyParams",
    "PopulaceError",
    "Population",
    "PopulationError",
    "RulesMind",
    "RunError",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "UnknownNameError",
    "World",
    "WorldCheckError",
    "WorldConfig",
    "WorldError",
    "load_scenario",
    "operation",
    "policy",
]
