"""The translator tier: free-text agents in any typed world.

Players say what they do in their own words; one call under the world's action schema (plus
``none``, with why) picks the action and its arguments. The world validates the action like any
other, so an impossible one is rejected with its reason; a text no action carries out is
recorded as a rejected ``act`` with the translator's reason, never dropped. Free-text agents
and typed minds (rules, archetype) then share one world.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pydantic import Field

from populace.actions import Actions
from populace.events import Events
from populace.llm.base import ModelError
from populace.minds.base import Decisions, minds
from populace.minds.free_text import SPEECH, FreeTextConfig, FreeTextMind, Said, failures
from populace.minds.player import summarize
from populace.minds.prompting import fence

NONE = "none"


class TranslatorConfig(FreeTextConfig):
    text_limit: int = Field(200, ge=20, le=2000, description="most characters a player may say")


class TranslatorMind(FreeTextMind[TranslatorConfig]):
    """Turns each player's free text into one action of the world's typed action space, or says why none fits."""

    name = "translator"
    Config = TranslatorConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        none = {"type": "object", "required": ["action", "args"], "additionalProperties": False,
                "properties": {"action": {"const": NONE},
                               "args": {"type": "object", "required": ["why"], "additionalProperties": False,
                                        "properties": {"why": {"type": "string", "maxLength": 120}}}}}
        self.schema = {"oneOf": [*self.action_space.json_schema()["oneOf"], none]}
        self.menu = "; ".join(f"{spec.name}({', '.join(spec.args)}): {spec.description}"
                              for spec in self.action_space) + f"; {NONE}(why): no action does it"

    def text_limit(self) -> int:
        return self.config.text_limit

    def prompt(self, said: Said) -> str:
        """What the agent sees and says, and the world's actions; untrusted parts fenced."""
        return "\n".join([
            "You turn what an agent says it does into one action of a simulated world.",
            f"The agent sees: {fence(summarize(said.row), 1200)}",
            f"It says: {fence(said.text, self.text_limit())}",
            f"Actions: {self.menu}.",
            'Answer with JSON {"action": ..., "args": {...}}.',
        ])

    async def interpret(self, said: list[Said]) -> Decisions:
        answers = await self.ask_all([self.prompt(s) for s in said], [self.schema] * len(said))
        records: list[tuple[int, str, dict[str, Any], str | None]] = []
        unfit: list[tuple[Said, str, str | None]] = []
        failed: list[tuple[int, str, str | None]] = []
        for s, interpretation in zip(said, answers, strict=True):
            answer = interpretation.answer
            if isinstance(answer, ModelError):
                failed.append((s.agent, answer.cause, answer.request_id))
                continue
            value = answer.value if isinstance(answer.value, dict) else {}
            action, args = str(value.get("action", NONE)), value.get("args", {})
            if action == NONE:
                unfit.append((s, f"no action fits: {args.get('why', '')}".rstrip(": "), answer.request_id))
            else:
                records.append((s.agent, action, dict(args), answer.request_id))
        decisions = Decisions(Actions.from_records(records), failures(failed))
        if unfit:
            texts = np.asarray([u[0].text for u in unfit], dtype=object)
            spoken = Actions(SPEECH, np.asarray([u[0].agent for u in unfit], dtype=np.int64), {"text": texts},
                             np.asarray([u[2] for u in unfit], dtype=object))
            decisions.failures.append(Events.rejected(spoken, np.ones(len(unfit), dtype=bool),
                                                      np.asarray([u[1] for u in unfit], dtype=object)))
        return decisions

    def canonical(self, value: Any) -> str:
        """Two translations agree when they pick the same action with the same arguments."""
        return json.dumps(value if isinstance(value, dict) else {}, sort_keys=True)


minds.add("translator", TranslatorMind)
