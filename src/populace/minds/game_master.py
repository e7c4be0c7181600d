"""The game master tier (after Concordia): players act in free text, a model rules what happens.

For each action a player takes, one call under a JSON schema asks for the ruling: what happened,
the state changes it causes as typed operations among the agents present (the world hands the
schema over in its ``changes_schema`` column), and what named agents are told. The ruling goes
to the world as an ``act``; the world applies it only if every change holds in its typed state,
and otherwise records it rejected with the reason. Concordia's game master asks a chain of
free-text questions per item and per player and clamps what it gets into bounds; here the
ruling is one constrained call, and conservation is the ledger's, not the model's, to keep.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pydantic import Field

from populace.actions import Actions
from populace.errors import ScenarioError
from populace.llm.base import Completion, ModelError
from populace.minds.base import Decisions, minds
from populace.minds.free_text import FreeTextConfig, FreeTextMind, Said, failures
from populace.minds.prompting import fence
from populace.world import Observations

#: what the world's ``act`` must carry for a game master to rule through it
RULING_ARGS = ("text", "ruling", "changes", "tell", "recheck")


class GameMasterConfig(FreeTextConfig):
    happened_chars: int = Field(100, ge=20, le=400, description="most characters of what happened")
    tells: int = Field(2, ge=0, le=10, description="most agents told something in one ruling (0: the "
                                                   "ruling tells no one in particular)")


class GameMasterMind(FreeTextMind[GameMasterConfig]):
    """Rules on each player's free-text action with one schema-constrained call."""

    name = "game_master"
    Config = GameMasterConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self._rules_through_act():
            raise ScenarioError(f"the game master rules through an act carrying {', '.join(RULING_ARGS)} (the "
                                f"narrative world); this world's actions are {', '.join(self.action_space.names)}: "
                                "use a translator to act in it in free text")

    @property
    def gm(self) -> GameMasterConfig:
        return self.config

    def _rules_through_act(self) -> bool:
        return "act" in self.action_space and set(RULING_ARGS) <= set(self.action_space["act"].args)

    def text_limit(self) -> int:
        if self._rules_through_act():
            return self.action_space["act"].args["text"].max_length or 200
        return super().text_limit()

    def acting(self, observations: Observations) -> np.ndarray:
        if "acting" in observations.columns:
            return np.asarray(observations["acting"], dtype=bool)
        return super().acting(observations)

    def schema(self, row: dict[str, Any]) -> dict[str, Any]:
        """The ruling's JSON schema: what happened, the changes the world allows, who is told what."""
        here = list(row.get("here", ()))
        tell = {"type": "object", "required": ["to", "text"], "additionalProperties": False,
                "properties": {"to": {"type": "string", "enum": here}, "text": {"type": "string", "maxLength": 120}}}
        properties: dict[str, Any] = {"happened": {"type": "string", "maxLength": self.gm.happened_chars},
                                      "changes": row.get("changes_schema", {"type": "array", "maxItems": 0})}
        if self.gm.tells and here:
            properties["tell"] = {"type": "array", "maxItems": self.gm.tells, "items": tell}
        return {"type": "object", "required": ["happened", "changes"], "additionalProperties": False,
                "properties": properties}

    def prompt(self, said: Said) -> str:
        """The ruling prompt: premise, scene, the facts, the action; untrusted parts fenced."""
        row = said.row
        name = fence(str(row.get("name", f"agent {said.agent}")), 60)
        lines = ["You are the game master of a story: you decide what happens and keep the facts true."]
        if row.get("premise"):
            lines.append(str(row["premise"])[:400])
        lines.append(f"Scene: {fence(str(row.get('scene', '')), 80)} at {fence(str(row.get('place', '')), 60)}.")
        if row.get("ledger"):
            lines.append(f"Facts: {fence(str(row['ledger']), 800)}")
        if row.get("goal"):
            lines.append(f"{name} wants: {fence(str(row['goal']), 160)}")
        lines.append(f"{name} does: {fence(said.text, self.text_limit())}")
        kinds = [_signature(alt) for alt in row.get("changes_schema", {}).get("items", {}).get("oneOf", [])]
        lines.append("Say in one sentence what happens, and list only the changes it causes (none if nothing "
                     "changes): a transfer is between two different agents, and nobody gives what they do not have.")
        if kinds:
            lines.append("Changes: " + "; ".join(kinds) + ".")
        lines.append('Answer with JSON {"happened": ..., "changes": [{"op": ..., ...}]}.')
        return "\n".join(lines)

    async def interpret(self, said: list[Said]) -> Decisions:
        answers = await self.ask_all([self.prompt(s) for s in said], [self.schema(s.row) for s in said])
        records: list[tuple[int, str, dict[str, Any], str | None]] = []
        failed: list[tuple[int, str, str | None]] = []
        for s, interpretation in zip(said, answers, strict=True):
            answer = interpretation.answer
            if isinstance(answer, ModelError):
                failed.append((s.agent, answer.cause, answer.request_id))
                continue
            value = _ruling(answer)
            records.append((s.agent, "act", {
                "text": s.text, "ruling": str(value.get("happened", "")),
                "changes": json.dumps(value.get("changes", [])), "tell": json.dumps(value.get("tell", [])),
                "recheck": interpretation.recheck,
            }, answer.request_id))
        return Decisions(Actions.from_records(records), failures(failed))

    def canonical(self, value: Any) -> str:
        """Two rulings agree when they propose the same changes (however worded)."""
        changes = value.get("changes", []) if isinstance(value, dict) else []
        return json.dumps(sorted(json.dumps(c, sort_keys=True) for c in changes))


def _ruling(answer: Completion) -> dict[str, Any]:
    """The parsed ruling (the client validated it against the schema)."""
    return answer.value if isinstance(answer.value, dict) else {}


def _signature(alternative: dict[str, Any]) -> str:
    """``transfer(from, to, variable, amount)`` from one operation's schema."""
    properties = alternative.get("properties", {})
    name = properties.get("op", {}).get("const", "?")
    return f"{name}({', '.join(p for p in properties if p != 'op')})"


minds.add("game_master", GameMasterMind)
