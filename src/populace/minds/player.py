"""The player tier: each agent says what it does in its own words, one model call per agent.

A player answers in free text, not in a world's action schema: it needs an action with a single
text argument (the narrative world's players, or any world behind a translator; see
:mod:`populace.minds.free_text`). It sees its persona and its observation — the world's
``situation`` column where there is one — each fenced, so nothing it reads can pose as
instructions, and its answer is cut to the action's length limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpec
from populace.errors import ScenarioError
from populace.events import Events
from populace.llm.base import Completion, ModelError, ModelUnavailableError, Sampling
from populace.minds.base import Decisions, Reads, minds
from populace.minds.language import LanguageMind, LanguageMindConfig
from populace.minds.prompting import PromptTemplate, fence, plain
from populace.world import Column, Observations

INSTRUCTION = "What do you do or say now? Answer with one short sentence in the first person."


class PlayerConfig(LanguageMindConfig):
    persona: str | None = Field(None, description="template of who the agent is; default: its persona "
                                                  "columns; '' for none")
    observation: str | None = Field(None, description="template of what it sees; default: the world's "
                                                      "situation column, else every column")
    instruction: str = Field(INSTRUCTION, description="what the agent is asked")
    max_tokens: int = Field(40, ge=4, le=512)
    temperature: float = Field(0.7, ge=0)

    def observation_reads(self, observed: Mapping[str, Column]) -> list[Reads]:
        """The ``{obs.<col>}`` fields of the persona and observation templates."""
        return [Reads(field, f"the {field} template", PromptTemplate(text).observation_fields)
                for field, text in (("persona", self.persona), ("observation", self.observation)) if text]


def summarize(values: Mapping[str, Any], items: int = 12, chars: int = 80) -> str:
    """``key: value; ...`` over the first ``items`` entries, each value cut to ``chars`` (not fenced)."""
    return "; ".join(f"{k}: {str(plain(v))[:chars]}" for k, v in list(values.items())[:items])


def decision_failure(error: BaseException) -> bool:
    """Whether an error fails one decision (the run goes on) rather than the whole run (a bug, or a
    model that cannot be used at all)."""
    return isinstance(error, ModelError) and not isinstance(error, ModelUnavailableError)


def speech_action(space: Any) -> ActionSpec | None:
    """The action of ``space`` that takes one text argument: what a free-text agent does."""
    return next((spec for spec in space if len(spec.args) == 1
                 and next(iter(spec.args.values())).kind == "str"), None)


class PlayerMind(LanguageMind[PlayerConfig]):
    """Free text from persona and observation; one ``complete`` call per agent, no schema."""

    name = "player"
    Config = PlayerConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        spec = speech_action(self.action_space)
        if spec is None:
            raise ScenarioError(f"the player mind needs an action with one text argument, and this world's are "
                                f"{', '.join(self.action_space.names) or 'none'}; give them as the players of a "
                                "game_master (narrative world) or a translator (any other world)")
        self.speech = spec
        self.argument, arg = next(iter(spec.args.items()))
        self.limit = arg.max_length or 280
        cfg = self.config
        self.persona_template = PromptTemplate(cfg.persona) if cfg.persona else None
        self.observation_template = PromptTemplate(cfg.observation) if cfg.observation else None

    def prompt(self, observations: Observations, i: int) -> str:
        """Who the agent is, what it sees, and the question; every untrusted part fenced."""
        agent = int(observations.agents[i])
        persona, row = self.population.row(agent), observations.row(i)
        lines = []
        if self.persona_template is not None:
            lines.append(self.persona_template.render(persona, row))
        elif self.config.persona is None and persona:
            lines.append("You are: " + fence(summarize(persona), 1200))
        if self.observation_template is not None:
            lines.append(self.observation_template.render(persona, row))
        elif "situation" in row:
            lines.append(fence(str(row["situation"]), 1600))
        else:
            lines.append("You see: " + fence(summarize(row), 1200))
        lines.append(self.config.instruction)
        return "\n".join(lines)

    async def decide(self, observations: Observations) -> Decisions:
        n = len(observations)
        if n == 0:
            return Decisions()
        seed = int(self.rng.integers(2**31))
        sampling = Sampling(max_tokens=self.config.max_tokens, temperature=self.config.temperature, seed=seed,
                            stop=("\n",))
        answers = await asyncio.gather(*(self.complete(self.prompt(observations, i), sampling=sampling)
                                         for i in range(n)), return_exceptions=True)
        self.count(player_calls=n)
        records: list[tuple[int, str, dict[str, Any], str | None]] = []
        failed: list[int] = []
        causes: list[str] = []
        failed_requests: list[str | None] = []
        for agent, answer in zip(observations.agents.tolist(), answers, strict=True):
            if isinstance(answer, BaseException):
                if not decision_failure(answer):
                    raise answer
                assert isinstance(answer, ModelError)
                failed.append(agent)
                causes.append(answer.cause)
                failed_requests.append(answer.request_id)
                continue
            assert isinstance(answer, Completion)
            text = spoken(answer.text, self.limit)
            if not text:
                failed.append(agent)
                causes.append("empty_text")
                failed_requests.append(answer.request_id)
                continue
            records.append((agent, self.speech.name, {self.argument: text}, answer.request_id))
        decisions = Decisions(Actions.from_records(records))
        if failed:
            self.count(player_failed=len(failed))
            decisions.failures.append(Events.failed(np.asarray(failed, dtype=np.int64),
                                                    np.asarray(causes, dtype=object),
                                                    np.asarray(failed_requests, dtype=object)))
        return decisions


def spoken(text: str, limit: int) -> str:
    """A model's free-text answer as one line: its first non-empty line, unquoted, cut to ``limit``."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = line.strip("\"'` ")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


minds.add("player", PlayerMind)
