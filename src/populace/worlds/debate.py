"""Group debates of a controversial topic, after DEBATE (a benchmark of multi-agent debates with
real participants' opinions) and Taubenfeld et al., "Systematic biases in LLM simulations of
debates".

Each agent holds a *private* opinion on a numeric scale (1–7 by default) and, every round, says a
*public* message with the position it expresses (``speak``: message and stance) and reports its
private opinion afterwards (``report``), like the surveys of the human studies. Agents debate in
groups (``group_size``, or a population column) and see their group's recent messages. The world
does not move opinions: minds do, and the world measures opinion change, convergence and the gap
between what agents say and what they privately think.

Real debates are compared through the same record, a :class:`Transcript` (one row per agent and
round: ``agent``, ``round``, ``message``, ``opinion``, optionally ``stance`` and ``group``),
loaded from CSV or JSONL with :func:`load_transcript` and measured by :func:`measure`, exactly as
``DebateWorld.transcript()`` is for a simulated debate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.errors import PopulaceError
from populace.events import Events
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Column, Handler, Observations, World, WorldConfig, worlds

TRANSCRIPT_FIELDS = ("agent", "round", "message", "opinion")


class TranscriptError(PopulaceError):
    """A debate transcript file cannot be read as one."""


class DebateConfig(WorldConfig):
    topic: str = Field("Social media does more harm than good.", description="the statement debated")
    scale: tuple[float, float] = Field((1, 7), description="lowest and highest opinion (disagree .. agree)")
    rounds: int = Field(3, ge=1, description="rounds of public messages")
    group_size: int | None = Field(None, ge=2, description="agents per debate group (default: one group)")
    group: str | None = Field(None, description="population column naming each agent's group")
    initial: Literal["uniform"] | str = Field(
        "uniform", description="'uniform' integers on the scale, or a population column of initial opinions"
    )
    history_rounds: int = Field(2, ge=1, description="past rounds of the group's messages an agent sees")
    converged_sd: float = Field(0.5, gt=0, description="opinion spread (std) below which a debate has converged")

    @model_validator(mode="after")
    def _scale(self) -> DebateConfig:
        if self.scale[0] >= self.scale[1]:
            raise ValueError("`scale` must be [lowest, highest] with lowest < highest")
        return self


@dataclass
class Transcript:
    """A debate as rows: ``agent[i]`` said ``message[i]`` in ``round[i]`` (publicly at ``stance[i]``)
    and privately held ``opinion[i]`` afterwards. Round 0 holds opinions before the debate."""

    agent: np.ndarray
    round: np.ndarray
    message: np.ndarray
    opinion: np.ndarray
    stance: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.agent)

    def opinions(self) -> np.ndarray:
        """Private opinions as a (rounds + 1, agents) table, carried forward where not reported;
        agents in the order of :meth:`agents`."""
        agents, index = np.unique(self.agent.astype(str), return_inverse=True)
        last = int(self.round.max()) if len(self) else 0
        table = np.full((last + 1, len(agents)), np.nan)
        known = ~np.isnan(self.opinion)
        table[self.round[known], index[known]] = self.opinion[known]
        for r in range(1, last + 1):
            table[r] = np.where(np.isnan(table[r]), table[r - 1], table[r])
        return table

    def agents(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct agents (sorted) and each one's group."""
        agents, first = np.unique(self.agent.astype(str), return_index=True)
        return agents, self.group[first].astype(str)


def load_transcript(path: str | Path) -> Transcript:
    """Read a transcript from CSV (with a header) or JSONL, one row per agent and round."""
    path = Path(path)
    if not path.is_file():
        raise TranscriptError(f"debate transcript {str(path)!r} does not exist")
    try:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        elif path.suffix.lower() == ".csv":
            import csv

            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        else:
            raise TranscriptError(f"debate transcript {str(path)!r}: unsupported type {path.suffix!r} "
                                  "(accepted: .csv, .jsonl)")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"debate transcript {str(path)!r} cannot be read: {exc}") from None
    if not rows:
        raise TranscriptError(f"debate transcript {str(path)!r} has no rows")
    missing = [f for f in TRANSCRIPT_FIELDS if f not in rows[0]]
    if missing:
        raise TranscriptError(f"debate transcript {str(path)!r}: missing field(s) {', '.join(missing)} "
                              f"(needs {', '.join(TRANSCRIPT_FIELDS)}; optional stance, group)")
    try:
        return Transcript(
            agent=np.asarray([str(r["agent"]) for r in rows], dtype=object),
            round=np.asarray([int(r["round"]) for r in rows], dtype=np.int64),
            message=np.asarray([str(r.get("message") or "") for r in rows], dtype=object),
            opinion=np.asarray([_number(r.get("opinion")) for r in rows]),
            stance=np.asarray([_number(r.get("stance")) for r in rows]),
            group=np.asarray([str(r.get("group") or "") for r in rows], dtype=object),
        )
    except (TypeError, ValueError) as exc:
        raise TranscriptError(f"debate transcript {str(path)!r}: a bad value ({exc})") from None


