"""The decision-fidelity figures a report states for the minds a run used.

Figures come from ``<run>/fidelity.json`` when the user measured their model for this run
(``populace eval-model ... --out RUN/fidelity.json``), else from the measurements shipped for the
built-in embedded model and the similarity tier (``populace eval-model`` on this project's
machine). A mind whose model was never measured is listed as such: a run should not pass off
unmeasured model choices as meaningful behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from populace import layout
from populace.errors import PopulaceError
from populace.llm.fidelity import verdict
from populace.runs import Run

SHIPPED = Path(__file__).resolve().parents[1] / "llm" / "measured_fidelity.json"
SHOWN = ("auc", "top_position_share", "valid_json", "seconds_per_decision")


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def fidelity_rows(run: Run) -> list[dict[str, Any]]:
    """One row per mind tier of the run: what it is, and the figures known for it."""
    try:
        scenario = run.scenario()
    except PopulaceError:
        return []
    own, shipped = _load(layout.fidelity_file(run.path)), _load(SHIPPED)
    rows = []
    for spec in scenario.minds:
        params = spec.params()
        if spec.type == "rules":
            continue
        if spec.type == "similarity":
            figures = own.get("similarity tier") or shipped.get("similarity tier") or {}
            source = "this run" if "similarity tier" in own else "shipped measurement"
            label = f"similarity tier ({params.get('encoder', 'minilm')})"
        else:
            model = {**scenario.model, **(params.get("model") or {})}
            backend = model.get("backend", "embedded")
            label = f"{spec.type} on {backend}" + (f" ({model['model']})" if model.get("model") else "")
            if backend in own:
                figures, source = own[backend], "this run"
            elif backend == "embedded" and model.get("model") in (None, "smollm2"):
                figures, source = shipped.get("embedded", {}), "shipped measurement"
            else:
                figures, source = {}, "not measured: run `populace eval-model ... --out RUN/fidelity.json`"
        row: dict[str, Any] = {"mind": label, "agents": spec.select, "source": source}
        row.update({k: figures[k] for k in SHOWN if k in figures})
        if isinstance(figures.get("auc"), int | float):
            row["verdict"] = verdict(figures)
        rows.append(row)
    return rows
