"""Rules policies for the grid tasks, vectorised over the observed agents' views.

Every policy sees only what the world hands it (the k×k view and the task's columns), like a
SwarmBench agent. ``random_walk`` is the baseline; the others are simple local strategies that
solve their task far better than chance, so scenarios run and can be tested without a model.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from populace.actions import Actions
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Observations
from populace.worlds.grid.space import AGENT, AGENT_OFF, BOX, DIRECTIONS, FOOD, NEST, PREY

_NAMES = np.asarray(DIRECTIONS)  # a NumPy string array: validated without a per-agent loop
_DX = np.asarray([0, 0, -1, 1, 0])
_DY = np.asarray([-1, 1, 0, 0, 0])


def _random(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 5, n)


def nearest(views: np.ndarray, *codes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offset (seen, dx, dy) from each view's centre to the nearest cell holding one of ``codes``."""
    n, k, _ = views.shape
    r = k // 2
    offsets = np.arange(k) - r
    distance = (np.abs(offsets)[:, None] + np.abs(offsets)[None, :]).astype(np.float64)
    masked = np.where(np.isin(views, codes), distance[None], np.inf).reshape(n, k * k)
    best = masked.argmin(axis=1)
    seen = np.isfinite(masked[np.arange(n), best])
    dy, dx = np.divmod(best, k)
    return seen, dx - r, dy - r


def toward(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """The direction index that reduces the larger of |dx|, |dy| (stay when both are 0)."""
    horizontal = np.abs(dx) >= np.abs(dy)
    out = np.where(horizontal, np.where(dx < 0, 2, 3), np.where(dy < 0, 0, 1))
    return np.where((dx == 0) & (dy == 0), 4, out)


def _moves(obs: Observations, direction: np.ndarray) -> list[Actions]:
    return [Actions("move", obs.agents, {"dir": _NAMES[direction]})]


class ChatterParams(PolicyParams):
    say: float = Field(0.0, ge=0, le=1, description="share of agents that send a message each step")
    text: str = Field("here", description="the message (cut to 120 characters)")


class FlockParams(PolicyParams):
    noise: float = Field(0.1, ge=0, le=1, description="share of agents moving at random each step")


class PushParams(PolicyParams):
    jitter: float = Field(0.2, ge=0, le=1, description="share of agents moving at random each step")


def _chatter(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Optional messages: a share ``say`` of agents sends ``text`` (default "here")."""
    prm = mind.settings(ChatterParams)
    share = prm.say
    if share <= 0:
        return []
    speakers = obs.agents[mind.rng.random(len(obs)) < share]
    text = prm.text[:120]
    return [Actions("say", speakers, {"text": np.full(len(speakers), text, dtype=object)})]


@policy("swarm_random_walk", ChatterParams)
def random_walk(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Each agent moves in a uniformly random direction (or stays); optionally says ``text``."""
    return _moves(obs, _random(len(obs), mind.rng)) + _chatter(obs, mind)


@policy("swarm_greedy_chase", ChatterParams, reads=("view",))
def greedy_chase(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Step towards one side of the nearest prey in view (agent id mod 4 picks which); else wander."""
    seen, dx, dy = nearest(obs["view"], PREY)
    side = obs.agents % 4
    dx = dx + np.asarray([0, 0, -1, 1])[side]
    dy = dy + np.asarray([-1, 1, 0, 0])[side]
    direction = np.where(seen, toward(dx, dy), _random(len(obs), mind.rng))
    return _moves(obs, direction) + _chatter(obs, mind)


@policy("swarm_forage", reads=("view", "carrying"))
def forage(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Head for food in view when empty-handed, for the nest when carrying; wander otherwise."""
    views, carrying = obs["view"], obs["carrying"]
    food_seen, fdx, fdy = nearest(views, FOOD)
    nest_seen, ndx, ndy = nearest(views, NEST)
    seen = np.where(carrying, nest_seen, food_seen)
    direction = toward(np.where(carrying, ndx, fdx), np.where(carrying, ndy, fdy))
    on_target = seen & (direction == 4)  # already there: the tick picks up or delivers; move on
    wander = _random(len(obs), mind.rng)
    return _moves(obs, np.where(seen & ~on_target, direction, wander))


@policy("swarm_sync_majority", reads=("view", "light"))
def sync_majority(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Wander, and switch every step except when most lights in view differ from one's own.

    Everyone who switches each step keeps their phase; a minority agent that skips one switch
    joins the local majority's phase, so majorities spread until all lights alternate together.
    """
    views, light = obs["view"], obs["light"]
    on = (views == AGENT).sum(axis=(1, 2))
    off = (views == AGENT_OFF).sum(axis=(1, 2))
    wait = np.where(light, off, on) > np.where(light, on, off)
    return [Actions("switch", obs.agents[~wait], {}), *_moves(obs, _random(len(obs), mind.rng))]


@policy("swarm_flock", FlockParams, reads=("flow_dx", "flow_dy", "heading_dx", "heading_dy"))
def flock(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Vicsek-style: follow the summed heading of the agents in view, else keep one's own.

    ``noise`` (default 0.1) is the share of agents moving at random each step.
    """
    fdx, fdy = obs["flow_dx"], obs["flow_dy"]
    hdx, hdy = obs["heading_dx"], obs["heading_dy"]
    follow = (fdx != 0) | (fdy != 0)
    keep = (hdx != 0) | (hdy != 0)
    direction = np.where(follow, toward(fdx, fdy), np.where(keep, toward(hdx, hdy), _random(len(obs), mind.rng)))
    noisy = mind.rng.random(len(obs)) < mind.settings(FlockParams).noise
    direction = np.where(noisy, _random(len(obs), mind.rng), direction)
    return _moves(obs, direction)


@policy("swarm_push", PushParams, reads=("view", "goal_dx", "goal_dy"))
def push(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Take a free cell behind the box (opposite the goal) and push it goalwards; wander until it is seen."""
    views = obs["view"]
    n, k, _ = views.shape
    r = k // 2
    rows = np.arange(n)
    push_dir = toward(obs["goal_dx"], obs["goal_dy"])  # the way the box must go
    px, py = _DX[push_dir], _DY[push_dir]
    ahead = views[rows, r + py, r + px]
    # behind cells: free cells whose neighbour in the push direction is box
    padded = np.pad(views, ((0, 0), (1, 1), (1, 1)), constant_values=0)
    yy, xx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    front = padded[rows[:, None, None], yy[None] + 1 + py[:, None, None], xx[None] + 1 + px[:, None, None]]
    behind = np.isin(views, (0, 5, 6, 8)) & (front == BOX)
    offsets = np.abs(yy - r) + np.abs(xx - r)
    masked = np.where(behind, offsets[None], np.inf).reshape(n, k * k)
    best = masked.argmin(axis=1)
    seen = np.isfinite(masked[rows, best])
    ty, tx = np.divmod(best, k)
    direction = toward(tx - r, ty - r)
    step_into = views[rows, r + _DY[direction], r + _DX[direction]]
    other_axis = np.where(np.isin(direction, (0, 1)), toward(tx - r, np.zeros(n, np.int64)),
                          toward(np.zeros(n, np.int64), ty - r))
    direction = np.where(np.isin(step_into, (BOX, AGENT)), other_axis, direction)
    jitter = mind.rng.random(n) < mind.settings(PushParams).jitter
    direction = np.where(seen & ~jitter, direction, _random(n, mind.rng))
    direction = np.where((ahead == BOX) & (push_dir != 4), push_dir, direction)
    return _moves(obs, direction)
