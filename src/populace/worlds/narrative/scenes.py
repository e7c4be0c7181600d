"""Scenes of a narrative: who takes part, where, for how many steps, and in what turn order.

Scenes run one after the other; the last goes on until the run ends. In a *simultaneous*
scene every participant acts each step and the game master rules on each action against the
state at the start of the step (populace then applies the rulings in order, so two that spend
the same coin cannot both hold). In an *in turn* scene one participant acts per step, in the
listed order, and the others only observe what happens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from populace.errors import UnknownNameError, WorldError


class SceneSpec(BaseModel):
    """One scene as a scenario declares it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    text: str = Field("", description="what the scene is about, told to everyone in it")
    steps: int = Field(1, ge=1, description="steps the scene lasts")
    place: str | None = Field(None, description="where it happens: its participants go there when it opens")
    participants: list[str] | Literal["all"] = Field("all", description="agents' names, or all")
    turns: Literal["simultaneous", "in_turn"] = "simultaneous"


@dataclass
class Scene:
    """A scene with its participants resolved to agent ids."""

    spec: SceneSpec
    index: int
    start: int
    members: np.ndarray

    def acting(self, step: int, n_agents: int) -> np.ndarray:
        """Which agents act at ``step`` (a boolean mask over all agents)."""
        mask = np.zeros(n_agents, dtype=bool)
        if self.spec.turns == "simultaneous":
            mask[self.members] = True
        elif len(self.members):
            mask[self.members[(step - self.start) % len(self.members)]] = True
        return mask


class Scenes:
    """The scenes of a run in order, resolved against the agents' names."""

    def __init__(self, specs: Sequence[SceneSpec], index: Mapping[str, int], places: Sequence[str]) -> None:
        n = len(index)
        specs = list(specs) or [SceneSpec(name="the story")]
        self.scenes: list[Scene] = []
        start = 0
        for i, spec in enumerate(specs):
            if spec.participants == "all":
                members = np.arange(n, dtype=np.int64)
            else:
                unknown = [p for p in spec.participants if p not in index]
                if unknown:
                    raise WorldError(f"world.params.scenes.{i}.participants: "
                                     f"{UnknownNameError('agent', unknown[0], index)}")
                members = np.asarray([index[p] for p in spec.participants], dtype=np.int64)
            if spec.place is not None and spec.place not in places:
                raise WorldError(f"world.params.scenes.{i}.place: {UnknownNameError('place', spec.place, places)}")
            self.scenes.append(Scene(spec, i, start, members))
            start += spec.steps

    def at(self, step: int) -> Scene:
        """The scene that holds ``step`` (the last one once all have run)."""
        for scene in self.scenes:
            if step < scene.start + scene.spec.steps:
                return scene
        return self.scenes[-1]

    def opens(self, step: int) -> Scene | None:
        """The scene that opens at ``step``, if one does."""
        return next((s for s in self.scenes if s.start == step), None)
