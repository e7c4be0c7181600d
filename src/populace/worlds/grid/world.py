"""The ``grid`` world: SwarmBench's swarm tasks for rule-driven and language-model agents.

Agents on a ``width`` × ``height`` grid see a k×k window around themselves (k=5 by default), as
a compact code array (``view``) and as text (``view_text``); they move one cell up, down, left or
right (or stay), and may ``say`` an anonymous message of at most 120 characters that every agent
within the sender's view hears on the next step. The task (see :mod:`populace.worlds.grid.tasks`)
adds objects, dynamics and the score; the group metrics follow SwarmBench: directional entropy
of the moves, stillness, and homogeneity of the messages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

import numpy as np

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.embedding import HashingEncoder
from populace.errors import ScenarioError
from populace.events import Events
from populace.regions import REGIONS, RegionalWorld
from populace.world import Column, Handler, Observations, WorldConfig, worlds
from populace.worlds.grid.config import GridConfig
from populace.worlds.grid.space import DIRECTIONS, DX, DY, SELF, WALL, Grid, direction_index, render
from populace.worlds.grid.tasks import TASKS, Synchronization, Task

MESSAGE_LENGTH = 120

class GridWorld(RegionalWorld[GridConfig]):
    """SwarmBench's grid tasks. Partitioned, each region is an arena of its own (a separate grid,
    sized for its agents, with its own task objects): K episodes side by side, metrics averaged
    over arenas. One grid is never cut into tiles (agents would cross between workers)."""

    name = "grid"
    Config = GridConfig
    actions = ActionSpace(
        ActionSpec("move", {"dir": Arg.choice(*DIRECTIONS, description="where to move")},
                   "move one cell up, down, left or right, or stay"),
        ActionSpec("say", {"text": Arg.text(MESSAGE_LENGTH, description="the message")},
                   "send an anonymous message to every agent within your view"),
        ActionSpec("switch", {}, "flip your light (synchronization task only)"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "score": "the task's score (captures, synchronizations, deliveries, flock quality, box progress)",
        "directional_entropy": "entropy of this step's move directions, 0 (all alike) to 1 (uniform over 5)",
        "stillness": "share of agents that did not change cell this step",
        "message_homogeneity": "mean pairwise cosine similarity of this step's messages",
        "messages": "messages sent this step",
        "lights_on": "synchronization: share of lights on",
        "carrying": "foraging: share of agents carrying food",
        "alignment": "flocking: length of the mean move vector (1 = all moved the same way)",
        "spacing": "flocking: share of agents with another in view and none beside them",
        "box_distance": "transport: cells between the box and the goal",
        "delivered": "transport: 1 once the box is on the goal",
    }
    #: every column of every task; :meth:`observation_columns` picks those of one set-up
    observation = (
        Column("view_text", "text", "the view in glyphs, one row a line (with text: true)"),
        Column("messages", "text", "messages heard from agents in view last step, one a line"),
        Column("goal", "text", "the task's goal, in words (with text: true)"),
        *(column for task in TASKS.values() for column in task.observation),
        Column("x", "int64", "own column on the grid"),
        Column("y", "int64", "own row on the grid"),
        Column("view", "uint8", "the k x k window around one (codes: empty, wall, agent, agent with light off, "
                                "prey, food, nest, box, goal, you)", shape=(None, None)),
    )

    @classmethod
    def observation_columns(cls, config: WorldConfig) -> tuple[Column, ...]:
        assert isinstance(config, GridConfig)
        by_name = {column.name: column for column in cls.observation}
        text = [by_name[name] for name in ("view_text", "messages", "goal")] if config.text else []
        place = [by_name["x"], by_name["y"], replace(by_name["view"], shape=(config.view, config.view))]
        return (*text, *TASKS[config.task].observation, *place, *([] if config.text else [by_name["messages"]]))

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        cfg = self.config
        assert isinstance(cfg, GridConfig)
        n = self.n_agents
        # SwarmBench's 10 x 10 for up to 10 agents; beyond that its density (about 6 free cells each)
        side = 10 if n <= 10 else math.ceil(math.sqrt(6.4 * n)) + 2
        width = cfg.width or cfg.height or side
        height = cfg.height or width
        self.grid = Grid(width, height, n, walls=cfg.walls, wrap=cfg.wrap)
        self.task: Task = TASKS[cfg.task](self.grid, cfg, self.rng)
        try:
            self.grid.scatter(self.rng, self.task.start_cells())
        except ValueError as exc:
            raise ScenarioError(f"world.params: {exc} of a {width}x{height} {cfg.task} grid") from None
        self._new_step()
        self.inbox_to = np.zeros(0, dtype=np.int64)  # hearers of last step's messages, sorted
        self.inbox_text = np.zeros(0, dtype=object)  # what each heard, aligned with inbox_to
        self._stats = {"directional_entropy": 0.0, "stillness": 1.0, "message_homogeneity": 0.0, "messages": 0.0}

    def _new_step(self) -> None:
        n = self.n_agents
        self.displaced = np.zeros((n, 2), dtype=np.int64)
        self.moved = np.zeros(n, dtype=bool)  # took a move action this step (moved or not)
        self.switched = np.zeros(n, dtype=bool)
        self.directions = np.zeros(5, dtype=np.int64)
        self.said: list[tuple[np.ndarray, np.ndarray]] = []

    # -- observation -------------------------------------------------------------------------
    def cell_codes(self) -> np.ndarray:
        """The H×W grid as view codes: terrain, task objects, then agents."""
        codes = self.grid.terrain.ravel().copy()
        self.task.paint(codes)
        codes[self.grid.cells] = self.task.agent_codes()
        return codes.reshape(self.grid.height, self.grid.width)

    def observe(self, agent_ids: np.ndarray) -> Observations:
        cfg = self.config
        assert isinstance(cfg, GridConfig)
        k, r = cfg.view, cfg.view // 2
        views = self.grid.windows(self.grid.padded(self.cell_codes(), r, WALL), agent_ids, k)
        views[:, r, r] = SELF
        messages = _repeated(len(agent_ids), "")
        if len(self.inbox_to):  # a string join per agent who heard something, nothing for the rest
            first = np.searchsorted(self.inbox_to, agent_ids, "left")
            last = np.searchsorted(self.inbox_to, agent_ids, "right")
            for i in np.flatnonzero(last > first).tolist():
                messages[i] = "\n".join(str(t) for t in self.inbox_text[first[i]:last[i]])
        columns: dict[str, np.ndarray] = {}
        if cfg.text:  # text first: a mind's default note lists the first columns
            columns["view_text"] = render(views)
            columns["messages"] = messages
            columns["goal"] = _repeated(len(agent_ids), self.task.goal)
        columns.update(self.task.columns(agent_ids))
        columns.update({"x": self.grid.x[agent_ids], "y": self.grid.y[agent_ids], "view": views})
        if not cfg.text:
            columns["messages"] = messages
        return Observations(agent_ids, columns)

    # -- actions -----------------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"move": self._move, "say": self._say, "switch": self._switch}

    def _once(self, agents: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Which of ``agents`` act for the first time this step (duplicates in the batch included)."""
        first = np.zeros(len(agents), dtype=bool)
        first[np.unique(agents, return_index=True)[1]] = True
        return first & ~done[agents]

    def _move(self, actions: Actions) -> Events:
        first = self._once(actions.agents, self.moved)
        agents = actions.agents[first]
        direction = direction_index(actions.args["dir"][first])
        self.moved[agents] = True
        self.directions += np.bincount(direction, minlength=5)
        ok, target = self.grid.move(agents, direction, self.task.solid)
        blocked = ~ok & (direction != 4)
        if blocked.any():
            self.task.push(agents[blocked], direction[blocked], target[blocked])
        self.displaced[agents[ok], 0] += DX[direction[ok]]
        self.displaced[agents[ok], 1] += DY[direction[ok]]
        accepted = np.zeros(len(actions), dtype=bool)
        accepted[np.flatnonzero(first)] = ok | (direction == 4)
        reason = np.empty(len(actions), dtype=object)
        reason[:] = "the cell is blocked (wall, object, edge or another agent)"
        reason[~first] = "already moved this step"
        return Events.outcomes(actions, accepted, reason)

    def _say(self, actions: Actions) -> Events:
        self.said.append((actions.agents, actions.args["text"]))
        return Events.accepted(actions)

    def _switch(self, actions: Actions) -> Events:
        if not isinstance(self.task, Synchronization):
            return Events.rejected(actions, np.ones(len(actions), dtype=bool),
                                   f"there is no light to switch in the {self.task.name} task")
        first = self._once(actions.agents, self.switched)
        self.switched[actions.agents[first]] = True
        self.task.switch(actions.agents[first])
        return Events.outcomes(actions, first, "already switched this step")

    # -- dynamics ----------------------------------------------------------------------------
    def tick(self) -> list[Events]:
        events = self.task.tick(self.displaced)
        self._stats = {
            "directional_entropy": _entropy(self.directions),
            "stillness": float(np.mean(~self.displaced.any(axis=1))) if self.n_agents else 1.0,
            **self._deliver(),
        }
        self._new_step()
        return events

    def _deliver(self) -> dict[str, float]:
        """Messages said this step reach every other agent within the sender's view, next step."""
        self.inbox_to = np.zeros(0, dtype=np.int64)
        if not self.said:
            return {"message_homogeneity": 0.0, "messages": 0.0}
        senders = np.concatenate([a for a, _ in self.said])
        texts = np.concatenate([t for _, t in self.said])
        cfg = self.config
        assert isinstance(cfg, GridConfig)
        occupant = self.grid.padded(self.grid.occupant.reshape(self.grid.height, self.grid.width), cfg.view // 2, -1)
        hearers = self.grid.windows(occupant, senders, cfg.view).reshape(-1)
        message = np.repeat(np.arange(len(senders)), cfg.view * cfg.view)
        heard = (hearers >= 0) & (hearers != senders[message])
        order = np.lexsort((message[heard], hearers[heard]))  # by hearer, then in the order said
        self.inbox_to = hearers[heard][order]
        self.inbox_text = texts[message[heard][order]]
        return {"message_homogeneity": _homogeneity(texts), "messages": float(len(texts))}

    def tallies(self) -> dict[str, float]:
        return {**self.task.metrics(), **self._stats}

    @classmethod
    def metrics_of(cls, tallies: Mapping[str, float]) -> dict[str, float]:
        """Each metric averaged over arenas (a whole grid is one arena)."""
        arenas = tallies[REGIONS]
        return {name: value / arenas for name, value in tallies.items() if name != REGIONS}


def _repeated(n: int, value: object) -> np.ndarray:
    """An object array of ``n`` references to one value (no per-row copies)."""
    out = np.empty(n, dtype=object)
    out[:] = value
    return out


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return min(1.0, float(-(p * np.log(p)).sum() / np.log(len(counts))) + 0.0)  # + 0.0: no negative zero


def _homogeneity(texts: np.ndarray, most: int = 1000) -> float:
    """Mean pairwise cosine similarity of the messages (of an evenly spaced ``most`` of them)."""
    if len(texts) > most:
        texts = texts[np.linspace(0, len(texts) - 1, most).astype(np.int64)]
    n = len(texts)
    if n < 2:
        return 0.0
    vectors = HashingEncoder(128).encode([str(t) for t in texts]).astype(np.float64)
    total = vectors.sum(axis=0)
    # sum over pairs i != j of v_i . v_j, without the n x n matrix
    return float((total @ total - (vectors * vectors).sum()) / (n * (n - 1)))


worlds.add("grid", GridWorld)
