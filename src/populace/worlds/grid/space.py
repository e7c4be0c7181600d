"""The grid itself: cells, agent positions, vectorised movement with collisions, and views.

Every operation runs over whole arrays: a move of 100k agents, the k×k windows they see and
the messages they hear cost a handful of NumPy calls, never a Python loop per agent.

Collisions are resolved deterministically:

1. a move into a wall, a solid object (prey, box) or off the edge fails;
2. of several agents moving into the same cell, the lowest agent id wins;
3. a move into a cell held by an agent succeeds only if that agent leaves it this step (chains
   and rotations move together); two agents swapping cells both fail.
"""

from __future__ import annotations

import numpy as np

# Cell codes of the compact view encoding (uint8); ``GLYPHS[code]`` is its text rendering.
EMPTY, WALL, AGENT, AGENT_OFF, PREY, FOOD, NEST, BOX, GOAL, SELF = range(10)
GLYPHS = ".WAaPFNBG@"
_GLYPH_BYTES = np.frombuffer(GLYPHS.encode(), dtype=np.uint8)
CODE_NAMES = ("empty", "wall", "agent", "agent with light off", "prey", "food", "nest", "box", "goal", "you")

#: The five moves, in the order of the ``dir`` argument's choices.
DIRECTIONS = ("up", "down", "left", "right", "stay")
DX = np.asarray([0, 0, -1, 1, 0], dtype=np.int64)
DY = np.asarray([-1, 1, 0, 0, 0], dtype=np.int64)


def direction_index(names: np.ndarray) -> np.ndarray:
    """Direction names (valid choices) -> indices into :data:`DIRECTIONS`."""
    names = np.asarray(names)
    out = np.full(len(names), 4, dtype=np.int64)
    for i, name in enumerate(DIRECTIONS[:4]):
        out[names == name] = i
    return out


class Grid:
    """A ``width`` × ``height`` grid of cells holding agents (at most one per cell)."""

    def __init__(self, width: int, height: int, n_agents: int, *, walls: bool = True, wrap: bool = False) -> None:
        self.width, self.height, self.wrap = width, height, wrap
        self.terrain = np.zeros((height, width), dtype=np.uint8)
        if walls and not wrap:
            self.terrain[[0, -1], :] = WALL
            self.terrain[:, [0, -1]] = WALL
        self.x = np.zeros(n_agents, dtype=np.int64)
        self.y = np.zeros(n_agents, dtype=np.int64)
        self.occupant = np.full(height * width, -1, dtype=np.int64)  # flat cell -> agent id or -1

    @property
    def cells(self) -> np.ndarray:
        """Flat cell index of every agent."""
        return self.y * self.width + self.x

    def scatter(self, rng: np.random.Generator, free: np.ndarray, agents: np.ndarray | None = None) -> None:
        """Put unplaced ``agents`` (default: all) on distinct random cells where the flat mask ``free`` holds."""
        agents = np.arange(len(self.x)) if agents is None else agents
        candidates = np.flatnonzero(free & (self.occupant < 0))
        if len(candidates) < len(agents):
            raise ValueError(f"{len(agents)} agents do not fit in {len(candidates)} free cells")
        chosen = rng.choice(candidates, size=len(agents), replace=False)
        self.y[agents], self.x[agents] = np.divmod(chosen, self.width)
        self.occupant[chosen] = agents

    def step_cells(self, cells: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """The flat cell one move away from each of ``cells``, or -1 off the edge."""
        y, x = np.divmod(cells, self.width)
        nx, ny = x + dx, y + dy
        if self.wrap:
            return (ny % self.height) * self.width + nx % self.width
        inside = (nx >= 0) & (nx < self.width) & (ny >= 0) & (ny < self.height)
        return np.where(inside, ny * self.width + nx, -1)

    def move(self, agents: np.ndarray, direction: np.ndarray, solid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Move ``agents`` one cell in ``direction`` (indices into DIRECTIONS) where possible.

        ``solid`` is a flat mask of cells nobody may enter besides walls. Returns (moved, target):
        whether each agent moved, and the cell it tried (-1 for stay or off the edge).
        """
        stay = direction == 4
        source = self.cells[agents]
        target = self.step_cells(source, DX[direction], DY[direction])
        target[stay] = -1
        ok = target >= 0
        ok[ok] = (self.terrain.ravel()[target[ok]] != WALL) & ~solid[target[ok]]
        if not ok.any():
            return ok, target
        # of several movers into one cell, the lowest agent id wins
        claim = np.full(self.height * self.width, len(self.x), dtype=np.int64)
        np.minimum.at(claim, target[ok], agents[ok])
        ok[ok] = claim[target[ok]] == agents[ok]
        # a held cell frees up only if its occupant leaves (and is not swapping with the mover)
        n_all = len(self.x)
        leaving = np.zeros(n_all, dtype=bool)
        dest = np.full(n_all, -1, dtype=np.int64)
        while True:
            leaving[agents] = ok
            dest[agents] = np.where(ok, target, -1)
            occ = np.where(ok, self.occupant[np.maximum(target, 0)], -1)
            held = np.flatnonzero(occ >= 0)
            blocked = held[~leaving[occ[held]] | (dest[occ[held]] == source[held])]
            if len(blocked) == 0:
                break
            ok[blocked] = False
        self.occupant[source[ok]] = -1
        self.occupant[target[ok]] = agents[ok]
        self.y[agents[ok]], self.x[agents[ok]] = np.divmod(target[ok], self.width)
        return ok, target

    def padded(self, codes: np.ndarray, radius: int, fill: int) -> np.ndarray:
        """``codes`` (H×W) padded by ``radius`` cells: wrapped on a torus, else filled with ``fill``."""
        if self.wrap:
            return np.pad(codes, radius, mode="wrap")
        return np.pad(codes, radius, mode="constant", constant_values=fill)

    def windows(self, padded: np.ndarray, agents: np.ndarray, k: int) -> np.ndarray:
        """The k×k windows of ``padded`` (padded by k // 2) centred on ``agents``: shape (n, k, k)."""
        wide = padded.shape[1]
        offsets = (np.arange(k)[:, None] * wide + np.arange(k)[None, :]).ravel()
        corner = self.y[agents] * wide + self.x[agents]
        return np.take(padded.ravel(), corner[:, None] + offsets[None, :]).reshape(len(agents), k, k)

    def summed_area(self, values: np.ndarray, radius: int) -> np.ndarray:
        """Summed-area table of the H×W ``values`` padded by ``radius``, for :meth:`window_sum`."""
        table = np.zeros((self.height + 2 * radius + 1, self.width + 2 * radius + 1), dtype=np.float64)
        table[1:, 1:] = self.padded(values.astype(np.float64), radius, 0).cumsum(0).cumsum(1)
        return table

    @staticmethod
    def window_sum(table: np.ndarray, y: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
        """Sum over the k×k windows centred on cells (y, x), from a table padded by k // 2."""
        return table[y + k, x + k] - table[y, x + k] - table[y + k, x] + table[y, x]


def render(views: np.ndarray) -> np.ndarray:
    """Text rendering of (n, k, k) views: one string per agent, rows separated by newlines."""
    n, k, _ = views.shape
    chars = np.full((n, k, k + 1), ord("\n"), dtype=np.uint8)
    chars[:, :, :k] = _GLYPH_BYTES[views]
    chars[:, -1, -1] = 0  # NumPy drops trailing NULs: no newline after the last row
    return chars.reshape(n, k * (k + 1)).view(f"S{k * (k + 1)}")[:, 0].astype(f"U{k * (k + 1)}")
