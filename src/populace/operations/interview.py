"""``populace interview RUN --at STEP "question"``: ask agents what they think as of a step, after the
fact, without changing the run.

The agents are restored from the run's checkpoint at or before ``STEP`` (their state *after* that
many steps; a run without one before it answers from its start), and each is asked by the model its
own mind asks, on a basis that depends on its mind:

* a generative agent (``memories``): its persona, its latest reflections and the memories it
  retrieves for the question (by recency, importance and relevance, as when it decides);
* an archetype agent (``group prompt``): the prompt its group is asked each step, its persona, what
  it sees at that step and its recorded actions;
* an agent whose mind asks no model (rules, similarity) is answered by the run's model
  (``recorded actions``) from its persona and its last recorded actions before that step: the model
  speaks for it, and the answer is labelled so; so is any other model mind's agent.

Only the ``interviews/`` table and the response cache are written: the run's events, steps,
metrics and checkpoints stay as they were, and the restored state is never saved. Questions are
asked at temperature 0, so the same question to the same agent at the same step is answered from
the cache. With a JSON schema (``--structured``, e.g. ``{"type": "integer", "minimum": 1,
"maximum": 5}``) every answer is validated JSON, and the answers' distribution can be counted.

Each answer is a row of ``<run>/interviews/*.parquet``: interview, asked, at, step, agent, tier,
basis, question, answer, value (the JSON of a structured answer), model, tokens, cached, error.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from populace import analysis, layout
from populace.context import MindContext
from populace.errors import PopulaceError, PopulationError, RunError
from populace.llm.base import Completion, ModelError, Sampling
from populace.minds.archetype import ArchetypeMind
from populace.minds.base import Mind
from populace.minds.fallback import FallbackMind
from populace.minds.generative import GenerativeMind
from populace.minds.language import LanguageMind, ModelClient
from populace.minds.prompting import fence, plain
from populace.runs import Run
from populace.simulation import locate
from populace.trace import load_checkpoint, write_part
from populace.world import Observations

#: the run-store table of answers
TABLE = layout.INTERVIEWS
#: who is asked: a population query, or agent ids
Selection = str | Sequence[int] | None
#: what an answer rests on, by the agent's mind
MEMORIES, GROUP_PROMPT, RECORDED_ACTIONS = "memories", "group prompt", "recorded actions"
#: agents asked when neither ``agents`` nor ``sample`` is given
DEFAULT_SAMPLE = 10
#: recorded actions shown to the model, and the characters of each one's arguments
ACTIONS_SHOWN, ARGS_CHARS = 10, 120
#: the answer's length in tokens
ANSWER_TOKENS = 160
QUESTION_CHARS = 500


@dataclass
class Answer:
    """One agent's answer (``answer`` None and ``error`` set when the model failed)."""

    agent: int
    tier: str  # the agent's mind: generative, archetype, rules, ...
    basis: str  # memories, group prompt or recorded actions
    answer: str | None
    value: Any = None  # the parsed JSON of a structured answer
    model: str = ""
    tokens: int = 0
    cached: bool = False
    error: str | None = None


@dataclass
class Interview:
    """A question put to some agents of a run as of a step."""

    run: Path
    question: str
    at: int  # the step asked for
    step: int  # the checkpoint the agents were restored from (their state after this many steps)
    answers: list[Answer] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    id: str = ""
    table: Path | None = None  # the Parquet part the answers were written to

    def distribution(self) -> dict[str, Counter[Any]]:
        """Counts of each structured answer's values: ``{"": Counter}`` for a scalar answer, one
        counter per scalar field for an object. Empty for free-text answers."""
        counts: dict[str, Counter[Any]] = {}
        for answer in self.answers:
            if answer.error is not None or self.schema is None:
                continue
            items = answer.value.items() if isinstance(answer.value, dict) else [("", answer.value)]
            for key, value in items:
                if isinstance(value, str | int | float | bool) or value is None:
                    counts.setdefault(key, Counter())[value] += 1
        return counts


