"""The report's budget and fallback section: what a run spent against its ``budget:``, where it
stopped or stepped its model minds down, and the decisions fallback minds made, by cause, per step."""

from __future__ import annotations

from typing import Any

import pandas as pd

from populace.budget import UNITS, Spending
from populace.errors import PopulaceError
from populace.events import FALLBACK_BY
from populace.report.plots import line_svg
from populace.runs import Run


def budget_section(run: Run, steps: pd.DataFrame) -> dict[str, Any] | None:
    """Caps and spending, the stop or step down, and fallback decisions by cause (with a plot per
    step); None for a run with neither a budget nor a fallback decision."""
    try:
        budget = run.scenario().budget
    except PopulaceError:
        budget = None
    columns = [c for c in steps.columns if c.startswith(FALLBACK_BY)]
    by_cause = {c.removeprefix(FALLBACK_BY): int(steps[c].fillna(0).sum()) for c in columns}
    by_cause = {cause: n for cause, n in sorted(by_cause.items(), key=lambda item: -item[1]) if n}
    if budget is None and not by_cause:
        return None
    spent = Spending.of_steps(steps.to_dict("records"))
    limits = [{"limit": unit, "cap": getattr(budget, name), "spent": getattr(spent, name)}
              for name, unit in UNITS.items() if budget is not None and getattr(budget, name) is not None]
    record = run.manifest().get("budget") or {}
    svg = ""
    if by_cause and "step" in steps:
        svg = line_svg({cause: (steps["step"], steps[FALLBACK_BY + cause].fillna(0)) for cause in by_cause},
                       "decisions made by a fallback per step")
    return {"limits": limits, "on_exhausted": budget.on_exhausted if budget is not None else None,
            "stopped": record.get("stopped"), "degraded_at": record.get("degraded_at"),
            "degraded": record.get("degraded"), "fallback": by_cause, "svg": svg}
