"""The report's and the dashboard's view of a run's interviews (``populace interview``): the latest
answers and, for structured questions, how the answers are spread. Bounded reads: the latest
answers only, and counts made by DuckDB."""

from __future__ import annotations

from typing import Any

from populace import analysis
from populace.analysis.tables import RunLike
from populace.operations.interview import TABLE

#: answers the report lists, the latest first
SHOWN = 50
#: distinct (question, value) counts the report shows
COUNTS_SHOWN = 200


def latest_answers(run: RunLike, limit: int = SHOWN, agent: int | None = None) -> list[dict[str, Any]]:
    """The run's latest ``limit`` answers (of one agent, if given), newest first."""
    if not analysis.has_table(run, TABLE):
        return []
    where = "" if agent is None else f"WHERE agent = {int(agent)}"
    rows = analysis.query(run, f"SELECT * FROM {{{TABLE}}} {where} ORDER BY asked DESC, interview DESC, agent "
                               f"LIMIT {int(limit)}")
    return [{k: (None if v != v else v) for k, v in row.items()} for row in rows.to_dict("records")]


def interview_section(run: RunLike) -> dict[str, Any] | None:
    """What the report shows of the interviews: how many answers, the latest :data:`SHOWN`, and the
    counts of each structured question's answers; None when the run has no interviews."""
    if not analysis.has_table(run, TABLE):
        return None
    total = analysis.query(run, f"SELECT count(*) AS n, count(DISTINCT interview) AS asked FROM {{{TABLE}}}")
    counts = analysis.query(run, f"SELECT question, value, count(*) AS n FROM {{{TABLE}}} WHERE value IS NOT NULL "
                                 f"GROUP BY ALL ORDER BY question, value LIMIT {COUNTS_SHOWN}")
    spread: dict[str, list[tuple[str, int]]] = {}
    for row in counts.itertuples():
        spread.setdefault(str(row.question), []).append((str(row.value), int(row.n)))
    return {"answers": latest_answers(run), "total": int(total["n"].iloc[0]),
            "interviews": int(total["asked"].iloc[0]), "spread": spread, "shown": SHOWN}
