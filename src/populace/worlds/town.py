"""The ``town`` world: a small town after Generative Agents' Smallville (Park et al., UIST 2023).

Places (homes, a café, a park, shops, a college, a pub) form a graph whose edges carry travel
times; agents follow daily plans between them, talk with whoever shares their place, and
information spreads through what they say: each fact has keywords, and a listener learns a
fact when someone who knows it says one of them. Who talked to whom is the relationship
network, whose density is measured as Generative Agents did. Facts that are events (a place
and a time, such as a party) are scored by who turned up there and then.

Observation columns are text a language model can read (``place``, ``time``, ``here``,
``conversation``, ``knows``, ``plan``) and numbers a rules policy can use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.clock import per_step_chance
from populace.errors import ScenarioError
from populace.events import Events
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Column, Handler, Observations, World, WorldConfig, operation, worlds

PUBLIC: tuple[tuple[str, str, float, float], ...] = (
    ("Hobbs Cafe", "cafe", 0, 0),
    ("Johnson Park", "park", 2, 1),
    ("Harvey Oak Supply Store", "shop", -1, 2),
    ("The Willows Market and Pharmacy", "shop", 1, -2),
    ("Oak Hill College", "college", 3, -2),
    ("The Rose and Crown Pub", "bar", -2, -1),
)
LEISURE = ("cafe", "park", "bar", "shop")
FALLBACK_START = datetime(2023, 2, 13, 8, 0)


class PlaceSpec(WorldConfig):
    name: str
    kind: Literal["home", "cafe", "park", "shop", "college", "bar", "work"] = "work"
    x: float = Field(0, description="position in town blocks (travel time grows with distance)")
    y: float = 0


class FactSpec(WorldConfig):
    key: str = Field(pattern=r"^[a-z0-9_]+$", description="short name used in metric names")
    text: str = Field(description="what an agent who knows it can say")
    keywords: list[str] = Field(min_length=1, description="words whose mention passes the fact on")
    known_by: list[int] = Field(default_factory=list, description="agents who know it at the start")
    place: str | None = Field(None, description="for an event: where it happens")
    at: datetime | None = Field(None, description="for an event: when it starts")
    hours: float = Field(2.0, gt=0, description="for an event: how long it lasts")


class TownConfig(WorldConfig):
    places: list[PlaceSpec] = Field(
        default_factory=lambda: [PlaceSpec(name=n, kind=k, x=x, y=y) for n, k, x, y in PUBLIC],
        description="public places; homes and workplaces named in the population are added",
    )
    home: str = Field("home", description="population column naming each agent's home (else one per 3 agents)")
    work: str = Field("work", description="population column naming each agent's workplace (optional)")
    minutes_per_block: float = Field(4.0, gt=0, description="travel time per block of distance")
    facts: list[FactSpec] = Field(default_factory=list)
    acquaintance: float = Field(0.0, ge=0, le=1, description="density of the relationship network at the start")
    conversation_lines: int = Field(6, ge=1, description="lines of recent conversation an agent hears")
    here_shown: int = Field(12, ge=1, description="most people named in `here` (the rest are counted)")


class TownWorld(World[TownConfig]):
    name = "town"
    Config = TownConfig
    actions = ActionSpace(
        ActionSpec("go", {"place": Arg.text(80, description="the name of a place in town")},
                   "set off for a place; you arrive after the travel time"),
        ActionSpec("talk", {"to": Arg.agent("someone at your place"),
                            "text": Arg.text(280, description="what you say")},
                   "say something to someone at the same place"),
        ActionSpec("stay", {}, "carry on with what you are doing here"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "density": "density of the relationship network (pairs who have talked, or knew each other)",
        "density_change": "density now minus density at the start",
        "conversations": "utterances this step",
        "travelling": "agents on the way somewhere",
        # per fact ``<key>``: informed_<key>, attended_<key>, present_<key>; described here for the party
        "informed_party": "agents who learned of the party during the run (not counting those who knew)",
        "attended_party": "of those, agents at the party's place while it was on",
        "present_party": "everyone at the party's place while it was on",
    }
    observation = (
        Column("place", "text", "where one is, or 'on the way to' a place"),
        Column("time", "text", "the day and time, in words"),
        Column("here", "text", "the others at one's place, by name ('nobody': none)"),
        Column("conversation", "text", "the last lines said at one's place"),
        Column("knows", "text", "the facts one knows, in words"),
        Column("plan", "text", "one's plan for the day, hour by hour"),
        Column("place_id", "int64", "index of one's place (-1: travelling)"),
        Column("home_id", "int64", "index of one's home"),
        Column("plan_place", "text", "where the plan says to be this hour"),
        Column("event_place", "text", "the place of a known event under way or about to start ('': none)"),
        Column("nearby", "int64", "a random other agent at one's place (-1: none)"),
        Column("n_here", "int64", "others at one's place"),
        Column("known_facts", "bool", "which of the facts one knows, one entry per fact", shape=(None,)),
    )

    @classmethod
    def observation_columns(cls, config: WorldConfig) -> tuple[Column, ...]:
        assert isinstance(config, TownConfig)
        facts = len(config.facts)
        return tuple(replace(c, shape=(facts,)) if c.name == "known_facts" else c for c in cls.observation)

    # -- set-up ------------------------------------------------------------------------------
    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        cfg = self.config
        assert isinstance(cfg, TownConfig)
        n = self.n_agents
        self.names = (np.asarray(self.population["name"], dtype=object) if "name" in self.population
                      else np.asarray([f"Agent {i}" for i in range(n)], dtype=object))
        places = list(cfg.places)
        known = {p.name for p in places}
        homes = (np.asarray(self.population[cfg.home], dtype=object) if cfg.home in self.population
                 else np.asarray([f"House {i // 3 + 1}" for i in range(n)], dtype=object))
        ring = sorted(set(homes.tolist()) - known)
        for i, name in enumerate(ring):  # homes on a ring around the centre
            angle = 2 * math.pi * i / max(len(ring), 1)
            places.append(PlaceSpec(name=name, kind="home", x=round(4 * math.cos(angle), 2),
                                    y=round(4 * math.sin(angle), 2)))
        known |= set(ring)
        works = np.asarray(self.population[cfg.work], dtype=object) if cfg.work in self.population else None
        for name in sorted(set(works.tolist()) - known) if works is not None else []:
            places.append(PlaceSpec(name=name, kind="work", x=float(self.rng.uniform(-3, 3)),
                                    y=float(self.rng.uniform(-3, 3))))
        self.places = places
        self.place_names = np.asarray([p.name for p in places], dtype=object)
        self.place_index = {p.name: i for i, p in enumerate(places)}
        self.place_kind = np.asarray([p.kind for p in places], dtype=object)
        xy = np.asarray([[p.x, p.y] for p in places], dtype=np.float64)
        blocks = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)
        self.travel = blocks * cfg.minutes_per_block  # minutes between places: a complete weighted graph
        self.home = np.asarray([self.place_index[h] for h in homes], dtype=np.int64)
        self.workplace = (np.asarray([self.place_index[w] for w in works], dtype=np.int64) if works is not None
                          else np.full(n, -1, dtype=np.int64))
        self.location = self.home.copy()  # place index, or -1 while travelling
        self.destination = self.home.copy()
        self.arrival = np.full(n, np.datetime64("NaT"), dtype="datetime64[m]")
        self.facts = list(cfg.facts)
        for f in self.facts:
            if f.place is not None and f.place not in self.place_index:
                raise ScenarioError(f"world.params.facts: {f.key!r} is at {f.place!r}, which is not a place in town")
        self.knows = np.zeros((n, len(self.facts)), dtype=bool)
        for j, f in enumerate(self.facts):
            self.knows[[a for a in f.known_by if 0 <= a < n], j] = True
        self.knew = self.knows.copy()
        self.present = np.zeros((n, len(self.facts)), dtype=bool)  # at the event's place during it
        total_pairs = n * (n - 1) // 2
        start = self.rng.choice(total_pairs, size=round(cfg.acquaintance * total_pairs), replace=False)
        self.pairs = np.sort(self._pair_codes(*self._unpair(start)))
        self.density_start = self.density()
        self.heard: dict[int, list[str]] = {}
        self.said: list[tuple[int, str]] = []
        self.utterances = 0
        self.plan_day: object = None
        self.schedule = np.zeros((n, 24), dtype=np.int64)

    def _unpair(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Triangular index -> (a, b) with a < b."""
        index = np.asarray(index, dtype=np.int64)
        b = ((1 + np.sqrt(1 + 8 * index.astype(np.float64))) // 2).astype(np.int64)
        b -= (b * (b - 1) // 2 > index).astype(np.int64)
        b += ((b + 1) * b // 2 <= index).astype(np.int64)
        return index - b * (b - 1) // 2, b

    def _pair_codes(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        return lo * self.n_agents + hi

    def now(self) -> datetime:
        """Simulated time (from the run's clock; half-hour steps from a fixed start when run bare)."""
        return self.time if self.time is not None else FALLBACK_START + timedelta(minutes=30 * self.step)

    def _daily_plans(self, now: datetime) -> None:
        """Rules-generated plans for the day: home at night, work by day, meals and leisure out."""
        if self.plan_day == now.date():
            return
        self.plan_day = now.date()
        n, rng = self.n_agents, self.rng
        kinds = self.place_kind
        cafe = [i for i, k in enumerate(kinds) if k == "cafe"]
        leisure = np.asarray([i for i, k in enumerate(kinds) if k in LEISURE] or [0])
        plan = np.repeat(self.home[:, None], 24, axis=1)
        work = np.where(self.workplace >= 0, self.workplace, leisure[rng.integers(0, len(leisure), n)])
        plan[:, 9:12] = work[:, None]
        plan[:, 13:17] = work[:, None]
        lunch = np.where(rng.random(n) < 0.5, leisure[rng.integers(0, len(leisure), n)], work)
        plan[:, 12] = lunch
        if cafe:
            breakfast = rng.random(n) < 0.3
            plan[breakfast, 8] = cafe[0]
        out = rng.random(n) < 0.6  # an evening out for most
        evening = leisure[rng.integers(0, len(leisure), n)]
        plan[out, 17:20] = evening[out, None]
        host = self.place_kind[work] == "cafe"  # café staff work from breakfast to evening
        plan[host, 8:20] = work[host, None]
        self.schedule = plan
        self.plan_text = np.empty(n, dtype=object)
        self.plan_text[:] = [self._plan_text(a) for a in range(n)]

    # -- observation -------------------------------------------------------------------------
    def _arrive(self, now: datetime) -> None:
        due = (self.location < 0) & (self.arrival <= np.datetime64(now, "m"))
        self.location[due] = self.destination[due]

    def observe(self, agent_ids: np.ndarray) -> Observations:
        now = self.now()
        self._arrive(now)
        self._daily_plans(now)
        cfg = self.config
        assert isinstance(cfg, TownConfig)
        m, n_places = len(agent_ids), len(self.places)
        loc = self.location[agent_ids]
        # agents present, grouped by place (by id within a place)
        present = np.flatnonzero(self.location >= 0)
        members = present[np.argsort(self.location[present], kind="stable")]
        member_place = self.location[members]
        starts = np.searchsorted(member_place, loc, "left")
        others = np.where(loc >= 0, np.searchsorted(member_place, loc, "right") - starts - 1, 0)
        # one random other agent at the same place (-1 if alone or travelling), for simple policies
        position = np.zeros(self.n_agents, dtype=np.int64)
        position[members] = np.arange(len(members))
        r = np.floor(self.rng.random(m) * others).astype(np.int64)
        pick = starts + r + (r >= position[agent_ids] - starts)
        nearby = np.where(others > 0, members[np.clip(pick, 0, max(len(members) - 1, 0))] if len(members) else -1, -1)
        here_text = np.empty(m, dtype=object)
        for i, a in enumerate(agent_ids.tolist()):  # bounded: at most `here_shown` names each
            if others[i] == 0:
                here_text[i] = "nobody"
                continue
            group = members[starts[i]:starts[i] + min(int(others[i]) + 1, cfg.here_shown + 1)]
            shown = [b for b in group.tolist() if b != a][: cfg.here_shown]
            more = int(others[i]) - len(shown)
            here_text[i] = ", ".join(f"{self.names[b]} ({b})" for b in shown) + (f" and {more} others" if more else "")
        lines = self._lines()
        heard_at = np.empty(n_places + 1, dtype=object)  # the extra last entry serves travellers (-1)
        heard_at[:] = ""
        for place, said in self.heard.items():
            heard_at[place] = "\n".join(said[-lines:])
        on_the_way = np.asarray([f"on the way to {name}" for name in self.place_names], dtype=object)
        place_text = np.where(loc >= 0, self.place_names[np.maximum(loc, 0)], on_the_way[self.destination[agent_ids]])
        combos, which = np.unique(self.knows[agent_ids], axis=0, return_inverse=True)
        combo_text = np.empty(len(combos), dtype=object)
        combo_text[:] = [" ".join(f.text for f, k in zip(self.facts, row, strict=True) if k) for row in combos]
        clock_text = np.empty(m, dtype=object)
        clock_text[:] = now.strftime("%A %d %B %Y, %H:%M")
        here_counts = np.bincount(self.location[present], minlength=n_places)
        return Observations(agent_ids, {
            "place": place_text, "time": clock_text, "here": here_text, "conversation": heard_at[loc],
            "knows": combo_text[np.asarray(which).reshape(-1)] if m else combo_text, "plan": self.plan_text[agent_ids],
            "place_id": loc, "home_id": self.home[agent_ids],
            "plan_place": self.place_names[self.schedule[agent_ids, now.hour]],
            "event_place": self._events_now(agent_ids, now), "nearby": nearby,
            "n_here": np.where(loc >= 0, here_counts[np.maximum(loc, 0)] - 1, 0),
            "known_facts": self.knows[agent_ids],
        })

    def _lines(self) -> int:
        return self.config.conversation_lines

    def _plan_text(self, agent: int) -> str:
        row = self.schedule[agent]
        spans, start = [], 0
        for h in range(1, 25):
            if h == 24 or row[h] != row[start]:
                spans.append(f"{start:02d}:00-{h:02d}:00 {self.place_names[row[start]]}")
                start = h
        return "; ".join(spans)

    def _events_now(self, agent_ids: np.ndarray, now: datetime) -> np.ndarray:
        """Per agent, the place of a known event under way or starting within the travel time to it."""
        out = np.empty(len(agent_ids), dtype=object)
        out[:] = ""
        origin = np.maximum(self.location[agent_ids], 0)
        for j, f in enumerate(self.facts):
            if not (f.place and f.at):
                continue
            lead = self.travel[origin, self.place_index[f.place]] + 30  # minutes
            start = np.datetime64(f.at, "m") - np.ceil(lead).astype("timedelta64[m]")
            end = f.at + timedelta(hours=f.hours)
            on = self.knows[agent_ids, j] & (start <= np.datetime64(now, "m")) & (now < end) & (out == "")
            out[on] = f.place
        return out

    # -- actions -----------------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"go": self._go, "talk": self._talk, "stay": Events.accepted}

    def _go(self, actions: Actions) -> Events:
        now = self.now()
        target = np.asarray([self.place_index.get(str(p), -1) for p in actions.args["place"]], dtype=np.int64)
        travelling = self.location[actions.agents] < 0
        ok = (target >= 0) & ~travelling
        reason = np.empty(len(actions), dtype=object)
        reason[:] = "already on the way somewhere"
        reason[target < 0] = f"no such place (places: {', '.join(self.place_names[:12])}, ...)"
        agents, dest = actions.agents[ok], target[ok]
        minutes = self.travel[self.location[agents], dest]
        self.destination[agents] = dest
        self.location[agents] = -1
        self.arrival[agents] = np.datetime64(now, "m") + np.ceil(minutes).astype("timedelta64[m]")
        self._arrive(now)  # next door: there at once
        return Events.outcomes(actions, ok, reason)

    def _talk(self, actions: Actions) -> Events:
        speaker, listener, texts = actions.agents, actions.args["to"], actions.args["text"]
        where = self.location[speaker]
        ok = (where >= 0) & (self.location[listener] == where) & (speaker != listener)
        reason = np.empty(len(actions), dtype=object)
        reason[:] = "can only talk to someone at the same place"
        learned = np.zeros(len(actions), dtype=np.int64)
        for i in np.flatnonzero(ok):
            s, li, text = int(speaker[i]), int(listener[i]), str(texts[i])
            lowered = text.lower()
            for j, f in enumerate(self.facts):
                if self.knows[s, j] and not self.knows[li, j] and any(k.lower() in lowered for k in f.keywords):
                    self.knows[li, j] = True
                    learned[i] += 1
            self.said.append((int(where[i]), f"{self.names[s]} to {self.names[li]}: {text}"))
        self.pairs = np.union1d(self.pairs, self._pair_codes(speaker[ok], listener[ok]))
        self.utterances += int(ok.sum())
        return Events.outcomes(actions, ok, reason, learned=learned)

    # -- dynamics ----------------------------------------------------------------------------
    def tick(self) -> list[Events]:
        now = self.now()
        self._arrive(now)
        self.heard = {}
        for place, line in self.said:
            self.heard.setdefault(place, []).append(line)
        self.said = []
        self._utterances_last, self.utterances = self.utterances, 0
        for j, f in enumerate(self.facts):
            if f.place and f.at and f.at <= now < f.at + timedelta(hours=f.hours):
                self.present[self.location == self.place_index[f.place], j] = True
        return []

    def density(self) -> float:
        n = self.n_agents
        return len(self.pairs) / (n * (n - 1) / 2) if n > 1 else 0.0

    def metrics(self) -> dict[str, float]:
        density = self.density()
        out = {"density": density, "density_change": density - self.density_start,
               "conversations": float(getattr(self, "_utterances_last", 0)),
               "travelling": float(np.count_nonzero(self.location < 0))}
        for j, f in enumerate(self.facts):
            learned = self.knows[:, j] & ~self.knew[:, j]
            out[f"informed_{f.key}"] = float(learned.sum())
            if f.place:
                out[f"attended_{f.key}"] = float((learned & self.present[:, j]).sum())
                out[f"present_{f.key}"] = float(self.present[:, j].sum())
        return out

    @operation
    def tell(self, agents: list[int], fact: str) -> Events:
        """Plant a fact in some agents' minds (e.g. a rumour, an announcement)."""
        keys = [f.key for f in self.facts]
        if fact not in keys:
            raise ValueError(f"no fact {fact!r} (facts: {', '.join(keys) or 'none'})")
        chosen = np.asarray([a for a in agents if 0 <= a < self.n_agents], dtype=np.int64)
        self.knows[chosen, keys.index(fact)] = True
        return Events.world("tell", chosen, fact=fact)


def _hash01(agents: np.ndarray, salt: int) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per (agent, salt), so choices persist across steps."""
    x = (agents.astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt) * np.uint64(40503)) % np.uint64(2**32)
    x = (x ^ (x >> np.uint64(15))) * np.uint64(2246822519) % np.uint64(2**32)
    return (x % np.uint64(2**32)).astype(np.float64) / 2**32


class RoutineParams(PolicyParams):
    talk_rate: float = Field(1.0, ge=0, description="times an hour (simulated) an agent speaks to someone at its "
                                                   "place (a half-hour step: a chat with chance 0.5)")
    tell: float = Field(0.5, ge=0, le=1, description="chance that a speaker mentions a fact it knows")
    attend: float = Field(0.5, ge=0, le=1, description="share of informed agents who go to an event")
    seed: int = Field(0, description="picks which informed agents attend")


@policy("town_routine", RoutineParams,
        reads=("place_id", "event_place", "plan_place", "place", "nearby", "known_facts", "knows"))
def town_routine(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Follow the day's plan; go to known events (with probability ``attend``); chat with people met.

    ``talk_rate`` (1): times an hour (simulated) an agent speaks to someone at its place; a step of
    ``dt`` holds one chat with chance ``min(1, talk_rate * dt)``, which keeps the number of chats
    an hour at any step up to an hour / ``talk_rate``;
    ``tell`` (0.5): chance that a speaker who knows a fact mentions it; ``attend`` (0.5): share
    of informed agents who go to an event (fixed per agent).
    """
    prm = mind.settings(RoutineParams)
    dt = obs.step_duration or timedelta(minutes=30)  # bare, outside a run, the town steps half an hour
    p_talk, p_tell, attend = per_step_chance(prm.talk_rate, dt), prm.tell, prm.attend
    agents, m = obs.agents, len(obs)
    travelling = obs["place_id"] < 0
    event = obs["event_place"]
    goes_to_event = (event != "") & (_hash01(agents, prm.seed) < attend)
    want = np.where(goes_to_event, event, obs["plan_place"])
    here = np.where(travelling, "", obs["place"])
    leave = ~travelling & (want != here)
    out = [Actions("go", agents[leave], {"place": want[leave].astype(object)})]
    chat = ~travelling & ~leave & (obs["nearby"] >= 0) & (mind.rng.random(m) < p_talk)
    knows_any = obs["known_facts"].any(axis=1) if obs["known_facts"].ndim == 2 else np.zeros(m, bool)
    tell = chat & knows_any & (mind.rng.random(m) < p_tell)
    texts = np.empty(m, dtype=object)
    texts[:] = "Hi! How is your day going?"
    texts[tell] = [str(t)[:280] for t in obs["knows"][tell]]
    out.append(Actions("talk", agents[chat], {"to": obs["nearby"][chat], "text": texts[chat]}))
    rest = ~leave & ~chat
    out.append(Actions("stay", agents[rest], {}))
    return out


worlds.add("town", TownWorld)
