"""The generative tier (after Park et al. 2023, "Generative Agents"): one agent, one model context.

Per agent and step:

1. **plan** — at the first step of each simulated day, a daily outline, then its decomposition
   into hourly activities (two ``complete`` calls); the current hour's activity guides decisions;
2. **retrieve** — the top-``k`` memories by recency, importance and relevance to what the agent
   sees now (see :mod:`populace.minds.memory`);
3. **act** — one ``complete`` call whose output is constrained to the world's action schema and
   parsed into actions; output that does not parse is a failed decision, never a crash. A text the
   agent writes must be its own words (:func:`populace.originality.judge`): one that copies its
   persona, its earlier texts or what it sees, loops, or carries escapes or prompt text is asked
   for once more with a note saying why, and if the second answer is no better, held back (a
   rejected event with the reason) instead of reaching the world;
4. **remember** — what the agent saw and did, in plain words (``I saw: …``, ``I did create_post:
   “…”``), join the memory stream, with an importance rated by the model (``choose`` over 1..10,
   expectation) or, in ``rule`` mode, by kind;
5. **reflect** — once the importance gathered since the last reflection passes ``reflect_at``
   (150 in the paper), up to three insights drawn from recent memories become memories too.

The prompt holds the persona, the latest reflections, the current plan, the top-``k`` memories
and the observation, each cut to a fixed length, so it is bounded however long the run. Retrieval
leaves out the agent's own texts (``writing`` memories: a small model copies what it is shown);
they are kept for reflection and for the check that a new text is not a repeat.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any, Literal

import numpy as np
from pydantic import Field

from populace import originality
from populace.actions import Actions
from populace.events import Events
from populace.llm.base import Completion, ModelError, ModelUnavailableError, Sampling
from populace.minds.base import Decisions, Reads, minds
from populace.minds.language import EncodingMind, LanguageMind, LanguageMindConfig
from populace.minds.memory import MemoryStream
from populace.minds.prompting import PromptTemplate, fence, plain, quote
from populace.world import Column, Observations

NOTHING = "nothing"
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["plan"], "additionalProperties": False,
    "properties": {"plan": {"type": "array", "maxItems": 6, "items": {"type": "string", "maxLength": 80}}},
}
HOURS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["hours"], "additionalProperties": False,
    "properties": {"hours": {"type": "array", "maxItems": 24, "items": {
        "type": "object", "required": ["hour", "activity"], "additionalProperties": False,
        "properties": {"hour": {"type": "integer", "minimum": 0, "maximum": 23},
                       "activity": {"type": "string", "maxLength": 80}}}}},
}
INSIGHTS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["insights"], "additionalProperties": False,
    "properties": {"insights": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 160}}},
}
RULE_IMPORTANCE = {"observation": 2.0, "action": 3.0, "writing": 3.0, "plan": 4.0, "reflection": 8.0}
#: the memories retrieved into a decision prompt: all but the agent's own texts
RECALLED = ("observation", "action", "reflection", "plan")
#: the most characters of an observation in a prompt (a feed of five posts fits)
OBSERVATION_CHARS = 800
#: the note that asks once more for a text that was not the agent's own words
REWRITE = "Your answer was held back: it {reason}. Write something new, in your own words."


class GenerativeConfig(LanguageMindConfig):
    persona: str | None = Field(None, description="template describing the agent; default: its persona columns")
    observation: str | None = Field(None, description="template of what the agent notes; default: every column")
    encoder: str = Field("minilm", description="text encoder for relevance (minilm, or hashing: lexical, no model)")
    importance: Literal["model", "rule"] = Field("rule", description="who rates importance 1-10")
    rule_importance: dict[str, float] = Field(default_factory=lambda: dict(RULE_IMPORTANCE))
    weights: tuple[float, float, float] = Field((1.0, 1.0, 1.0), description="recency, importance, relevance")
    decay: float = Field(0.995, gt=0, le=1, description="recency decay per simulated hour")
    reflect_at: float = Field(150, gt=0, description="importance gathered before reflecting")
    top_k: int = Field(5, ge=0, le=50, description="memories retrieved into each prompt")
    reflections_shown: int = Field(2, ge=0, le=10, description="latest reflections in each prompt")
    plan: bool = Field(True, description="make daily and hourly plans")
    memory_chars: int = Field(200, ge=20, description="cut for each memory in a prompt")
    max_tokens: int = Field(128, ge=8, description="output budget of a decision")
    temperature: float = Field(1.0, ge=0, description="decision sampling; each decision draws its seed from the run's")
    originality: bool = Field(True, description="ask once more for a text that is not the agent's own words, "
                                                "then hold it back")

    def observation_reads(self, observed: Mapping[str, Column]) -> list[Reads]:
        """The ``{obs.<col>}`` fields of the persona and observation templates."""
        return [Reads(field, f"the {field} template", PromptTemplate(text).observation_fields)
                for field, text in (("persona", self.persona), ("observation", self.observation)) if text]


class GenerativeMind(EncodingMind[GenerativeConfig], LanguageMind[GenerativeConfig]):
    """Memory, retrieval, reflection and planning per agent; decisions as schema-constrained JSON."""

    name = "generative"
    Config = GenerativeConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self.persona_template = PromptTemplate(cfg.persona) if cfg.persona else None
        self.observation_template = PromptTemplate(cfg.observation, max_field_chars=OBSERVATION_CHARS,
                                                   readable=True) if cfg.observation else None
        self.memory = MemoryStream(self.encoder.dim)
        self.writing = originality.writing_args(self.action_space)
        self.written: dict[int, list[str]] = {}  # each agent's latest texts, newest last
        self.plans: dict[int, tuple[date, dict[int, str]]] = {}
        self.gathered: dict[int, float] = {}  # importance since the last reflection, per agent
        self.origin: Any = None
        self.schema = _with_nothing(self.action_space.json_schema())


    # -- text --------------------------------------------------------------------------------
    def describe(self, agent: int) -> str:
        """Who the agent is, bounded."""
        row = self.population.row(agent)
        if self.persona_template is not None:
            return self.persona_template.render(row, {})
        return "; ".join(f"{k}: {fence(str(v), 60)}" for k, v in list(row.items())[:12])

    def note(self, observations: Observations, i: int, fenced: bool = False) -> str:
        """What agent ``observations.agents[i]`` notes about this step, bounded: in plain text (to
        remember), or ``fenced`` as it enters a prompt (a template quotes each field, a plain note
        is quoted whole)."""
        row = observations.row(i)
        if self.observation_template is not None:
            persona = self.population.row(int(observations.agents[i]))
            return self.observation_template.render(persona, row, fenced=fenced)
        text = "; ".join(f"{k}: {str(plain(v))[:80]}" for k, v in list(row.items())[:12])
        return quote(text, OBSERVATION_CHARS) if fenced else text

    def prompt(self, agent: int, seen: str, plan: str | None, memories: np.ndarray) -> str:
        """The decision prompt: persona, reflections, plan, retrieved memories, ``seen`` (the fenced
        observation), actions."""
        cap = self.config.memory_chars
        reflections = self.memory.recent(agent, self.config.reflections_shown, "reflection")
        who = self.describe(agent)
        lines = [f"You are agent {agent}." + (f" {who}" if who.strip('" ') else "")]
        if len(reflections):
            lines.append("What you have concluded: " + " ".join(quote(self.memory.text[r], cap) for r in reflections))
        if plan:
            lines.append(f"Your plan for this hour: {quote(plan, 80)}")
        if len(memories):
            lines.append("You remember:")
            lines.extend(f"- {quote(self.memory.text[r], cap)}" for r in memories)
        lines.append(f"Now you see: {seen}")
        lines.append("Actions: " + "; ".join(
            f"{spec.name}({', '.join(spec.args)}): {spec.description}" for spec in self.action_space
        ) + f"; {NOTHING}: do nothing.")
        lines.append('Answer with JSON {"action": ..., "args": {...}}. Say what you think of what you see, '
                     "in your own words.")
        return "\n".join(lines)

    # -- the step ----------------------------------------------------------------------------
    def hour(self, observations: Observations) -> float:
        """Simulated hours since this mind first decided (steps when the world has no clock)."""
        if observations.time is None:
            return float(observations.step)
        if self.origin is None:
            self.origin = observations.time
        return (observations.time - self.origin).total_seconds() / 3600

    async def decide(self, observations: Observations) -> Decisions:
        n = len(observations)
        if n == 0:
            return Decisions()
        hour = self.hour(observations)
        agents = [int(a) for a in observations.agents]
        seen = [self.note(observations, i) for i in range(n)]
        shown = [self.note(observations, i, fenced=True) for i in range(n)]
        if self.config.plan and observations.time is not None:
            await asyncio.gather(*(self._plan(a, observations) for a in agents))
        plans = [self._current_plan(a, observations) for a in agents]
        queries = self.encoder.encode([s if p is None else f"{p}. {s}" for s, p in zip(seen, plans, strict=True)])
        prompts = []
        for i, agent in enumerate(agents):
            best = self.memory.retrieve(agent, queries[i], hour, self.config.top_k, self.config.decay,
                                        self.config.weights, kinds=RECALLED)
            prompts.append(self.prompt(agent, shown[i], plans[i], best))
        seeds = self.rng.integers(0, 2**31 - 1, size=n)  # one per decision: varied, and the same on a rerun
        samplings = [Sampling(max_tokens=self.config.max_tokens, temperature=self.config.temperature, seed=int(seed))
                     for seed in seeds]
        answers = await self._ask(prompts, samplings)
        self.count(generative_agents=n)
        parsed = [_parse(answer, self.action_space.names) for answer in answers]
        verdicts = [self.judge(*decision) for decision in zip(agents, parsed, prompts, strict=True)]
        again = [i for i, verdict in enumerate(verdicts) if verdict is not None]
        if again:  # once more, saying why; another seed
            asked = [f"{prompts[i]}\n{REWRITE.format(reason=verdicts[i])}" for i in again]
            retried = await self._ask(asked, [replace(samplings[i], seed=samplings[i].seed + 1) for i in again])
            for i, prompt, answer in zip(again, asked, retried, strict=True):
                answers[i], parsed[i] = answer, _parse(answer, self.action_space.names)
                verdicts[i] = self.judge(agents[i], parsed[i], prompt)
            self.count(generative_rewrites=len(again))
        records: list[tuple[int, str, dict[str, Any], str | None]] = []
        withheld: list[tuple[int, str, dict[str, Any], str | None]] = []
        reasons: list[str] = []
        failed: list[tuple[int, str, str | None]] = []
        done: list[str] = []
        kinds: list[str] = []
        for agent, answer, decided, verdict in zip(agents, answers, parsed, verdicts, strict=True):
            request = getattr(answer, "request_id", None)
            kinds.append("action")
            if isinstance(decided, str):
                failed.append((agent, decided, request))
                done.append("I could not decide what to do.")
                continue
            action, args = decided
            if verdict is not None:  # not the agent's own words: recorded, never posted, not remembered
                withheld.append((agent, action, args, request))
                reasons.append(verdict)
                done.append("I had nothing new to say.")
                continue
            if action != NOTHING:
                records.append((agent, action, args, request))
            texts = self.texts(action, args)
            if texts:
                kinds[-1] = "writing"
                self.written[agent] = [*self.written.get(agent, []), *texts][-originality.EARLIER:]
            done.append(recount(action, args, self.writing.get(action, ())))
        await self._remember(agents, ["observation"] * n, [f"I saw: {s}" for s in seen], hour)
        await self._remember(agents, kinds, done, hour)
        due = [a for a in agents if self.gathered.get(a, 0.0) >= self.config.reflect_at]
        await asyncio.gather(*(self._reflect(a, hour) for a in due))
        decisions = Decisions(Actions.from_records(records))
        for batch in Actions.from_records(withheld):
            why = np.asarray([r for (_, name, _, _), r in zip(withheld, reasons, strict=True) if name == batch.name],
                             dtype=object)
            decisions.failures.append(Events.rejected(batch, np.ones(len(batch), dtype=bool), why))
        if withheld:
            self.count(generative_withheld=len(withheld))
        if failed:
            decisions.failures.append(Events.failed(
                np.asarray([f[0] for f in failed]), np.asarray([f[1] for f in failed], dtype=object),
                np.asarray([f[2] for f in failed], dtype=object),
            ))
            self.count(generative_failed=len(failed))
        return decisions

    async def _ask(self, prompts: list[str], samplings: list[Sampling]) -> list[Completion | BaseException]:
        """One decision call per prompt, concurrently; a failed call in its place as its error. An
        error that is not one decision's (a bug, a model that cannot be used at all) stops the run."""
        answers = await asyncio.gather(
            *(self.complete(p, sampling=s, schema=self.schema) for p, s in zip(prompts, samplings, strict=True)),
            return_exceptions=True)
        self.count(generative_calls=len(prompts))
        for answer in answers:
            if isinstance(answer, BaseException) and not _decision_failure(answer):
                raise answer
        return list(answers)

    def texts(self, action: str, args: dict[str, Any]) -> list[str]:
        """The texts an action writes (its writing arguments that hold text)."""
        return [args[name] for name in self.writing.get(action, ()) if isinstance(args.get(name), str)
                and args[name].strip()]

    def judge(self, agent: int, decided: tuple[str, dict[str, Any]] | str, prompt: str) -> str | None:
        """Why a decision's text is not the agent's own words (see :func:`populace.originality.judge`;
        ``prompt``, all the agent was shown, stands for what it saw), or None: it writes none, or all
        of it is."""
        if isinstance(decided, str) or not self.config.originality:
            return None
        persona = originality.persona_texts(self.population.row(agent))
        earlier = self.written.get(agent, [])
        for text in self.texts(*decided):
            reason = originality.judge(text, persona, earlier, [prompt])
            if reason is not None:
                return reason
        return None

    # -- memory, importance, reflection, plans --------------------------------------------------
    async def rate(self, texts: list[str], kinds: list[str]) -> np.ndarray:
        """Importance 1-10 of each memory: the model's expected rating, or the rule for its kind."""
        if self.config.importance == "rule":
            return np.asarray([self.config.rule_importance.get(k, 2.0) for k in kinds], dtype=np.float64)
        options = [str(i) for i in range(1, 11)]
        prompts = [
            "On a scale of 1 to 10, where 1 is purely mundane (e.g. brushing teeth) and 10 is extremely "
            f"poignant (e.g. a break up), rate the likely poignancy of this memory: {quote(t, 200)}\nRating:"
            for t in texts
        ]
        answers = await asyncio.gather(*(self.choose(p, options) for p in prompts), return_exceptions=True)
        self.count(generative_calls=len(prompts))
        out = np.empty(len(texts))
        for i, (answer, kind) in enumerate(zip(answers, kinds, strict=True)):
            if isinstance(answer, BaseException) and _decision_failure(answer):
                out[i] = self.config.rule_importance.get(kind, 2.0)  # a lost rating is not a lost decision
            elif isinstance(answer, BaseException):
                raise answer
            else:
                p = np.asarray(answer.probabilities, dtype=np.float64)
                out[i] = float(p @ np.arange(1, 11) / max(p.sum(), 1e-12))
        return out

    async def _remember(self, agents: list[int], kinds: list[str], texts: list[str], hour: float) -> None:
        importance = await self.rate(texts, kinds)
        self.memory.add(np.asarray(agents), kinds, texts, hour, importance, self.encoder.encode(texts))
        for agent, value in zip(agents, importance, strict=True):
            self.gathered[agent] = self.gathered.get(agent, 0.0) + float(value)

    async def _reflect(self, agent: int, hour: float) -> None:
        self.gathered[agent] = 0.0
        recent = self.memory.recent(agent, 20)
        prompt = (f"You are agent {agent}. {self.describe(agent)}\nStatements:\n"
                  + "\n".join(f"- {quote(self.memory.text[r], self.config.memory_chars)}" for r in recent)
                  + '\nWhat at most 3 high-level insights can you infer? JSON {"insights": [...]}')
        try:
            answer = await self.complete(prompt, sampling=Sampling(max_tokens=160), schema=INSIGHTS_SCHEMA)
        except ModelUnavailableError:
            raise
        except ModelError:
            self.count(generative_reflections_failed=1)
            return
        finally:
            self.count(generative_calls=1)
        insights = [str(s)[:160] for s in (_value(answer) or {}).get("insights", [])[:3] if str(s).strip()]
        if insights:
            await self._remember([agent] * len(insights), ["reflection"] * len(insights), insights, hour)
            self.gathered[agent] = 0.0
            self.count(generative_reflections=len(insights))

    async def _plan(self, agent: int, observations: Observations) -> None:
        today = observations.time.date() if observations.time is not None else date.min
        if agent in self.plans and self.plans[agent][0] == today:
            return
        who = f"You are agent {agent}. {self.describe(agent)}\nToday is {today:%A %d %B %Y}."
        try:
            outline = await self.complete(
                who + '\nOutline your day in at most 6 short items. JSON {"plan": [...]}',
                sampling=Sampling(max_tokens=160), schema=PLAN_SCHEMA,
            )
            items = [str(s)[:80] for s in (_value(outline) or {}).get("plan", [])[:6]]
            hourly = await self.complete(
                who + "\nYour plan: " + "; ".join(fence(s, 80) for s in items)
                + '\nBreak it into hours. JSON {"hours": [{"hour": 0-23, "activity": ...}]}',
                sampling=Sampling(max_tokens=320), schema=HOURS_SCHEMA,
            )
            hours = {
                int(h["hour"]): str(h["activity"])[:80] for h in (_value(hourly) or {}).get("hours", [])[:24]
                if isinstance(h, dict) and isinstance(h.get("hour"), int) and 0 <= h["hour"] <= 23
            }
        except ModelUnavailableError:
            raise
        except ModelError:
            self.count(generative_plans_failed=1)
            self.plans[agent] = (today, {})
            return
        finally:
            self.count(generative_calls=2)
        self.plans[agent] = (today, hours)
        if items:
            text = f"My plan for {today:%d %B}: " + "; ".join(items)
            self.memory.add(np.asarray([agent]), ["plan"], [text], self.hour(observations),
                            np.asarray([self.config.rule_importance.get("plan", 4.0)]), self.encoder.encode([text]))

    def _current_plan(self, agent: int, observations: Observations) -> str | None:
        if agent not in self.plans or observations.time is None:
            return None
        return self.plans[agent][1].get(observations.time.hour)


