"""Any populace world as a PettingZoo Parallel environment, for reinforcement-learning code.

    from populace import Population
    from populace.adapters.pettingzoo import WorldParallelEnv
    from populace.worlds.games.matrix import MatrixGameWorld

    env = WorldParallelEnv(MatrixGameWorld(Population(size=2)), reward="score", max_steps=10)
    observations, infos = env.reset(seed=0)
    observations, rewards, terminations, truncations, infos = env.step({"agent_0": 0, "agent_1": 1})

Nothing here is specific to one world. Agents are the strings ``agent_<id>``. The action space is
derived from the world's :class:`~populace.actions.ActionSpace`: when every argument has finitely
many values (a choice, a boolean, a bounded integer, an agent) each (action, arguments) combination
is one index of a ``Discrete`` space; otherwise it is a ``Dict`` space with the action's index under
``"action"`` and each argument under ``"<action>.<argument>"``. Actions with a free-text argument
are left out unless ``fixed_args`` gives that argument a value. The observation is a ``Box`` of the
world's numeric observation columns (all of them, or ``columns``; a column of per-agent arrays,
such as a k×k view, is flattened; NaN reads 0); the text columns
come in each agent's ``info["text"]`` (unless ``text_info=False``, for large worlds). The columns
and their widths come from the world's declared observation (:attr:`~populace.world.World.observation`);
a world that declares none is reset and observed once to find them. The reward
is the per-step increase of a numeric observation column (``reward="score"``) or whatever a
callable returns.

PettingZoo and Gymnasium are optional: importing this module without them raises one clear error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

try:
    from gymnasium import spaces
    from pettingzoo import ParallelEnv
except ImportError as exc:  # pragma: no cover - exercised only without the optional packages
    raise ImportError(
        "populace.adapters.pettingzoo needs the optional packages pettingzoo and gymnasium: "
        "pip install 'pettingzoo>=1.24' 'gymnasium>=0.28'"
    ) from exc

from populace.actions import Actions, ActionSpec, Arg
from populace.events import REJECTED
from populace.world import World

Reward = Callable[[World, np.ndarray], np.ndarray]
ActionChoice = tuple[str, dict[str, Any]]


def _values(arg: Arg, n_agents: int, limit: int) -> list[Any] | None:
    """Every value an argument can take, or None if there are too many (or infinitely many)."""
    if arg.kind == "choice":
        return list(arg.choices)
    if arg.kind == "bool":
        return [False, True]
    if arg.kind == "agent":
        return list(range(n_agents)) if n_agents <= limit else None
    if arg.kind == "int" and arg.ge is not None and arg.le is not None and arg.le - arg.ge < limit:
        return list(range(int(np.ceil(arg.ge)), int(np.floor(arg.le)) + 1))
    return None


def _arg_space(arg: Arg, n_agents: int) -> spaces.Space[Any]:
    values = _values(arg, n_agents, 1 << 20)
    if values is not None:
        return spaces.Discrete(len(values))
    low = -np.inf if arg.ge is None else arg.ge
    high = np.inf if arg.le is None else arg.le
    return spaces.Box(low, high, shape=(), dtype=np.float64)


class WorldParallelEnv(ParallelEnv):
    """A populace :class:`~populace.world.World` behind PettingZoo's Parallel API."""

    def __init__(
        self, world: World, *, reward: str | Reward | None = None, max_steps: int | None = None,
        done: Callable[[World], bool] | None = None, columns: Sequence[str] | None = None,
        actions: Sequence[str] | None = None, fixed_args: Mapping[str, Any] | None = None,
        max_discrete: int = 4096, text_info: bool = True,
    ) -> None:
        self.world = world
        self.reward = reward
        self.max_steps = max_steps
        self.done = done
        self.fixed_args = dict(fixed_args or {})
        self.metadata = {"name": f"populace_{world.name}_v0", "render_modes": []}
        self.render_mode = None
        ids = np.arange(world.n_agents, dtype=np.int64)
        self.possible_agents = [f"agent_{i}" for i in ids]
        self.agents: list[str] = []
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        self._seeds = np.random.SeedSequence()
        self._specs = [spec for spec in world.action_space
                       if (actions is None or spec.name in actions) and self._controllable(spec)]
        if not self._specs:
            raise ValueError(f"world {world.name!r} has no action an RL agent can take "
                             "(give text arguments a value with fixed_args)")
        self._table = self._enumerate(max_discrete)
        action_space: spaces.Space[Any]
        if self._table is not None:
            action_space = spaces.Discrete(len(self._table))
        else:
            parts: dict[str, spaces.Space[Any]] = {"action": spaces.Discrete(len(self._specs))}
            for spec in self._specs:
                for name, arg in spec.args.items():
                    if name not in self.fixed_args:
                        parts[f"{spec.name}.{name}"] = _arg_space(arg, world.n_agents)
            action_space = spaces.Dict(parts)
        found = self._declared_columns(columns, text_info) or self._probed_columns(columns, text_info)
        self.columns, self.text_columns, width = found
        observation_space = spaces.Box(-np.inf, np.inf, shape=(width,), dtype=np.float32)
        self._action_spaces = {a: action_space for a in self.possible_agents}
        self._observation_spaces = {a: observation_space for a in self.possible_agents}
        self._last_reward_column: np.ndarray | None = None

    # -- spaces ------------------------------------------------------------------------------
    def _declared_columns(self, columns: Sequence[str] | None,
                          text_info: bool) -> tuple[list[str], list[str], int] | None:
        """(numeric columns, text columns, features per agent) from the world's declared observation;
        None where it declares none, ``columns`` names one it does not declare, or a length is open."""
        declared = {c.name: c for c in type(self.world).observation_columns(self.world.config)}
        chosen = list(columns) if columns is not None else [name for name, c in declared.items() if c.numeric]
        if not declared or any(name not in declared or None in declared[name].shape for name in chosen):
            return None
        text = [name for name, c in declared.items() if text_info and not c.numeric]
        return chosen, text, sum(math.prod(d for d in declared[name].shape if d is not None) for name in chosen)

    def _probed_columns(self, columns: Sequence[str] | None, text_info: bool) -> tuple[list[str], list[str], int]:
        """The same found by resetting the world and observing every agent once."""
        ids = np.arange(self.world.n_agents, dtype=np.int64)
        self.world.reset(0)
        self.world.set_clock(0, None)
        probe = self.world.observe(ids)
        self.columns = list(columns) if columns is not None else [
            k for k, v in probe.columns.items() if np.asarray(v).dtype.kind in "biuf"
        ]
        text = [k for k, v in probe.columns.items() if text_info and np.asarray(v).dtype.kind not in "biuf"]
        return self.columns, text, self._features(probe.columns, len(ids)).shape[1]

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._action_spaces[agent]

    def _controllable(self, spec: ActionSpec) -> bool:
        return all(arg.kind != "str" or name in self.fixed_args for name, arg in spec.args.items())

    def _enumerate(self, limit: int) -> list[ActionChoice] | None:
        table: list[ActionChoice] = []
        for spec in self._specs:
            free = [name for name in spec.args if name not in self.fixed_args]
            choices = [_values(spec.args[name], self.world.n_agents, limit) for name in free]
            if any(c is None for c in choices):
                return None
            for combo in itertools.product(*(c for c in choices if c is not None)):
                table.append((spec.name, dict(zip(free, combo, strict=True))))
                if len(table) > limit:
                    return None
        return table

    def decode(self, action: Any) -> ActionChoice:
        """The (action name, arguments) an element of the action space stands for."""
        if self._table is not None:
            return self._table[int(action)]
        spec = self._specs[int(action["action"])]
        args: dict[str, Any] = {}
        for name, arg in spec.args.items():
            if name in self.fixed_args:
                continue
            value = action[f"{spec.name}.{name}"]
            values = _values(arg, self.world.n_agents, 1 << 20)
            args[name] = values[int(value)] if values is not None else float(np.asarray(value))
        return spec.name, args

    # -- the Parallel API --------------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if seed is not None:
            self._seeds = np.random.SeedSequence(seed)
        (child,) = self._seeds.spawn(1)
        self.world.reset(child)
        self.world.set_clock(0, None)
        self.steps = 0
        self.agents = list(self.possible_agents)
        self._last_reward_column = None
        observations, infos, _ = self._observe({})
        return observations, infos

    def step(self, actions: Mapping[str, Any]) -> tuple[
        dict[str, Any], dict[str, float], dict[str, bool], dict[str, bool], dict[str, Any]
    ]:
        records = []
        for agent, action in actions.items():
            if agent in self._index and agent in self.agents:
                name, args = self.decode(action)
                fixed = {k: v for k, v in self.fixed_args.items() if k in self.world.action_space[name].args}
                records.append((self._index[agent], name, {**args, **fixed}, None))
        rejected: dict[str, str] = {}
        for events in self.world.apply(Actions.from_records(records)) + self.world.tick():
            if events.reason is None:
                continue
            for agent, outcome, reason in zip(events.agents, events.outcome, events.reason, strict=True):
                if outcome == REJECTED and agent >= 0:
                    rejected[self.possible_agents[agent]] = str(reason)
        self.steps += 1
        self.world.set_clock(self.steps, None)
        observations, infos, rewards = self._observe(rejected)
        ended = self.done is not None and self.done(self.world)
        out_of_time = self.max_steps is not None and self.steps >= self.max_steps
        terminations = dict.fromkeys(self.agents, bool(ended))
        truncations = dict.fromkeys(self.agents, bool(out_of_time and not ended))
        if ended or out_of_time:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def _observe(self, rejected: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
        ids = np.asarray([self._index[a] for a in self.agents], dtype=np.int64)
        obs = self.world.observe(ids)
        matrix = self._features(obs.columns, len(ids))
        rewards = self._rewards(ids, obs.columns)
        observations: dict[str, Any] = {}
        infos: dict[str, dict[str, Any]] = {}
        reward_of: dict[str, float] = {}
        for i, agent in enumerate(self.agents):
            observations[agent] = matrix[i]
            infos[agent] = {"text": {c: obs[c][i] for c in self.text_columns}}
            if agent in rejected:
                infos[agent]["rejected"] = rejected[agent]
            reward_of[agent] = float(rewards[i])
        return observations, infos, reward_of

    def _features(self, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """The numeric columns side by side, one row per agent; a column of windows is flattened."""
        parts = [np.asarray(columns[c], dtype=np.float64).reshape(n, -1) for c in self.columns]
        matrix = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))
        return np.nan_to_num(matrix, nan=0.0).astype(np.float32)

    def _rewards(self, ids: np.ndarray, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        if self.reward is None:
            return np.zeros(len(ids))
        if callable(self.reward):
            return np.asarray(self.reward(self.world, ids), dtype=np.float64)
        now = np.zeros(self.world.n_agents)
        now[ids] = np.nan_to_num(np.asarray(columns[self.reward], dtype=np.float64))
        before = self._last_reward_column if self._last_reward_column is not None else now
        self._last_reward_column = now
        return (now - before)[ids]

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def unwrapped(self) -> WorldParallelEnv:
        return self
