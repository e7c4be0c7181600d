"""``populace report RUN``: one self-contained HTML file (inline CSS and SVG plots, nothing fetched).

Shows the scenario, key figures, a plot per metric (declared by the world or recorded), events
per action, model usage, the social feed's top posts and cascades when there are any, and a
sample of decisions with their prompts and responses. A fork is shown beside its parent. Every
text that came from a run (agent posts, prompts, answers, names) is escaped by Jinja2's autoescape,
and its control characters (other than tab and line breaks) are replaced by U+FFFD.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from populace import analysis
from populace.errors import PopulaceError
from populace.outputs import write_output
from populace.report.decisions import decisions
from populace.report.feed import build_feed, has_feed, injected_texts
from populace.report.fidelity import fidelity_rows
from populace.report.plots import bars_svg, degree_svg, line_svg
from populace.runs import Run

REPORT_FILE = "report.html"
#: C0 control characters (and DEL) that have no place in HTML text; tab, LF and CR are kept
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Branch:
    """One run's tables, read once."""

    run: Run
    manifest: dict[str, Any]
    events: pd.DataFrame
    steps: pd.DataFrame
    metrics: pd.DataFrame
    descriptions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, run: Run) -> Branch:
        manifest = run.manifest()
        descriptions: dict[str, str] = {}
        try:
            from populace.world import worlds

            descriptions = dict(worlds.get(run.scenario().world.type).metric_descriptions)
        except PopulaceError:
            pass
        return cls(run, manifest, analysis.events(run), analysis.steps(run), analysis.metrics(run), descriptions)

    def figures(self) -> dict[str, str]:
        """Key figures as display strings."""
        m, ev, st = self.manifest, self.events, self.steps
        out = {"status": str(m.get("status")), "steps": f"{m.get('steps_done')} / {m.get('steps')}",
               "seed": str(m.get("seed"))}
        if len(st) and "active" in st:
            out["active agents per step (mean)"] = _fmt(float(st["active"].mean()))
        out["events"] = f"{len(ev):,}"
        if len(ev):
            counts = ev["outcome"].value_counts()
            for outcome in ("ok", "rejected", "failed"):
                out[f"events {outcome}"] = f"{int(counts.get(outcome, 0)):,}"
        if len(st) and "wall_s" in st:
            out["wall time (s)"] = _fmt(float(st["wall_s"].sum()))
        usage = analysis.model_usage(st)
        for column in ("calls", "cache_hits", "tokens_in", "tokens_out"):
            if column in usage:
                out[f"model {column.replace('_', ' ')}"] = f"{int(usage[column].sum()):,}"
        if len(self.metrics):
            final = self.metrics.iloc[-1]
            for name, value in final.items():
                out[f"final {name}"] = _fmt(float(value))
        return out


def _network_section(run: Run) -> dict[str, Any] | None:
    """Degree distribution and friendship paradox of the world's network at the last checkpoint."""
    try:
        net = analysis.network_at(run)
    except PopulaceError:
        return None
    if net is None or net.n == 0:
        return None
    dist = analysis.degree_distribution(net.degree())
    paradox = analysis.friendship_paradox(net).iloc[0].to_dict()
    return {"svg": degree_svg(dist["degree"], dist["count"], "degree distribution"),
            "paradox": {k.replace("_", " "): _fmt(float(v)) for k, v in paradox.items()},
            "step": analysis.checkpoint_steps(run)[-1]}


def _interventions(run: Run) -> list[dict[str, Any]]:
    try:
        return [iv.model_dump() for iv in run.scenario().interventions]
    except PopulaceError:
        return []


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:,.0f}" if value.is_integer() and abs(value) >= 100 else f"{value:.4g}"


def _printable(value: Any) -> Any:
    """Every value the report template prints, with control characters replaced (before escaping)."""
    if not isinstance(value, str):
        return value
    cleaned = CONTROL_CHARS.sub("\ufffd", value)
    return Markup(cleaned) if isinstance(value, Markup) else cleaned


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("populace.report", "templates"), finalize=_printable,
                       autoescape=select_autoescape(default=True, default_for_string=True))


def render_report(run_path: Path | str) -> str:
    """The report of a run (and, for a fork, of its parent beside it) as HTML text."""
    run = Run.open(Path(run_path))
    this = Branch.load(run)
    parent_info = this.manifest.get("parent")
    parent: Branch | None = None
    if isinstance(parent_info, dict):
        try:
            parent = Branch.load(Run.open(Path(parent_info.get("path", ""))))
        except PopulaceError:
            parent = None
    fork_at = parent_info.get("at") if isinstance(parent_info, dict) else None

    names = list(dict.fromkeys([*this.descriptions, *this.metrics.columns]))
    plots = []
    for name in names:
        series: dict[str, Any] = {}
        if name in this.metrics:
            series["this run" if parent is not None else name] = (this.metrics.index, this.metrics[name])
        if parent is not None and name in parent.metrics:
            series["parent"] = (parent.metrics.index, parent.metrics[name])
        if series:
            plots.append({"name": name, "description": this.descriptions.get(name, ""),
                          "svg": line_svg(series, name, mark=fork_at)})

    counts = this.events.groupby("action").size().sort_values(ascending=False) if len(this.events) else pd.Series()
    actions_svg = bars_svg({str(k): float(v) for k, v in counts.head(25).items()}, "events per action") \
        if len(counts) else ""
    usage = analysis.model_usage(this.steps)
    usage_svg = ""
    if len(usage):
        cols = [c for c in ("calls", "cache_hits") if c in usage]
        if cols:
            usage_svg = line_svg({c: (usage["step"], usage[c]) for c in cols}, "model calls per step")

    feed, cascade_rows = [], []
    if has_feed(this.events):
        texts = injected_texts(this.events, _interventions(run))
        posts = build_feed(this.events, limit=len(this.events), texts=texts)
        feed = sorted(posts, key=lambda p: (-(p["likes"] + p["reposts"]), p["step"]))[:10]
        table = analysis.cascades(analysis.posts_from_events(this.events))
        cascade_rows = table.head(10).to_dict("records")
    sample, source = decisions(run, this.events, limit=12)
    network = _network_section(run)

    figures = this.figures()
    parent_figures = parent.figures() if parent is not None else None
    scenario_text = (run.path / "scenario.yaml").read_text(encoding="utf-8") \
        if (run.path / "scenario.yaml").is_file() else ""
    return _environment().get_template("report.html.j2").render(
        run=this.manifest, figures=figures, parent=parent.manifest if parent else None,
        parent_figures=parent_figures, fork_at=fork_at, scenario=scenario_text, plots=plots,
        actions_svg=actions_svg, usage_svg=usage_svg, feed=feed, cascades=cascade_rows,
        decisions=sample.to_dict("records"), decisions_source=source,
        changes=this.manifest.get("changes") or [], network=network, fidelity=fidelity_rows(run),
    )


def write_report(run_path: Path | str, out: Path | str | None = None) -> Path:
    """Write the run's report (default ``<run>/report.html``) and return its path."""
    run = Run.open(Path(run_path))
    return write_output(Path(out) if out is not None else run.path / REPORT_FILE, render_report(run.path))