def interview(run_path: Path | str, question: str, *, at: int | None = None, agents: Selection = None,
              sample: int | None = None, schema: dict[str, Any] | None = None,
              model: Mapping[str, Any] | None = None, seed: int = 0, record: bool = True,
              clients: Mapping[str, ModelClient] | None = None) -> Interview:
    """Ask ``question`` to the agents ``agents`` selects (a population query or a list of ids;
    default all) or to
    ``sample`` of them drawn with ``seed`` (default: :data:`DEFAULT_SAMPLE`), as of step ``at``
    (default: the run's last). ``model`` changes the model spec every agent is asked with (its own
    mind's, or the run's for agents whose mind asks none), e.g. ``{"timeout": 300}``; ``clients``
    (tests) replaces the client by ``"run"`` (the run's) or a mind's type name.
    ``record``: append the answers to the run's ``interviews`` table."""
    return asyncio.run(ainterview(run_path, question, at=at, agents=agents, sample=sample, schema=schema,
                                  model=model, seed=seed, record=record, clients=clients))


async def ainterview(run_path: Path | str, question: str, *, at: int | None = None, agents: Selection = None,
                     sample: int | None = None, schema: dict[str, Any] | None = None,
                     model: Mapping[str, Any] | None = None, seed: int = 0, record: bool = True,
                     clients: Mapping[str, ModelClient] | None = None) -> Interview:
    """:func:`interview` inside a running event loop (the dashboard's)."""
    run = Run.open(Path(run_path))
    question = " ".join(question.split())
    if not question:
        raise PopulaceError("the question is empty")
    if len(question) > QUESTION_CHARS:
        raise PopulaceError(f"the question has {len(question)} characters; ask in at most {QUESTION_CHARS}")
    done = int(run.manifest().get("steps_done") or 0)
    at = done if at is None else at
    if not 0 <= at <= done:
        raise RunError(f"--at {at}: {run.id} has {done} steps recorded; choose a step from 0 to {done}")
    scenario = run.scenario()
    step = analysis.checkpoint_at_or_before(run, at)
    state = load_checkpoint(run.path, step) if step is not None else _start_state(run)
    step = step or 0
    population = state["population"]
    chosen = _choose(population, agents, sample, seed)
    from populace.llm.client import LanguageModel

    context = MindContext(run.path, dict(scenario.model), plugins=tuple(scenario.plugins))
    changes = dict(model or {})
    given = dict(clients or {})
    for mind in _minds(state):
        mind.attach(context)
        if isinstance(mind, LanguageMind):  # its own model, with the interview's changes (a longer timeout, ...)
            own = getattr(mind.config, "model", None) or {}
            mind.use_model(given.get(mind.name) or LanguageModel.from_spec({**own, **changes}, context))
    run_model: ModelClient | None = given.get("run")
    time = scenario.clock.clock().time(step)
    found = Interview(run.path, question, at, step, schema=schema,
                      id=f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}")

    async def ask(agent: int) -> Answer:
        nonlocal run_model
        mind, world, local = _mind_of(state, agent)
        tier = "none" if mind is None else mind.name or type(mind).__name__
        if isinstance(mind, GenerativeMind):
            prompt, client, basis = _memories_prompt(mind, agent, question, step, time), mind.llm, MEMORIES
        elif isinstance(mind, ArchetypeMind):
            prompt = _group_prompt(run, mind, world, agent, local, question, step, time)
            client, basis = mind.llm, GROUP_PROMPT
        else:
            if isinstance(mind, LanguageMind):
                client = mind.llm
            else:
                if run_model is None:
                    run_model = LanguageModel.from_spec(changes, context)
                client = run_model
            prompt, basis = _actions_prompt(run, population, agent, question, step), RECORDED_ACTIONS
        if schema is not None:
            prompt += f"\nAnswer with JSON that fits this schema: {json.dumps(schema)}"
        try:
            completion = await client.complete(prompt, sampling=Sampling(max_tokens=ANSWER_TOKENS, temperature=0.0),
                                               schema=schema)
        except ModelError as exc:
            return Answer(agent, tier, basis, None, model=_model_name(client), error=exc.cause)
        return _answer(agent, tier, basis, completion, _model_name(client), schema)

    try:
        found.answers = list(await asyncio.gather(*(ask(int(a)) for a in chosen)))
    finally:
        for client in context.shared.values():  # the clients made here (not those a test handed in)
            if isinstance(client, LanguageModel):
                await client.aclose()
    if record and found.answers:
        found.table = _record(run, found)
    return found


