"""The grid world's parameters (the tasks read them too)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from populace.world import WorldConfig

TaskName = Literal["pursuit", "synchronization", "foraging", "flocking", "transport"]


class GridConfig(WorldConfig):
    task: TaskName = Field("pursuit", description="which SwarmBench task the agents play")
    width: int | None = Field(None, ge=5, description="cells across (default: SwarmBench's 10, more for many agents)")
    height: int | None = Field(None, ge=5, description="cells down (default: as width)")
    view: int = Field(5, ge=1, description="side of the square window each agent sees (odd; SwarmBench: 5)")
    walls: bool = Field(True, description="a wall around the border")
    wrap: bool = Field(False, description="a torus: moving off one edge enters at the opposite one")
    text: bool = Field(True, description="also render each view as text (for language-model minds)")
    prey: int = Field(1, ge=1, description="pursuit: prey on the grid at once")
    prey_speed: int = Field(2, ge=0, description="pursuit: cells the prey moves per step (even)")
    patch: int = Field(2, ge=1, description="foraging: side of the food patch and of the nest")
    box: int = Field(3, ge=2, description="transport: side of the box")
    push_needed: int = Field(3, ge=1, description="transport: agents pushing one way to move the box")

    @model_validator(mode="after")
    def _shape(self) -> GridConfig:
        if self.view % 2 == 0:
            raise ValueError(f"view must be odd, got {self.view}")
        if self.prey_speed % 2:
            raise ValueError(f"prey_speed must be even (the prey moves in two-cell hops), got {self.prey_speed}")
        return self
