"""Free-text agents behind an interpreter: players say what they do, a model call turns it into an action.

A :class:`FreeTextMind` holds an inner mind, its *players* (by default the ``player`` tier, or
any mind that acts through one text action: a generative mind, a rules policy with canned
lines), and asks the model, per thing said, for structured output under a JSON schema: the
game master's ruling (:mod:`populace.minds.game_master`) or one action of a typed world
(:mod:`populace.minds.translator`). What comes out goes to the world, which validates it like
any action, so a wrong interpretation is a rejected event with its reason, never a corrupt state.

Consistency: a ``recheck`` share of the interpretations (every fourth at 0.25) is asked again with another sampling
seed and the two structured answers compared; the counters ``<tier>_rechecks`` and
``<tier>_divergent`` say how often the model would have decided otherwise on the same situation.
"""

from __future__ import annotations

import asyncio
import json
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
from pydantic import Field, ValidationError, field_validator

from populace.actions import ActionSpace, ActionSpec, Arg
from populace.context import MindContext
from populace.errors import PopulaceError
from populace.events import Events
from populace.llm.base import Completion, ModelError, Sampling
from populace.minds.base import Decisions, Reads, minds
from populace.minds.language import LanguageMind, LanguageMindConfig, ModelClient
from populace.minds.player import decision_failure
from populace.world import Column, Observations

SPEECH = "act"


class FreeTextConfig(LanguageMindConfig):
    players: dict[str, Any] = Field(default_factory=lambda: {"type": "player"},
                                    description="the mind that speaks for the agents: a mind type and its "
                                                "parameters, acting through one text action")
    max_tokens: int = Field(160, ge=8, le=2048, description="output budget of one interpretation")
    temperature: float = Field(0.5, ge=0, description="sampling temperature of interpretations")
    recheck: float = Field(0.25, ge=0, le=1, description="share of interpretations asked again with another "
                                                         "seed, to measure consistency")

    @field_validator("players")
    @classmethod
    def _players(cls, value: dict[str, Any]) -> dict[str, Any]:
        params = dict(value)
        kind = str(params.pop("type", "player"))
        try:
            mind_cls = minds.get(kind)
            mind_cls.Config.model_validate(params)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{where}: {first['msg']}") from None
        except PopulaceError as exc:
            raise ValueError(str(exc)) from None
        if issubclass(mind_cls, FreeTextMind):
            raise ValueError(f"players of type {kind!r} would interpret free text themselves; give a mind that "
                             "speaks (player, generative, rules)")
        return {"type": kind, **params}

    def observation_reads(self, observed: Mapping[str, Column]) -> list[Reads]:
        """What the players' parameters read, under ``players.``."""
        params = dict(self.players)
        config = minds.get(str(params.pop("type"))).Config.model_validate(params)
        return [read._replace(field=f"players.{read.field}") for read in config.observation_reads(observed)]


@dataclass
class Said:
    """One agent's free text, where it came from, and its observation row."""

    agent: int
    text: str
    request: str | None
    row: dict[str, Any]


@dataclass
class Interpretation:
    """A structured answer to what an agent said (or the error that stopped it), and whether the same
    question asked with another seed was answered the same way (``none``: not asked again)."""

    answer: Completion | ModelError
    recheck: str = "none"


def failures(rows: list[tuple[int, str, str | None]]) -> list[Events]:
    """Failed decisions from ``(agent, cause, request id)`` rows (none: an empty list)."""
    if not rows:
        return []
    agents, causes, requests = zip(*rows, strict=True)
    return [Events.failed(np.asarray(agents, dtype=np.int64), np.asarray(causes, dtype=object),
                          np.asarray(requests, dtype=object))]


FT = TypeVar("FT", bound=FreeTextConfig)


