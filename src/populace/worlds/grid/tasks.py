"""SwarmBench's five tasks on the grid: Pursuit, Synchronization, Foraging, Flocking, Transport.

After Ruan et al., "Benchmarking LLMs' Swarm intelligence" (SwarmBench, arXiv:2505.04364). A task
places its objects, says which cells are solid, draws itself into the view, runs its own
dynamics once per step (the prey flees, food is picked up, the box is pushed) and keeps the
score. Everything is vectorised over agents; only the few prey are handled in small arrays.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from populace.events import Events
from populace.world import Column
from populace.worlds.grid.config import GridConfig
from populace.worlds.grid.space import AGENT, AGENT_OFF, BOX, DX, DY, FOOD, GOAL, NEST, PREY, WALL, Grid


class Task:
    """Base of a grid task: no objects, no score."""

    name: ClassVar[str] = ""
    goal: ClassVar[str] = ""
    #: the columns :meth:`columns` adds to the observation
    observation: ClassVar[tuple[Column, ...]] = ()

    def __init__(self, grid: Grid, config: GridConfig, rng: np.random.Generator) -> None:
        self.grid, self.config, self.rng = grid, config, rng
        self.n = len(grid.x)
        self.solid = np.zeros(grid.height * grid.width, dtype=bool)  # cells agents cannot enter
        self.score = 0.0

    def start_cells(self) -> np.ndarray:
        """Flat mask of the cells where agents may start (after objects are placed)."""
        return (self.grid.terrain.ravel() == 0) & ~self.solid

    def paint(self, codes: np.ndarray) -> None:
        """Draw the task's objects into the flat cell codes (before agents are drawn)."""

    def agent_codes(self) -> np.ndarray | int:
        """The code each agent shows in others' views."""
        return AGENT

    def push(self, agents: np.ndarray, direction: np.ndarray, target: np.ndarray) -> None:
        """Moves that ran into a solid cell this step (the transport task counts them as pushes)."""

    def tick(self, displaced: np.ndarray) -> list[Events]:
        """The task's dynamics after the agents moved; ``displaced`` is each agent's (dx, dy)."""
        return []

    def columns(self, agents: np.ndarray) -> dict[str, np.ndarray]:
        """Task state the observing agents perceive."""
        return {}

    def metrics(self) -> dict[str, float]:
        return {"score": float(self.score)}


