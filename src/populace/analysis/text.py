"""What a run's language-model agents wrote, and how much of it is their own words.

Over the texts a model wrote (the writing arguments of events that name a model request: posts,
comments, messages, answers; see :func:`populace.originality.writing_args`), measured:

- **distinct**: distinct texts (compared by their words, see :func:`populace.originality.normalise`)
  per text; 1 when every text differs;
- **persona**: the share that copies its author's persona text (a bio, a description);
- **earlier**: the share that repeats one of its author's earlier texts;
- **echo**: the share that carries the prompt's machinery (escape sequences, JSON, role tags, the
  prompt's own phrases);
- **loops**: the share that goes round in a loop;
- **wordless**: the share that says nothing in words (digits, symbols).

A text the generative mind held back (rejected with an originality reason) still counts: these
are measures of what the model wrote, not of what the world let through. The report reads them
with :func:`model_writing`, a bounded query over the last :data:`TEXT_LIMIT` texts.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from populace import layout, originality
from populace.analysis.snapshots import agent_count, population_at, snapshot_steps
from populace.analysis.tables import RunLike, parse_json, query, run_path, sql_strings
from populace.errors import PopulaceError
from populace.runs import Run

#: the most recent texts measured (a run's report stays bounded however much its agents wrote)
TEXT_LIMIT = 5_000
#: below this distinct share, the model mostly repeats texts: the run's posts say little
DISTINCT_WARNING = 0.5
#: above this share of copies (of the persona, earlier texts) or echoes, the model's output is degenerate
COPY_WARNING = 0.2
COLUMNS = ["step", "agent", "action", "outcome", "reason", "text"]


@dataclass(frozen=True)
class WritingMeasures:
    """How original the texts of one run's models are (shares of ``texts``)."""

    texts: int
    authors: int
    distinct: float
    persona: float | None  # None where the authors' personas are not known
    earlier: float
    echo: float
    loops: float
    wordless: float
    withheld: int  # texts the mind held back as not the author's own words

    def warnings(self) -> list[str]:
        """One line per sign of degenerate output (thresholds :data:`DISTINCT_WARNING`, :data:`COPY_WARNING`)."""
        out = []
        if self.texts and self.distinct < DISTINCT_WARNING:
            out.append(f"only {self.distinct:.0%} of the {self.texts:,} texts the model wrote are distinct")
        for share, what in ((self.persona, "copy their author's persona"), (self.earlier, "repeat their author's "
                            "earlier texts"), (self.echo, "carry escapes or prompt text"), (self.loops, "loop"),
                            (self.wordless, "have no words")):
            if share is not None and share > COPY_WARNING:
                out.append(f"{share:.0%} of the texts the model wrote {what}")
        return out


def writing_actions(run: RunLike) -> dict[str, tuple[str, ...]] | None:
    """The run's world's writing arguments per action, or None when its scenario cannot be read."""
    try:
        from populace.world import worlds

        scenario = Run.open(run_path(run)).scenario()
        return originality.writing_args(worlds.get(scenario.world.type).actions)
    except PopulaceError:
        return None


def authored_texts(run: RunLike, limit: int = TEXT_LIMIT) -> pd.DataFrame:
    """The last ``limit`` texts a model wrote, in recorded order: ``step, agent, action, outcome,
    reason, text`` (one row per writing argument; every string argument where the world is unknown)."""
    writing = writing_actions(run)
    if writing is not None and not writing:
        return pd.DataFrame(columns=COLUMNS)
    where = f"AND action IN ({sql_strings(list(writing))})" if writing else ""
    frame = query(run, "SELECT step, agent, action, outcome, reason, args FROM {events} "
                       f"WHERE request IS NOT NULL AND args IS NOT NULL {where} "
                       f"ORDER BY step DESC, filename DESC, file_row_number DESC LIMIT {int(limit)}",
                  positions=True)
    rows = []
    for step, agent, action, outcome, reason, args in frame.iloc[::-1].itertuples(index=False):
        values = parse_json(args)
        names = writing.get(action, ()) if writing else tuple(values)
        for name in names:
            text = values.get(name)
            if isinstance(text, str) and text.strip():
                rows.append((int(step), int(agent), action, outcome, reason, text))
    return pd.DataFrame(rows, columns=COLUMNS)


def personas(run: RunLike, agents: Sequence[int], max_bytes: int | None = None) -> dict[int, list[str]] | None:
    """The persona texts of ``agents`` (:func:`populace.originality.persona_texts`) from the run's
    last snapshot (only their rows are read), or None where it has none, or one bigger than
    ``max_bytes``."""
    try:
        steps = snapshot_steps(run)
        if not steps:
            return None
        if max_bytes is not None and layout.snapshot_file(run_path(run), steps[-1]).stat().st_size > max_bytes:
            return None
        size = agent_count(run, steps[-1])
        wanted = sorted({int(a) for a in agents if 0 <= a < size})
        population = population_at(run, steps[-1], wanted)
    except PopulaceError:
        return None
    texts = {agent: originality.persona_texts(population.row(k)) for k, agent in enumerate(wanted)}
    return {int(a): texts[int(a)] for a in agents if int(a) in texts}


def text_measures(texts: pd.DataFrame, persona: Mapping[int, Sequence[str]] | None = None) -> WritingMeasures:
    """The measures of ``texts`` (``agent, text`` and ``reason``, in the order written; see
    :func:`authored_texts`) given each author's persona texts (None: not measured)."""
    n = len(texts)
    earlier: dict[int, deque[set[tuple[str, ...]]]] = defaultdict(lambda: deque(maxlen=originality.EARLIER))
    normalised: set[str] = set()
    persona_pairs = {a: [originality.pairs(t) for t in ts] for a, ts in (persona or {}).items()}
    copied = repeated = echoed = looped = empty = 0
    for agent, text in zip(texts["agent"].astype(int), texts["text"].astype(str), strict=True):
        normalised.add(originality.normalise(text))
        copied += any(originality.copies(text, p) for p in persona_pairs.get(agent, ()))
        repeated += any(originality.copies(text, p) for p in earlier[agent])
        echoed += originality.echo(text) is not None
        looped += originality.loops(text)
        empty += originality.wordless(text)
        earlier[agent].append(originality.pairs(text))
    withheld = int(texts["reason"].isin(originality.REASONS).sum()) if "reason" in texts else 0

    def share(count: int) -> float:
        return count / n if n else 0.0

    return WritingMeasures(
        texts=n, authors=int(texts["agent"].nunique()) if n else 0,
        distinct=len(normalised) / n if n else 1.0,
        persona=None if persona is None else share(copied),
        earlier=share(repeated), echo=share(echoed), loops=share(looped),
        wordless=share(empty), withheld=withheld,
    )


def model_writing(run: RunLike, limit: int = TEXT_LIMIT) -> WritingMeasures | None:
    """The measures of the last ``limit`` texts the run's models wrote, or None when they wrote none."""
    texts = authored_texts(run, limit)
    if texts.empty:
        return None
    return text_measures(texts, personas(run, sorted(set(texts["agent"].astype(int)))))