def _answer(agent: int, tier: str, basis: str, completion: Completion, model: str,
            schema: dict[str, Any] | None) -> Answer:
    value = completion.value if schema is not None else None
    text = completion.text.strip()
    tokens = completion.tokens_in + completion.tokens_out
    return Answer(agent, tier, basis, text, value, model, tokens, completion.cached)


def _start_state(run: Run) -> dict[str, Any]:
    """The state a run starts from, for a step before its first checkpoint."""
    from populace.simulation import Simulation

    return Simulation(run.scenario(), None)._state()


def _choose(population: Any, agents: Selection, sample: int | None, seed: int) -> np.ndarray:
    """The ids asked: those ``agents`` selects, or ``sample`` of them (default :data:`DEFAULT_SAMPLE`
    when no selector is given) drawn with ``seed``, ascending."""
    if agents is None:
        ids = np.arange(population.size)
    elif not isinstance(agents, str):
        ids = np.unique(np.asarray(agents, dtype=np.int64))
        outside = ids[(ids < 0) | (ids >= population.size)]
        if len(outside):
            raise PopulaceError(f"agent {int(outside[0])} is not in this run (agents 0 to {population.size - 1})")
    else:
        try:
            ids = population.select(agents)
        except PopulationError as exc:
            raise PopulaceError(f"--agents: {exc}") from None
    if len(ids) == 0:
        raise PopulaceError(f"--agents {agents!r}: no agent matches")
    if sample is None and agents is None:
        sample = DEFAULT_SAMPLE
    if sample is not None:
        if sample < 1:
            raise PopulaceError(f"--sample {sample}: ask at least 1 agent")
        if sample < len(ids):
            ids = np.sort(np.random.default_rng(seed).choice(ids, size=sample, replace=False))
    return np.asarray(ids, dtype=np.int64)


def _minds(state: Mapping[str, Any]) -> list[Mind]:
    """Every mind of a checkpoint's state (a region's too), fallback chains unwrapped."""
    found: list[Mind] = []
    for mind in [*state.get("minds", []), *(m for r in state.get("regions") or [] for m in r.minds)]:
        found.extend(mind.chain if isinstance(mind, FallbackMind) else [mind])
    return found


def _mind_of(state: Mapping[str, Any], agent: int) -> tuple[Mind | None, Any, int]:
    """The mind that decides for ``agent`` (a fallback chain's declared one; None for an agent no
    mind selects), its world (its region's part of it) and its id there."""
    place = locate(state, agent)
    owner, shards = (state["regions"][place.region].mind_of[place.agent], state["regions"][place.region].minds) \
        if place.region is not None else (state["mind_of"][agent], state["minds"])
    mind = shards[int(owner)] if int(owner) >= 0 else None
    return (mind.primary if isinstance(mind, FallbackMind) else mind), place.world, place.agent


def _persona(population: Any, agent: int) -> str:
    return "; ".join(f"{k}: {fence(str(plain(v)), 60)}" for k, v in list(population.row(agent).items())[:12])


def _asked(question: str) -> str:
    return (f"You are asked: {fence(question, QUESTION_CHARS)}\n"
            "Answer as yourself, in one to three sentences.")


def _memories_prompt(mind: GenerativeMind, agent: int, question: str, step: int, time: datetime) -> str:
    """A generative agent's persona, latest reflections and the memories it retrieves for the question."""
    cfg = mind.config
    hour = mind.hour(Observations(np.asarray([agent]), {}, step, time))
    query = mind.encoder.encode([question])[0]
    memories = mind.memory.retrieve(agent, query, hour, max(cfg.top_k, 5), cfg.decay, cfg.weights)
    reflections = mind.memory.recent(agent, cfg.reflections_shown, "reflection")
    lines = [f"You are agent {agent}. {mind.describe(agent)}"]
    if len(reflections):
        lines.append("What you have concluded: " + " ".join(fence(str(mind.memory.text[r]), cfg.memory_chars)
                                                          for r in reflections))
    if len(memories):
        lines.append("You remember:")
        lines.extend(f"- {fence(str(mind.memory.text[r]), cfg.memory_chars)}" for r in memories)
    else:
        lines.append("You remember nothing yet.")
    lines.append(_asked(question) + " Say what you remember that makes you think so.")
    return "\n".join(lines)