def _within_sd(opinions: np.ndarray, groups: np.ndarray) -> float:
    """Mean over groups of the spread (std) of the known opinions in each."""
    _, codes = np.unique(groups, return_inverse=True)
    known = ~np.isnan(opinions)
    if not known.any():
        return float("nan")
    x, g = opinions[known], codes.reshape(-1)[known]
    count = np.bincount(g)
    present = count > 0
    mean = np.bincount(g, x)[present] / count[present]
    variance = np.bincount(g, x * x)[present] / count[present] - mean**2
    return float(np.mean(np.sqrt(np.maximum(variance, 0.0))))


def _number(value: Any) -> float:
    return float("nan") if value is None or value == "" else float(value)


def measure(transcript: Transcript, converged_sd: float = 0.5) -> dict[str, float]:
    """Opinion change, convergence and public–private gap of a (real or simulated) debate."""
    table = transcript.opinions()
    out: dict[str, float] = {}
    if table.size == 0:
        return out
    start, end = table[0], table[-1]
    both = ~np.isnan(start) & ~np.isnan(end)
    if both.any():
        out["opinion_change"] = float(np.mean(np.abs(end[both] - start[both])))
        out["opinion_shift"] = float(np.mean(end[both] - start[both]))
    _, groups = transcript.agents()
    spread = np.asarray([_within_sd(row, groups) for row in table])
    out["within_group_sd_start"], out["within_group_sd_end"] = float(spread[0]), float(spread[-1])
    if spread[0] > 0:
        out["convergence"] = float(1 - spread[-1] / spread[0])
    reached = np.flatnonzero(spread <= converged_sd)
    if len(reached):
        out["rounds_to_converge"] = float(reached[0])
    said = ~np.isnan(transcript.stance) & ~np.isnan(transcript.opinion)
    if said.any():
        out["public_private_gap"] = float(np.mean(np.abs(transcript.stance[said] - transcript.opinion[said])))
    return out