class Pursuit(Task):
    """Corner a prey that moves two cells a step; caught when its four sides are blocked."""

    name = "pursuit"
    goal = ("A prey (P) flees two cells per step. Catch it by blocking its four sides with agents (A) or "
            "walls (W); a new prey then appears. Each catch scores one point.")

    def __init__(self, grid: Grid, config: GridConfig, rng: np.random.Generator) -> None:
        super().__init__(grid, config, rng)
        g = grid
        quadrant = np.zeros((g.height, g.width), dtype=bool)  # prey start far from the agents
        quadrant[g.height // 2:, g.width // 2:] = True
        free = np.flatnonzero((g.terrain.ravel() == 0) & quadrant.ravel())
        self.prey = rng.choice(free, size=min(config.prey, len(free)), replace=False).astype(np.int64)
        self.solid[self.prey] = True
        self.captures = 0

    def start_cells(self) -> np.ndarray:
        g = self.grid
        region = np.zeros((g.height, g.width), dtype=bool)
        region[: max(g.height // 2, 5), : max(g.width // 2, 5)] = True
        free = super().start_cells()
        corner = free & region.ravel()
        return corner if corner.sum() >= self.n else free  # too many agents for one corner: anywhere

    def paint(self, codes: np.ndarray) -> None:
        codes[self.prey] = PREY

    def _blocked(self, cells: np.ndarray) -> np.ndarray:
        g = self.grid
        safe = np.maximum(cells, 0)
        return (cells < 0) | (g.terrain.ravel()[safe] == WALL) | (g.occupant[safe] >= 0) | self.solid[safe]

    def _danger(self, cells: np.ndarray) -> np.ndarray:
        """Agents plus 0.9 × walls in the 9×9 window around each cell (SwarmBench's prey heuristic)."""
        g = self.grid
        values = (g.occupant >= 0).reshape(g.height, g.width) + 0.9 * (g.terrain == WALL)
        table = g.summed_area(values, 4)
        y, x = np.divmod(cells, g.width)
        return g.window_sum(table, y, x, 9)

    def tick(self, displaced: np.ndarray) -> list[Events]:
        g = self.grid
        sides = np.stack([g.step_cells(self.prey, np.full(len(self.prey), DX[d]), np.full(len(self.prey), DY[d]))
                          for d in range(4)])
        caught = self._blocked(sides).all(axis=0)
        events: list[Events] = []
        if caught.any():
            where = self.prey[caught]
            self.captures += int(caught.sum())
            self.score = float(self.captures)
            self.solid[where] = False
            for i in np.flatnonzero(caught):  # respawn where the fewest agents are (a few prey at most)
                free = np.flatnonzero((g.terrain.ravel() == 0) & (g.occupant < 0) & ~self.solid)
                sample = self.rng.choice(free, size=min(64, len(free)), replace=False)
                self.prey[i] = sample[np.argmin(self._danger(sample))]
                self.solid[self.prey[i]] = True
            events.append(Events.world("capture", np.full(len(where), -1), cell=where))
        fleeing = np.flatnonzero(~caught)
        for _ in range(self.config.prey_speed // 2):
            self._flee(fleeing)
        return events

    def _flee(self, which: np.ndarray) -> None:
        """Each prey takes the two-cell move (of 16) that most lowers its danger, if any does."""
        if len(which) == 0:
            return
        g = self.grid
        here = self.prey[which]
        d1, d2 = np.divmod(np.arange(16), 4)
        mid = g.step_cells(np.repeat(here, 16), np.tile(DX[d1], len(here)), np.tile(DY[d1], len(here)))
        end = g.step_cells(np.maximum(mid, 0), np.tile(DX[d2], len(here)), np.tile(DY[d2], len(here)))
        end[mid < 0] = -1
        self.solid[here] = False
        ok = ~self._blocked(mid) & ~self._blocked(end)
        self.solid[here] = True
        danger = np.where(ok, self._danger(np.maximum(end, 0)), np.inf).reshape(len(here), 16)
        best = danger.argmin(axis=1)
        better = danger[np.arange(len(here)), best] < self._danger(here)
        chosen = end.reshape(len(here), 16)[np.arange(len(here)), best]
        for j in np.flatnonzero(better):  # lower-index prey claims a cell first
            if not self.solid[chosen[j]]:
                self.solid[self.prey[which[j]]] = False
                self.prey[which[j]] = chosen[j]
                self.solid[chosen[j]] = True

    def metrics(self) -> dict[str, float]:
        return {"score": float(self.captures)}


class Synchronization(Task):
    """Every agent has a light; score a point each time all lights agree, on and off in turn."""

    name = "synchronization"
    goal = ("Each agent has a light, on (A) or off (a). Use SWITCH to flip yours. A point is scored each "
            "time all lights agree, and the next point needs them all to agree on the opposite state.")
    observation = (Column("light", "bool", "own light is on"),)

    def __init__(self, grid: Grid, config: GridConfig, rng: np.random.Generator) -> None:
        super().__init__(grid, config, rng)
        self.light = rng.random(self.n) < 0.5
        self.last_agreed = -1  # 1 all on, 0 all off, -1 never

    def agent_codes(self) -> np.ndarray:
        return np.where(self.light, AGENT, AGENT_OFF).astype(np.uint8)

    def switch(self, agents: np.ndarray) -> None:
        self.light[agents] = ~self.light[agents]

    def tick(self, displaced: np.ndarray) -> list[Events]:
        on = int(self.light.sum())
        state = 1 if on == self.n else 0 if on == 0 else -1
        if state >= 0 and state != self.last_agreed:
            self.last_agreed = state
            self.score += 1
            return [Events.world("synchronized", None, light=bool(state))]
        return []

    def columns(self, agents: np.ndarray) -> dict[str, np.ndarray]:
        return {"light": self.light[agents]}

    def metrics(self) -> dict[str, float]:
        return {"score": self.score, "lights_on": float(self.light.mean()) if self.n else 0.0}


class Foraging(Task):
    """Carry food from the food patch (F) to the nest (N) at the opposite corner."""

    name = "foraging"
    goal = ("Find the food (F), step on it to pick up one unit, and carry it to the nest (N). "
            "Each delivery scores one point.")
    observation = (Column("carrying", "bool", "carrying a unit of food"),)

    def __init__(self, grid: Grid, config: GridConfig, rng: np.random.Generator) -> None:
        super().__init__(grid, config, rng)
        g, p = grid, config.patch
        corners = [(1, 1), (1, g.width - 1 - p), (g.height - 1 - p, 1), (g.height - 1 - p, g.width - 1 - p)]
        pick = int(rng.integers(4))
        fy, fx = corners[pick]
        ny, nx = corners[3 - pick]
        self.terrain = np.zeros((g.height, g.width), dtype=np.uint8)
        self.terrain[fy:fy + p, fx:fx + p] = FOOD
        self.terrain[ny:ny + p, nx:nx + p] = NEST
        self.food = self.terrain.ravel() == FOOD
        self.nest = self.terrain.ravel() == NEST
        self.carrying = np.zeros(self.n, dtype=bool)
        self.delivered = 0

    def start_cells(self) -> np.ndarray:
        return super().start_cells() & ~self.food & ~self.nest

    def paint(self, codes: np.ndarray) -> None:
        codes[self.food] = FOOD
        codes[self.nest] = NEST

    def tick(self, displaced: np.ndarray) -> list[Events]:
        cells = self.grid.cells
        pick = np.flatnonzero(~self.carrying & self.food[cells])
        drop = np.flatnonzero(self.carrying & self.nest[cells])
        self.carrying[pick] = True
        self.carrying[drop] = False
        self.delivered += len(drop)
        self.score = float(self.delivered)
        events = []
        if len(pick):
            events.append(Events.world("pick_up", pick))
        if len(drop):
            events.append(Events.world("deliver", drop))
        return events

    def columns(self, agents: np.ndarray) -> dict[str, np.ndarray]:
        return {"carrying": self.carrying[agents]}

    def metrics(self) -> dict[str, float]:
        return {"score": self.score, "carrying": float(self.carrying.mean()) if self.n else 0.0}


class Flocking(Task):
    """Move as one flock: aligned headings, every agent near others but none adjacent."""

    name = "flocking"
    goal = ("Move together as a flock: head the same way as the agents you see, stay within sight of "
            "others, and keep one free cell between you and any other agent.")
    observation = (
        Column("flow_dx", "float64", "summed x moves of the others in view last step"),
        Column("flow_dy", "float64", "summed y moves of the others in view last step"),
        Column("heading_dx", "int64", "own x move last step"),
        Column("heading_dy", "int64", "own y move last step"),
    )

    def __init__(self, grid: Grid, config: GridConfig, rng: np.random.Generator) -> None:
        super().__init__(grid, config, rng)
        self.displaced = np.zeros((self.n, 2), dtype=np.int64)
        self.alignment = self.spacing = 0.0
        self.steps = 0

    def tick(self, displaced: np.ndarray) -> list[Events]:
        g = self.grid
        self.displaced = displaced
        self.alignment = float(np.hypot(*displaced.sum(axis=0)) / max(self.n, 1))
        occupied = (g.occupant >= 0).reshape(g.height, g.width).astype(np.float64)
        in_view = g.window_sum(g.summed_area(occupied, self.config.view // 2), g.y, g.x, self.config.view) - 1
        sides = np.stack([g.step_cells(g.cells, np.full(self.n, DX[d]), np.full(self.n, DY[d])) for d in range(4)])
        adjacent = ((sides >= 0) & (g.occupant[np.maximum(sides, 0)] >= 0)).any(axis=0)
        self.spacing = float(np.mean((in_view > 0) & ~adjacent)) if self.n else 0.0
        self.steps += 1
        self.score += (self.alignment * self.spacing - self.score) / self.steps  # running mean quality
        return []

    def columns(self, agents: np.ndarray) -> dict[str, np.ndarray]:
        g, k = self.grid, self.config.view
        flow = []
        for axis in range(2):
            values = np.zeros(g.height * g.width)
            values[g.cells] = self.displaced[:, axis]
            table = g.summed_area(values.reshape(g.height, g.width), k // 2)
            flow.append(g.window_sum(table, g.y[agents], g.x[agents], k) - self.displaced[agents, axis])
        return {"flow_dx": flow[0], "flow_dy": flow[1],
                "heading_dx": self.displaced[agents, 0], "heading_dy": self.displaced[agents, 1]}

    def metrics(self) -> dict[str, float]:
        return {"score": self.score, "alignment": self.alignment, "spacing": self.spacing}


class Transport(Task):
    """Push a large box (B) onto the goal (G); it moves only when enough agents push one way."""

    name = "transport"
    goal = ("A heavy box (B) must be pushed onto the goal (G). Move into the box to push it; it moves one "
            "cell only when enough agents push the same way at once.")
    observation = (
        Column("goal_dx", "int64", "cells from the box to the goal across"),
        Column("goal_dy", "int64", "cells from the box to the goal down"),
    )

    def __init__(self, grid: Grid, config: GridConfig, rng: np.random.Generator) -> None:
        super().__init__(grid, config, rng)
        g, b = grid, config.box
        self.by = (g.height - b) // 2 + int(rng.integers(-1, 2))
        self.bx = (g.width - b) // 2 + int(rng.integers(-1, 2))
        side = int(rng.integers(4))  # the goal sits against one wall
        self.gy = [1, g.height - 1 - b, self.by, self.by][side]
        self.gx = [self.bx, self.bx, 1, g.width - 1 - b][side]
        self.goal_cells = np.zeros((g.height, g.width), dtype=bool)
        self.goal_cells[self.gy:self.gy + b, self.gx:self.gx + b] = True
        self._place_box()
        self.start_distance = self.distance()
        self.best = 0.0
        self.pushes = np.zeros(4, dtype=np.int64)

    def _box_mask(self, by: int, bx: int) -> np.ndarray:
        g, b = self.grid, self.config.box
        mask = np.zeros((g.height, g.width), dtype=bool)
        mask[max(by, 0):by + b, max(bx, 0):bx + b] = True
        return mask.ravel()

    def _place_box(self) -> None:
        self.solid = self._box_mask(self.by, self.bx)

    def distance(self) -> int:
        return abs(self.by - self.gy) + abs(self.bx - self.gx)

    def paint(self, codes: np.ndarray) -> None:
        codes[self.goal_cells.ravel()] = GOAL
        codes[self.solid] = BOX

    def push(self, agents: np.ndarray, direction: np.ndarray, target: np.ndarray) -> None:
        on_box = (target >= 0) & self.solid[np.maximum(target, 0)]
        self.pushes += np.bincount(direction[on_box], minlength=5)[:4]

    def tick(self, displaced: np.ndarray) -> list[Events]:
        pushes, self.pushes = self.pushes, np.zeros(4, dtype=np.int64)
        d = int(pushes.argmax())
        if pushes[d] < self.config.push_needed or self.distance() == 0:
            return []
        g, b = self.grid, self.config.box
        ny, nx = self.by + int(DY[d]), self.bx + int(DX[d])
        if ny < 0 or nx < 0 or ny + b > g.height or nx + b > g.width:
            return []
        new = self._box_mask(ny, nx)
        entering = new & ~self.solid
        if (g.terrain.ravel()[entering] == WALL).any() or (g.occupant[entering] >= 0).any():
            return []
        self.by, self.bx = ny, nx
        self._place_box()
        self.best = max(self.best, float(self.start_distance - self.distance()))
        self.score = self.best
        return [Events.world("box_moved", None, dx=int(DX[d]), dy=int(DY[d]), distance=self.distance())]

    def columns(self, agents: np.ndarray) -> dict[str, np.ndarray]:
        m = len(agents)
        return {"goal_dx": np.full(m, self.gx - self.bx), "goal_dy": np.full(m, self.gy - self.by)}

    def metrics(self) -> dict[str, float]:
        return {"score": self.score, "box_distance": float(self.distance()),
                "delivered": float(self.distance() == 0)}


TASKS: dict[str, type[Task]] = {t.name: t for t in (Pursuit, Synchronization, Foraging, Flocking, Transport)}
