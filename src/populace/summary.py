"""Read-side summaries of a run directory, via DuckDB over its Parquet parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from populace import layout
from populace.events import FAILED_BY, FALLBACK_BY, OK, REJECTED
from populace.health import MODEL_DECISIONS, RunHealth


def _parts(path: Path, table: str) -> str | None:
    return str(layout.table_dir(path, table) / layout.PARTS) if layout.has_parts(path, table) else None


def query(path: Path, sql: str, **tables: str) -> list[dict[str, Any]]:
    """Run ``sql`` where ``{events}``, ``{steps}``, ``{metrics}`` name the run's tables."""
    import duckdb

    sources = {}
    for name in layout.TABLES:
        parts = _parts(path, name)
        sources[name] = f"read_parquet('{parts}', union_by_name=true)" if parts else None
    if any(sources[name] is None for name in tables.values()):
        return []
    with duckdb.connect() as con:
        cursor = con.execute(sql.format(**{k: sources[v] for k, v in tables.items()}))
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def summarise(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Counts per action and outcome, a per-step table (first/last steps), and model usage."""
    per_action = query(path, """
        SELECT action, outcome, count(*) AS events, count(DISTINCT agent) AS agents
        FROM {e} GROUP BY ALL ORDER BY action, outcome""", e=layout.EVENTS)
    per_step = query(path, """
        SELECT * EXCLUDE (time) FROM {s} ORDER BY step""", s=layout.STEPS)
    usage = model_usage(per_step)
    if len(per_step) > 12:
        per_step = per_step[:6] + per_step[-6:]
    return {"events per action": per_action, "steps": per_step, "model usage": usage,
            "final metrics": [{"metric": k, "value": v} for k, v in final_metrics(path).items()]}


def model_usage(per_step: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run totals of the ``llm_*`` step counters (calls, cache hits, failures, tokens, seconds)."""
    columns = [k for k in (per_step[0] if per_step else {}) if k.startswith("llm_")]
    totals = {k.removeprefix("llm_"): sum(float(row.get(k) or 0) for row in per_step) for k in columns}
    if "calls" in totals and "cache_hits" in totals:
        asked = totals["calls"] + totals["cache_hits"]
        totals["cache_hit_rate"] = totals["cache_hits"] / asked if asked else 0.0
    return [{"counter": k, "total": v} for k, v in totals.items()]


def final_metrics(path: Path) -> dict[str, float]:
    rows = query(path, """
        SELECT metric, arg_max(value, step) AS value FROM {m} GROUP BY metric ORDER BY metric""",
                 m=layout.METRICS)
    return {r["metric"]: float(r["value"]) for r in rows}


def run_health(path: Path) -> RunHealth:
    """The run's health figures (:mod:`populace.health`), summed over its step table by DuckDB."""
    described = query(path, "SELECT column_name FROM (DESCRIBE SELECT * FROM {s})", s=layout.STEPS)
    wanted = {MODEL_DECISIONS, OK, REJECTED, "llm_calls", "llm_cache_hits"}
    columns = [r["column_name"] for r in described
               if r["column_name"] in wanted or r["column_name"].startswith((FAILED_BY, FALLBACK_BY))]
    if not columns:
        return RunHealth()
    quoted = ['"' + c.replace('"', '""') + '"' for c in columns]
    sums = ", ".join(f"sum({q}) AS {q}" for q in quoted)
    rows = query(path, f"SELECT {sums} FROM {{s}}", s=layout.STEPS)
    return RunHealth.of_step(rows[0]) if rows else RunHealth()