class DebateWorld(World[DebateConfig]):
    """Group debates: public messages and stances each round, private opinions reported after."""

    name = "debate"
    Config = DebateConfig
    actions = ActionSpace(
        ActionSpec("speak", {
            "message": Arg.text(1000, "what you say to your group"),
            "stance": Arg.number(description="the position your message expresses, on the opinion scale"),
        }, "say one public message to your group this round"),
        ActionSpec("report", {"opinion": Arg.number(description="your private opinion now, on the scale")},
                   "privately report your opinion (the others do not see it)"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "round": "rounds completed",
        "opinion_mean": "mean private opinion",
        "opinion_sd": "spread (std) of private opinions",
        "within_group_sd": "mean spread of private opinions within each group",
        "opinion_change": "mean absolute change of private opinion since the start",
        "convergence": "share of the initial within-group spread removed",
        "rounds_to_converge": "first round at which the within-group spread fell below converged_sd",
        "public_private_gap": "mean |public stance - private opinion reported the same round| so far",
    }
    observation = (
        Column("topic", "text", "the statement debated"),
        Column("round", "int64", "the round, from 1 (past rounds: the debate is over)"),
        Column("rounds", "int64", "rounds of public messages"),
        Column("scale_low", "float64", "lowest opinion on the scale (disagree)"),
        Column("scale_high", "float64", "highest opinion on the scale (agree)"),
        Column("opinion", "float64", "own private opinion"),
        Column("group", "int64", "own debate group"),
        Column("group_stance", "float64", "the group's others' mean stance said last round (NaN: none)"),
        Column("transcript", "text", "the group's messages of the last rounds, one a line"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        low, high = self.config.scale
        space = ActionSpace(
            ActionSpec("speak", {
                "message": Arg.text(1000, "what you say to your group"),
                "stance": Arg.number(low, high, "the position your message expresses, on the opinion scale"),
            }, "say one public message to your group this round"),
            ActionSpec("report", {"opinion": Arg.number(low, high, "your private opinion now, on the scale")},
                       "privately report your opinion (the others do not see it)"),
        )
        self.action_space = space.subset(self.action_space.names)

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        n, cfg = self.n_agents, self.config
        low, high = cfg.scale
        if cfg.initial == "uniform":
            self.opinion = self.rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1, n).astype(np.float64)
        else:
            self.opinion = np.clip(np.asarray(self.population[cfg.initial], dtype=np.float64), low, high).copy()
        if cfg.group is not None:
            _, self.group = np.unique(self.population[cfg.group].astype(str), return_inverse=True)
        else:
            self.group = np.arange(n) // cfg.group_size if cfg.group_size else np.zeros(n, dtype=np.int64)
        self.group = self.group.astype(np.int64)
        self.round = 0
        self.log = [self.opinion.copy()]  # private opinions after each round, round 0 = before
        self.stance = np.full((cfg.rounds, n), np.nan)
        self.said = np.full((cfg.rounds, n), None, dtype=object)
        self.reported = np.full((cfg.rounds, n), np.nan)

    # -- what agents see ---------------------------------------------------------------------
    def observe(self, agent_ids: np.ndarray) -> Observations:
        ids = np.asarray(agent_ids, dtype=np.int64)
        k, cfg, r = len(ids), self.config, self.round
        group_stance = np.full(k, np.nan)
        if 0 < r <= cfg.rounds:
            last = self.stance[r - 1]
            spoke = ~np.isnan(last)
            totals = np.bincount(self.group[spoke], last[spoke], self.group.max() + 1)
            counts = np.bincount(self.group[spoke], minlength=self.group.max() + 1)
            mine = spoke[ids]
            others = counts[self.group[ids]] - mine
            sums = totals[self.group[ids]] - np.where(mine, last[ids], 0.0)
            group_stance = np.where(others > 0, sums / np.maximum(others, 1), np.nan)
        transcripts = {g: self._transcript(g) for g in np.unique(self.group[ids])}
        topic = np.empty(k, dtype=object)
        topic.fill(cfg.topic)
        return Observations(ids, {
            "topic": topic,
            "round": np.full(k, r + 1, dtype=np.int64),
            "rounds": np.full(k, cfg.rounds, dtype=np.int64),
            "scale_low": np.full(k, cfg.scale[0]),
            "scale_high": np.full(k, cfg.scale[1]),
            "opinion": self.opinion[ids],
            "group": self.group[ids],
            "group_stance": group_stance,
            "transcript": np.asarray([transcripts[g] for g in self.group[ids]], dtype=object),
        })

    def _transcript(self, group: int) -> str:
        members = np.flatnonzero(self.group == group)
        lines: list[str] = []
        for t in range(max(0, self.round - self.config.history_rounds), min(self.round, self.config.rounds)):
            lines.extend(f"Round {t + 1}, participant {a}: {self.said[t, a]}"
                         for a in members if self.said[t, a] is not None)
        return "\n".join(lines)

    # -- what agents do ----------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"speak": self._speak, "report": self._report}

    def _allowed(self, actions: Actions, done: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(actions)
        if self.round >= self.config.rounds:
            return np.zeros(n, dtype=bool), np.full(n, f"the debate is over after {self.config.rounds} rounds", object)
        first = np.zeros(n, dtype=bool)
        first[np.unique(actions.agents, return_index=True)[1]] = True
        ok = first & ~done[actions.agents]
        return ok, np.full(n, f"already did {actions.name} this round", dtype=object)

    def _speak(self, actions: Actions) -> Events:
        ok, reason = self._allowed(actions, ~np.isnan(self.stance[min(self.round, self.config.rounds - 1)]))
        who = actions.agents[ok]
        self.stance[self.round % self.config.rounds, who] = actions.args["stance"][ok].astype(np.float64)
        self.said[self.round % self.config.rounds, who] = actions.args["message"][ok]
        return Events.outcomes(actions, ok, reason)

    def _report(self, actions: Actions) -> Events:
        ok, reason = self._allowed(actions, ~np.isnan(self.reported[min(self.round, self.config.rounds - 1)]))
        who = actions.agents[ok]
        self.reported[self.round % self.config.rounds, who] = actions.args["opinion"][ok].astype(np.float64)
        return Events.outcomes(actions, ok, reason)

    def tick(self) -> list[Events]:
        if self.round >= self.config.rounds:
            return []
        new = self.reported[self.round]
        told = ~np.isnan(new)
        self.opinion[told] = new[told]
        self.log.append(self.opinion.copy())
        self.round += 1
        if not told.any():
            return []
        return [Events.world("opinions", np.flatnonzero(told), round=self.round, opinion=new[told])]

    # -- what emerges ------------------------------------------------------------------------
    def transcript(self) -> Transcript:
        """This debate as a :class:`Transcript`, comparable with a real one."""
        n, rounds = self.n_agents, self.round
        agent = np.tile(np.arange(n), rounds + 1)
        rnd = np.repeat(np.arange(rounds + 1), n)
        message = np.full(len(agent), "", dtype=object)
        stance = np.full(len(agent), np.nan)
        if rounds:
            message[n:] = ["" if m is None else m for m in self.said[:rounds].reshape(-1)]
            stance[n:] = self.stance[:rounds].reshape(-1)
        opinion = np.concatenate([self.log[0], self.reported[:rounds].reshape(-1)])
        return Transcript(agent.astype(str).astype(object), rnd, message, opinion, stance,
                          np.tile(self.group, rounds + 1).astype(str).astype(object))

    def metrics(self) -> dict[str, float]:
        r = self.round
        log = np.asarray(self.log)
        within = np.asarray([_within_sd(row, self.group) for row in log])
        out = {
            "round": float(r),
            "opinion_mean": float(self.opinion.mean()),
            "opinion_sd": float(self.opinion.std()),
            "within_group_sd": float(within[-1]),
            "opinion_change": float(np.mean(np.abs(self.opinion - log[0]))),
        }
        if within[0] > 0:
            out["convergence"] = float(1 - within[-1] / within[0])
        reached = np.flatnonzero(within <= self.config.converged_sd)
        if len(reached):
            out["rounds_to_converge"] = float(reached[0])
        both = ~np.isnan(self.stance[:r]) & ~np.isnan(self.reported[:r])
        if both.any():
            out["public_private_gap"] = float(np.mean(np.abs(self.stance[:r][both] - self.reported[:r][both])))
        return out


class ConformingParams(PolicyParams):
    mu: float = Field(0.3, ge=0, le=1, description="share of the way the private opinion moves")
    conformity: float = Field(0.3, ge=0, le=1, description="share of the way the said stance moves further")


@policy("conforming_debater", ConformingParams,
        reads=("round", "rounds", "group_stance", "opinion", "scale_low", "scale_high"))
def conforming_debater(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Move the private opinion ``mu`` (default 0.3) of the way towards the group's last public
    stance; say a stance shaded ``conformity`` (default 0.3) of the way further towards the group."""
    prm = mind.settings(ConformingParams)
    mu, conformity = prm.mu, prm.conformity
    live = obs["round"] <= obs["rounds"]
    pull = np.nan_to_num(obs["group_stance"] - obs["opinion"], nan=0.0)
    private = np.clip(obs["opinion"] + mu * pull, obs["scale_low"], obs["scale_high"])
    public = np.clip(private + conformity * np.nan_to_num(obs["group_stance"] - private, nan=0.0),
                     obs["scale_low"], obs["scale_high"])
    text = np.asarray([f"On a scale from {lo:g} to {hi:g} I would put myself at {s:.1f}."
                       for lo, hi, s in zip(obs["scale_low"], obs["scale_high"], public, strict=True)], dtype=object)
    return [Actions("speak", obs.agents[live], {"message": text[live], "stance": public[live]}),
            Actions("report", obs.agents[live], {"opinion": private[live]})]


@policy("stubborn_debater", reads=("round", "rounds", "opinion"))
def stubborn_debater(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Say one's private opinion and never change it."""
    live = obs["round"] <= obs["rounds"]
    text = np.asarray([f"I stay at {o:g}." for o in obs["opinion"][live]], dtype=object)
    return [Actions("speak", obs.agents[live], {"message": text, "stance": obs["opinion"][live]}),
            Actions("report", obs.agents[live], {"opinion": obs["opinion"][live]})]


worlds.add("debate", DebateWorld)
