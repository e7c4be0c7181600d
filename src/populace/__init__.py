"""populace: generative agent-based simulation, measured.

    from populace import Simulation, load_scenario
    sim = Simulation.from_scenario("wealth").run()
    print(sim.metrics().tail())
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
from populace.minds import Decisions, Mind, MindConfig, PolicyParams, RulesMind, minds, policies, policy
from populace.population import Population
from populace.scenario import Scenario, load_scenario
from populace.simulation import Simulation
from populace.world import Column, Observations, World, WorldConfig, operation, worlds

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``populace.Experiment``, imported on first use (it brings pandas and the analysis along)."""
    if name == "Experiment":
        from populace.operations.experiment import Experiment

        return Experiment
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
    "minds",
    "operation",
    "policies",
    "policy",
    "worlds",
]
