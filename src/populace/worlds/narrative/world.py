"""The narrative world: agents act in their own words; a game master rules what happens; the
ledger keeps the facts.

Each ``act`` carries the agent's free text and the game master's ruling on it: what happened,
the proposed changes to the typed state (see :mod:`populace.worlds.narrative.ledger`), what
named agents are told, and whether the ruling held when the game master was asked again with
another seed. The world applies a ruling only if every change holds; otherwise the ``act`` is
rejected with the reason and nothing changes. Everyone at the actor's place observes what
happened; the metrics read the typed state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.errors import UnknownNameError, WorldError
from populace.events import Events, filled
from populace.world import Column, Handler, Observations, World, WorldConfig, worlds
from populace.worlds.narrative.ledger import Ledger, RulingError, Transfer, VariableSpec, parse_changes
from populace.worlds.narrative.scenes import Scenes, SceneSpec

#: how a ruling fared when the game master was asked again with another seed
RECHECKS = ("none", "same", "different")
#: observation columns the world itself fills; a variable may not take one of these names
RESERVED = frozenset({"name", "goal", "place", "scene", "acting", "situation", "premise", "ledger", "here",
                      "changes_schema", "vote"})


class VoteSpec(BaseModel):
    """A question put to the vote and its options."""

    model_config = ConfigDict(extra="forbid")

    question: str
    options: list[str] = Field(min_length=2)


class Tell(BaseModel):
    """Something the game master tells one agent."""

    model_config = ConfigDict(extra="forbid")

    to: str
    text: str = Field(max_length=300)


_TELLS: TypeAdapter[list[Tell]] = TypeAdapter(list[Tell])


class NarrativeConfig(WorldConfig):
    premise: str = Field("", description="the situation every agent and the game master are told")
    places: list[str] = Field(["the village"], min_length=1, description="where agents can be")
    start: str | None = Field(None, description="population column of each agent's first place "
                                                "(default: the first place)")
    name: str = Field("name", description="population column of agents' names (missing: 'agent N')")
    goal: str = Field("goal", description="population column of agents' goals (missing: none)")
    variables: dict[str, VariableSpec] = Field(default_factory=dict, description="typed state per agent")
    vote: VoteSpec | None = Field(None, description="a question agents vote on")
    scenes: list[SceneSpec] = Field(default_factory=list, description="scenes in order (default: one, "
                                                                      "everyone, simultaneous)")
    text_limit: int = Field(200, ge=20, le=2000, description="most characters of an agent's action")
    memory: int = Field(3, ge=0, le=50, description="recent observations each agent is reminded of")
    max_changes: int = Field(4, ge=0, le=20, description="most state changes in one ruling")

    @model_validator(mode="after")
    def _names(self) -> NarrativeConfig:
        taken = sorted(RESERVED & set(self.variables))
        if taken:
            raise ValueError(f"variable name {taken[0]!r} is taken by an observation column")
        for i, scene in enumerate(self.scenes):
            if scene.place is not None and scene.place not in self.places:
                raise ValueError(f"scenes.{i}.place: {UnknownNameError('place', scene.place, self.places)}")
        if len(set(self.places)) != len(self.places):
            raise ValueError("places must be distinct")
        return self


class NarrativeWorld(World[NarrativeConfig]):
    """Free-text actions ruled by a game master and grounded in typed state (after Concordia)."""

    name = "narrative"
    Config = NarrativeConfig
    actions = ActionSpace(ActionSpec("act", {
        "text": Arg.text(2000, "what the agent does or says, in its own words"),
        "ruling": Arg.text(400, "what happened, as the game master rules"),
        "changes": Arg.text(8000, "the state changes the ruling proposes: a JSON list of operations"),
        "tell": Arg.text(4000, 'what named agents observe: a JSON list of {"to": name, "text": ...}'),
        "recheck": Arg.choice(*RECHECKS, description="the ruling asked again with another seed"),
    }, "an agent's free-text action with the game master's ruling on it"))
    metric_descriptions: ClassVar[dict[str, str]] = {
        "rulings": "rulings on agents' actions so far",
        "rulings_rejected": "rulings whose changes could not hold in the grounded state",
        "contradiction_share": "rulings_rejected / rulings",
        "rechecks": "rulings asked again with another seed",
        "divergence_share": "share of rechecked rulings whose changes differed",
        "transfers": "transfers applied so far",
        "moves": "moves applied so far",
        "total_<variable>": "the sum of a variable over all agents (constant where conserved)",
        "votes_<option>": "votes for an option",
        "vote_margin": "votes of the leading option minus the runner-up's",
    }
    #: the columns of every narrative; each of its ``variables`` adds one (see :meth:`observation_columns`)
    observation = (
        Column("name", "text", "own name"),
        Column("goal", "text", "own goal ('': none)"),
        Column("place", "text", "where one is"),
        Column("scene", "text", "the scene's name"),
        Column("situation", "text", "what one perceives, in words"),
        Column("ledger", "text", "what everyone here holds, in words"),
        Column("here", "object", "the names of those here, a tuple"),
        Column("changes_schema", "object", "JSON Schema of the state changes a ruling may make here"),
        Column("vote", "text", "own vote ('': none yet)"),
        Column("premise", "text", "the situation everyone is told"),
        Column("acting", "bool", "whether one acts this step (the scene's turn order)"),
    )

    @classmethod
    def observation_columns(cls, config: WorldConfig) -> tuple[Column, ...]:
        assert isinstance(config, NarrativeConfig)
        variables = (Column(name, "float64", f"own {name} (a variable of the ledger)") for name in config.variables)
        return (*cls.observation, *variables)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        spec = type(self).actions["act"]
        limited = dict(spec.args, text=Arg.text(self.config.text_limit, spec.args["text"].description))
        self.action_space = ActionSpace(ActionSpec("act", limited, spec.description)).subset(self.action_space.names)

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        cfg, n, pop = self.config, self.n_agents, self.population
        raw = [str(v) for v in pop[cfg.name]] if cfg.name in pop else [f"agent {i}" for i in range(n)]
        seen: dict[str, int] = {}
        for name in raw:
            seen[name] = seen.get(name, 0) + 1
        self.names = [f"{name} ({i})" if seen[name] > 1 else name for i, name in enumerate(raw)]
        self.goals = [str(v) for v in pop[cfg.goal]] if cfg.goal in pop else [""] * n
        initial = {k: np.asarray(pop[v.initial], dtype=np.float64) if isinstance(v.initial, str)
                   else np.full(n, float(v.initial)) for k, v in cfg.variables.items()}
        if cfg.start is not None:
            firsts = [str(p) for p in pop[cfg.start]]
            unknown = [p for p in firsts if p not in cfg.places]
            if unknown:
                raise WorldError(f"world.params.start: {UnknownNameError('place', unknown[0], cfg.places)}")
            place = np.asarray([cfg.places.index(p) for p in firsts], dtype=np.int64)
        else:
            place = np.zeros(n, dtype=np.int64)
        self.ledger = Ledger(self.names, cfg.variables, initial, cfg.places, place,
                             cfg.vote.options if cfg.vote else ())
        self.scenes = Scenes(cfg.scenes, self.ledger.index, cfg.places)
        self.memory: list[list[str]] = [[] for _ in range(n)]
        self.last_acted = np.full(n, -1, dtype=np.int64)
        self.tallies = dict.fromkeys(("rulings", "rulings_rejected", "rechecks", "divergent", "transfers",
                                      "moves"), 0)
        self._open_scene(0)

    # -- what agents see ---------------------------------------------------------------------
    def observe(self, agent_ids: np.ndarray) -> Observations:
        ids = np.asarray(agent_ids, dtype=np.int64)
        scene = self.scenes.at(self.step)
        acting = scene.acting(self.step, self.n_agents) & (self.last_acted != self.step)
        ledger = self.ledger
        columns: dict[str, list[Any]] = {k: [] for k in ("name", "goal", "place", "scene", "situation", "ledger",
                                                          "here", "changes_schema", "vote")}
        places: dict[int, tuple[np.ndarray, tuple[str, ...], str, dict[str, Any]]] = {}
        for agent in ids.tolist():
            where = int(ledger.place[agent])
            if where not in places:  # everyone at one place shares what is there
                here = ledger.present(agent)
                names = tuple(self.names[a] for a in here)
                places[where] = (here, names, "; ".join(f"{self.names[a]}: {ledger.holdings(a)}" for a in here[:12]),
                                 ledger.changes_schema(names, self.config.max_changes))
            here, names, present, schema = places[where]
            columns["name"].append(self.names[agent])
            columns["goal"].append(self.goals[agent])
            columns["place"].append(ledger.places[where])
            columns["scene"].append(scene.spec.name)
            columns["ledger"].append(present)
            columns["here"].append(names)
            columns["changes_schema"].append(schema)
            columns["vote"].append(ledger.options[ledger.vote[agent]] if ledger.vote[agent] >= 0 else "")
            columns["situation"].append(self._situation(agent, here))
        out = {k: _objects(v) for k, v in columns.items()}
        out["premise"] = filled(len(ids), self.config.premise)
        out["acting"] = acting[ids]
        for k, values in ledger.values.items():
            out[k] = values[ids]
        return Observations(ids, out)

    def _situation(self, agent: int, here: np.ndarray) -> str:
        """What ``agent`` perceives, as a short text for a language model."""
        cfg, ledger, scene = self.config, self.ledger, self.scenes.at(self.step).spec
        others = [f"{self.names[a]} ({ledger.holdings(a)})" for a in here[:12] if a != agent]
        parts = [cfg.premise, f"Scene: {scene.name}. {scene.text}".strip(),
                 f"You are {self.names[agent]}, at {ledger.places[ledger.place[agent]]}."]
        if self.goals[agent]:
            parts.append(f"Your goal: {self.goals[agent]}.")
        if ledger.values:
            parts.append(f"You have {ledger.holdings(agent)}.")
        parts.append("Here: " + ("; ".join(others) if others else "nobody else") + ".")
        if cfg.vote is not None:
            mine = ledger.vote[agent]
            parts.append(f"Vote: {cfg.vote.question} Options: {', '.join(cfg.vote.options)}. "
                         f"Your vote: {ledger.options[mine] if mine >= 0 else 'none yet'}.")
        if self.memory[agent]:
            parts.append("Recently: " + " ".join(self.memory[agent]))
        return " ".join(p for p in parts if p)

    # -- what agents do ----------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"act": self._act}

    def _act(self, actions: Actions) -> Events:
        n = len(actions)
        ok = np.zeros(n, dtype=bool)
        reasons = filled(n, "")
        scene = self.scenes.at(self.step)
        may = scene.acting(self.step, self.n_agents)
        for i, agent in enumerate(actions.agents.tolist()):
            text, ruling = str(actions.args["text"][i]), str(actions.args["ruling"][i])
            if not may[agent]:
                reasons[i] = (f"{self.names[agent]} is not in the scene {scene.spec.name!r}"
                              if agent not in scene.members else f"not {self.names[agent]}'s turn")
                continue
            if self.last_acted[agent] == self.step:
                reasons[i] = f"{self.names[agent]} already acted this step"
                continue
            self.last_acted[agent] = self.step
            self.tallies["rulings"] += 1
            recheck = str(actions.args["recheck"][i])
            if recheck != "none":
                self.tallies["rechecks"] += 1
                self.tallies["divergent"] += recheck == "different"
            try:
                changes = parse_changes(str(actions.args["changes"][i]))
                tells = _parse_tells(str(actions.args["tell"][i]))
                if len(changes) > self.config.max_changes:
                    raise RulingError(f"{len(changes)} changes; a ruling makes at most {self.config.max_changes}")
                unknown = [t.to for t in tells if t.to not in self.ledger.index]
                if unknown:
                    raise RulingError(f"tell: {UnknownNameError('agent', unknown[0], self.names)}")
                problem = self.ledger.check(changes)
                if problem is not None:
                    raise RulingError(problem)
            except RulingError as exc:
                reasons[i] = str(exc)
                self.tallies["rulings_rejected"] += 1
                self._remember(agent, f"You: {text} It came to nothing ({exc}).")
                continue
            self.ledger.apply(changes)
            ok[i] = True
            self.tallies["transfers"] += sum(isinstance(c, Transfer) for c in changes)
            self.tallies["moves"] += sum(c.op == "move" for c in changes)
            for other in self.ledger.present(agent).tolist():
                self._remember(other, f"You: {text} {ruling}" if other == agent
                               else f"{self.names[agent]}: {text} {ruling}")
            for told in tells:
                self._remember(self.ledger.index[told.to], f"(to you) {told.text}")
        return Events.outcomes(actions, ok, reasons)

    def _remember(self, agent: int, line: str) -> None:
        if self.config.memory == 0:
            return
        kept = self.memory[agent]
        kept.append(line if len(line) <= 160 else line[:159] + "…")
        del kept[:-self.config.memory]

    def tick(self) -> list[Events]:
        opened = self._open_scene(self.step + 1)
        return [opened] if opened is not None else []

    def _open_scene(self, step: int) -> Events | None:
        """Move a scene's participants to its place as it opens at ``step``."""
        scene = self.scenes.opens(step)
        if scene is None:
            return None
        if scene.spec.place is not None:
            self.ledger.place[scene.members] = self.ledger.places.index(scene.spec.place)
        return Events.world("scene", scene.members, scene=scene.spec.name, place=scene.spec.place or "")

    # -- what emerges ------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        t = self.tallies
        out = {"rulings": float(t["rulings"]), "rulings_rejected": float(t["rulings_rejected"]),
               "rechecks": float(t["rechecks"]), "transfers": float(t["transfers"]), "moves": float(t["moves"])}
        if t["rulings"]:
            out["contradiction_share"] = t["rulings_rejected"] / t["rulings"]
        if t["rechecks"]:
            out["divergence_share"] = t["divergent"] / t["rechecks"]
        for k, values in self.ledger.values.items():
            out[f"total_{k}"] = float(values.sum())
        if self.ledger.options:
            votes = self.ledger.tally()
            for option, count in zip(self.ledger.options, votes.tolist(), strict=True):
                out[f"votes_{option}"] = float(count)
            top = np.sort(votes)[::-1]
            out["vote_margin"] = float(top[0] - top[1])
        return out


def _parse_tells(text: str) -> list[Tell]:
    try:
        return _TELLS.validate_python(json.loads(text) if text.strip() else [])
    except json.JSONDecodeError as exc:
        raise RulingError(f"tell is not JSON ({exc.msg})") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise RulingError(f"tell[{'.'.join(str(p) for p in first['loc'])}]: {first['msg']}") from None


def _objects(values: list[Any]) -> np.ndarray:
    """An object column holding ``values`` as they are (tuples stay one value each)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


worlds.add("narrative", NarrativeWorld)