class FreeTextMind(LanguageMind[FT]):
    """Players speak in free text; :meth:`interpret` turns what they said into actions."""

    Config = FreeTextConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        params = dict(self.config.players)
        players_cls = minds.get(str(params.pop("type")))
        speech = ActionSpace(ActionSpec(SPEECH, {"text": Arg.text(self.text_limit(), "what you do or say")},
                                        "do or say something, in your own words"))
        self._interpreted = 0  # interpretations so far: the recheck quota counts them
        self.players = players_cls(self.population, speech, params, rng=np.random.default_rng(self.rng.integers(2**63)),
                                   context=self.context)

    def text_limit(self) -> int:
        """The most characters a player may say (default 200)."""
        return 200

    def acting(self, observations: Observations) -> np.ndarray:
        """Which observed agents act now (default: all)."""
        return np.ones(len(observations), dtype=bool)

    @abstractmethod
    async def interpret(self, said: list[Said]) -> Decisions:
        """Actions (and failures) from what the players said."""

    async def decide(self, observations: Observations) -> Decisions:
        acting = self.acting(observations)
        if not acting.any():
            return Decisions()
        chosen = np.flatnonzero(acting)
        heard = await self.players.decide(observations if len(chosen) == len(observations)
                                          else observations.take(chosen))
        decisions = Decisions(failures=list(heard.failures))
        rows = {int(a): i for i, a in enumerate(observations.agents.tolist())}
        said = [Said(int(agent), str(batch.args["text"][j]),
                     None if batch.request is None else batch.request[j], observations.row(rows[int(agent)]))
                for batch in heard.actions if batch.name == SPEECH and "text" in batch.args
                for j, agent in enumerate(batch.agents.tolist())]
        if said:
            decisions.extend(await self.interpret(said))
        return decisions

    # -- asking, with the consistency check ----------------------------------------------------
    async def ask_all(self, prompts: list[str], schemas: list[dict[str, Any]]) -> list[Interpretation]:
        """Ask every prompt under its schema, concurrently; a ``recheck`` share is asked twice."""
        sampling = Sampling(max_tokens=self.config.max_tokens, temperature=self.config.temperature,
                            seed=int(self.rng.integers(2**31)))
        again = self._rechecked(len(prompts))
        out = await asyncio.gather(*(self._ask(p, s, sampling, bool(twice))
                                     for p, s, twice in zip(prompts, schemas, again, strict=True)))
        prefix = self.name
        self.count(**{f"{prefix}_calls": len(prompts) + int(again.sum()),
                      f"{prefix}_rechecks": sum(i.recheck != "none" for i in out),
                      f"{prefix}_divergent": sum(i.recheck == "different" for i in out),
                      f"{prefix}_failed": sum(isinstance(i.answer, ModelError) for i in out)})
        return out

    def _rechecked(self, n: int) -> np.ndarray:
        """Which of the next ``n`` interpretations to ask twice: exactly a ``recheck`` share of all so far,
        spread evenly (a quota, not a draw, so a short run measures what it says it does)."""
        done = self._interpreted
        k = np.arange(done, done + n)
        self._interpreted = done + n
        share = self.config.recheck
        return np.floor((k + 1) * share + 1e-9) > np.floor(k * share + 1e-9)

    async def _ask(self, prompt: str, schema: dict[str, Any], sampling: Sampling, twice: bool) -> Interpretation:
        asks = [self.complete(prompt, sampling=sampling, schema=schema)]
        if twice:
            asks.append(self.complete(prompt, sampling=replace(sampling, seed=sampling.seed + 1), schema=schema))
        answers = await asyncio.gather(*asks, return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException) and not decision_failure(answer):
                raise answer
        first = answers[0]
        assert isinstance(first, Completion | ModelError)
        if len(answers) == 1 or not all(isinstance(a, Completion) for a in answers) or isinstance(first, ModelError):
            return Interpretation(first)
        second = answers[1]
        assert isinstance(second, Completion)
        same = self.canonical(first.value) == self.canonical(second.value)
        return Interpretation(first, "same" if same else "different")

    def canonical(self, value: Any) -> str:
        """The part of an answer that must agree between two asks (default: all of it)."""
        return json.dumps(value, sort_keys=True)

    # -- the inner mind follows the outer one's lifecycle --------------------------------------
    def use_model(self, client: ModelClient) -> None:
        """Interpret and speak with ``client`` (tests; players with their own model spec keep theirs)."""
        super().use_model(client)
        if isinstance(self.players, LanguageMind):
            self.players.use_model(client)

    def attach(self, context: MindContext) -> None:
        super().attach(context)
        self.players.attach(context)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.players.attach(self.context)

    def stats(self) -> dict[str, float]:
        """This mind's counters and model usage plus its players' (one tier, one account)."""
        total = super().stats()
        for key, value in self.players.stats().items():
            total[key] = total.get(key, 0) + value
        return total

    async def start(self) -> None:
        await super().start()
        await self.players.start()

    async def aclose(self) -> None:
        await self.players.aclose()
        await super().aclose()