def recount(action: str, args: dict[str, Any], writing: tuple[str, ...] = ()) -> str:
    """What an agent did, in plain words, as it remembers it: ``I did like_post (post_id 3).``,
    ``I did create_post: “Le Monde…”`` (the ``writing`` arguments' text, as written)."""
    if action == NOTHING:
        return "I did nothing."
    said = ", ".join(f"{name} {plain(value)}" for name, value in args.items() if name not in writing)
    text = " ".join(str(args[name]) for name in writing if isinstance(args.get(name), str))
    out = f"I did {action}" + (f" ({said})" if said else "")
    return f"{out}: “{text}”" if text else f"{out}."


def _with_nothing(schema: dict[str, Any]) -> dict[str, Any]:
    """The action schema plus the choice of doing nothing."""
    nothing = {"type": "object", "properties": {"action": {"const": NOTHING}, "args": {"type": "object"}},
               "required": ["action"], "additionalProperties": False}
    return {"oneOf": [*schema.get("oneOf", []), nothing]}


def _decision_failure(error: BaseException) -> bool:
    """Whether an error fails one decision (the run goes on) rather than the whole run."""
    return isinstance(error, ModelError) and not isinstance(error, ModelUnavailableError)


def _value(answer: Completion) -> Any:
    """The parsed JSON of a completion (the client's parse, else the text's), or None."""
    if answer.value is not None:
        return answer.value
    try:
        return json.loads(answer.text)
    except (TypeError, ValueError):
        return None


def _parse(answer: Completion | BaseException, actions: list[str]) -> tuple[str, dict[str, Any]] | str:
    """``(action, args)``, or the cause of a failed decision."""
    if isinstance(answer, ModelError):
        return answer.cause
    assert isinstance(answer, Completion)
    value = _value(answer)
    if not isinstance(value, dict) or not isinstance(value.get("action"), str):
        return "invalid_json"
    args = value.get("args", {})
    if value["action"] not in [*actions, NOTHING] or not isinstance(args, dict):
        return "schema_mismatch"
    return value["action"], args


minds.add("generative", GenerativeMind)