def _group_prompt(run: Run, mind: ArchetypeMind, world: Any, agent: int, local: int, question: str, step: int,
                  time: datetime) -> str:
    """An archetype agent's group prompt (as its group is asked each step), persona, observation and actions."""
    lines = [f"You are agent {agent}. {_persona(mind.population, local)}"]
    observations = world.observe(np.asarray([local], dtype=np.int64))
    observations.step, observations.time = step, time
    _, groups = mind.group(observations)
    lines.append(f"Each step you and the agents like you are asked: {fence(mind.prompt(groups[0]), 1200)}")
    seen = "; ".join(f"{k}: {str(plain(v))[:80]}" for k, v in list(observations.row(0).items())[:12])
    lines.append(f"What you see now: {fence(seen, 1000)}")
    lines.extend(_actions(run, agent, step))
    lines.append(_asked(question))
    return "\n".join(lines)


def _actions_prompt(run: Run, population: Any, agent: int, question: str, step: int) -> str:
    """An agent without a model of its own: its persona and recorded actions, for the run's model."""
    lines = [f"You speak for agent {agent} of a simulation. About them: {_persona(population, agent)}",
             *_actions(run, agent, step),
             f"They are asked: {fence(question, QUESTION_CHARS)}\n"
             "Answer as they would, in one to three sentences, from who they are and what they did."]
    return "\n".join(lines)


def _actions(run: Run, agent: int, step: int) -> list[str]:
    """The agent's last recorded actions before ``step`` (a bounded read of the newest parts), oldest first."""
    if step == 0:
        return ["No recorded actions yet."]
    rows = analysis.latest(run, layout.EVENTS, "agent = $agent AND step < $step",
                           {"agent": int(agent), "step": int(step)}, limit=ACTIONS_SHOWN, upto=step - 1)
    if rows.empty:
        return ["No recorded actions yet."]
    lines = ["Recorded actions, oldest first:"]
    for row in rows.iloc[::-1].itertuples():
        outcome = row.outcome if not row.reason else f"{row.outcome}: {row.reason}"
        args = fence(str(row.args), ARGS_CHARS) if row.args else ""
        lines.append(f"- step {int(row.step)}: {row.action} {args} ({outcome})".replace("  ", " "))
    return lines


def _model_name(client: Any) -> str:
    backend = getattr(client, "backend", None)
    return str(getattr(backend, "name", "") or type(client).__name__)


#: the interviews table's columns
SCHEMA = pa.schema([
    ("interview", pa.string()), ("asked", pa.timestamp("s", tz="UTC")), ("at", pa.int32()), ("step", pa.int32()),
    ("agent", pa.int64()), ("tier", pa.string()), ("basis", pa.string()), ("question", pa.string()),
    ("answer", pa.string()), ("value", pa.string()), ("model", pa.string()), ("tokens", pa.int64()),
    ("cached", pa.bool_()), ("error", pa.string()),
])


def _record(run: Run, found: Interview) -> Path:
    """Append the answers to ``<run>/interviews/`` as one Parquet part (named by step, so bounded
    readers find them as they find a trace's parts)."""
    asked = datetime.now(UTC).replace(microsecond=0)
    rows = [{**asdict(a), "value": None if a.value is None and found.schema is None else json.dumps(a.value),
             "interview": found.id, "asked": asked, "at": found.at, "step": found.step, "question": found.question}
            for a in found.answers]
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    path = layout.interview_file(run.path, found.step, found.id)
    path.parent.mkdir(exist_ok=True)
    try:
        write_part(path, table)
    except OSError as exc:
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def summary(found: Interview) -> list[str]:
    """The distribution of structured answers, one line per field: ``rating: 1 ×2, 4 ×5 (mean 3.1 of 7)``."""
    lines = []
    for key, counts in found.distribution().items():
        try:
            ordered = sorted(counts.items())
        except TypeError:  # values of mixed types
            ordered = sorted(counts.items(), key=lambda item: str(item[0]))
        shown = ", ".join(f"{value} ×{n}" for value, n in ordered)
        numbers = [v for v in counts.elements() if isinstance(v, int | float) and not isinstance(v, bool)]
        mean = f" (mean {sum(numbers) / len(numbers):.2f} of {len(numbers)})" if numbers else ""
        lines.append(f"{key or 'answers'}: {shown}{mean}")
    return lines
