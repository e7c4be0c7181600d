"""``populace report RUN``: one self-contained HTML file (inline CSS and SVG plots, nothing fetched).

Shows the scenario, key figures, a plot per metric (declared by the world or recorded) over
simulated time with the steps numbered on top, events per action, model usage, the social feed's
top posts and cascades when there are any (the largest drawn as a tree over time), and a sample
of decisions with their prompts and responses. A metric that never changes is one line of the key
figures, not a chart. A fork is shown beside its parent. Every
text that came from a run (agent posts, prompts, answers, names) is escaped by Jinja2's autoescape,
and its control characters (other than tab and line breaks) are replaced by U+FFFD.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from populace import analysis, layout
from populace.errors import PopulaceError
from populace.outputs import write_output
from populace.report.budget import budget_section
from populace.report.decisions import decisions
from populace.report.feed import most_engaged, timed_interventions, trace_has_feed, trace_injected_texts
from populace.report.fidelity import fidelity_rows
from populace.report.interviews import interview_section
from populace.report.observed import observed_section
from populace.report.plots import TimeAxis, bars_svg, cascade_svg, degree_svg, line_svg
from populace.report.writing import writing_section
from populace.runs import Run

REPORT_FILE = layout.REPORT
#: C0 control characters (and DEL) that have no place in HTML text; tab, LF and CR are kept
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Branch:
    """One run's step and metric tables, and its events counted by action and outcome (by DuckDB:
    the events themselves are never loaded)."""

    run: Run
    manifest: dict[str, Any]
    counts: pd.DataFrame  # action, outcome, events
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
        counts = analysis.query(run, "SELECT action, outcome, count(*) AS events FROM {events} GROUP BY ALL")
        return cls(run, manifest, counts, analysis.steps(run), analysis.metrics(run), descriptions)

    def events_per_action(self) -> pd.Series:
        """Events of every outcome per action, most first."""
        if self.counts.empty:
            return pd.Series(dtype="int64")
        return self.counts.groupby("action")["events"].sum().sort_values(ascending=False)

    def figures(self) -> dict[str, str]:
        """Key figures as display strings."""
        m, st = self.manifest, self.steps
        out = {"status": self.run.status(), "steps": f"{m.get('steps_done')} / {m.get('steps')}",
               "seed": str(m.get("seed"))}
        if len(st) and "active" in st:
            out["active agents per step (mean)"] = _fmt(float(st["active"].mean()))
        out["events"] = f"{int(self.counts['events'].sum()):,}"
        if len(self.counts):
            counts = self.counts.groupby("outcome")["events"].sum()
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


#: the report reads the world's network from the last snapshot only when its file is at most this
#: big (a social world's follows can be many): memory stays bounded, the page says why not
NETWORK_SNAPSHOT_BYTES = 256 * 2**20


def _network_section(run: Run) -> dict[str, Any] | None:
    """Degree distribution and friendship paradox of the world's network at the last snapshot."""
    try:
        steps = analysis.snapshot_steps(run)
    except PopulaceError:  # a run recorded before snapshots: no network to show
        return None
    if not steps:
        return None
    size = analysis.network_bytes(run, steps[-1])
    if size > NETWORK_SNAPSHOT_BYTES:
        return {"step": steps[-1], "note": f"Left out to keep the report's memory bounded: the last snapshot's "
                                           f"network is {size / 2**20:,.0f} MB (the report reads at most "
                                           f"{NETWORK_SNAPSHOT_BYTES // 2**20} MB); analysis.network_at(run) "
                                           "reads it."}
    try:
        net = analysis.network_at(run, steps[-1])
    except PopulaceError:
        return None
    if net is None or net.n == 0:
        return None
    dist = analysis.degree_distribution(net.degree())
    paradox = analysis.friendship_paradox(net).iloc[0].to_dict()
    return {"svg": degree_svg(dist["degree"], dist["count"], "degree distribution"),
            "paradox": {k.replace("_", " "): _fmt(float(v)) for k, v in paradox.items()}, "step": steps[-1]}


def _interventions(run: Run) -> list[dict[str, Any]]:
    try:
        return timed_interventions(run.scenario())
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


def environment() -> Any:
    """The Jinja2 environment of the report's templates: autoescaped, control characters replaced."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("populace.report", "templates"), finalize=_printable,
                       autoescape=select_autoescape(default=True, default_for_string=True))


#: cascades are measured among at most this many posts (the first recorded), so the report's
#: memory stays bounded however many posts a run has
CASCADE_POSTS = 1_000_000
#: the largest cascade is drawn with at most this many posts (the first recorded)
TREE_POSTS = 300


def constant_metrics(*tables: pd.DataFrame) -> dict[str, float]:
    """Metrics (columns of step-indexed metric tables) that hold one value at every step of every
    table, or never a number: the report gives each one line of key figures, not a chart."""
    names = list(dict.fromkeys(name for table in tables for name in table.columns))
    out = {}
    for name in names:
        values = pd.concat([table[name] for table in tables if name in table], ignore_index=True).dropna()
        if values.empty:
            out[name] = math.nan
        elif values.min() == values.max():
            out[name] = float(values.iloc[0])
    return out


def _collapse(figures: dict[str, str], constant: dict[str, float]) -> dict[str, str]:
    """Key figures with each constant metric's final value said to hold at every step."""
    return {(f"{key.removeprefix('final ')} (at every step)" if key.removeprefix("final ") in constant
             and key.startswith("final ") else key): value for key, value in figures.items()}


def time_axis(steps: pd.DataFrame) -> TimeAxis | None:
    """The simulated-time x-axis of a run's step table (None without a time column)."""
    if steps.empty or "time" not in steps or "step" not in steps:
        return None
    return TimeAxis.of(steps["step"].to_numpy(), steps["time"].to_numpy())


def _cascade_tree(posts: pd.DataFrame, largest: dict[str, Any], axis: TimeAxis | None) -> dict[str, Any] | None:
    """The largest cascade (a row of :func:`analysis.cascades`) drawn as a tree over time, its first
    :data:`TREE_POSTS` posts."""
    if int(largest["posts"]) < 2:
        return None
    tree = analysis.cascade_tree(posts, largest["root"], limit=TREE_POSTS)
    title = f"cascade of post {largest['root']} by agent {tree['agent'].iloc[0]}"
    return {"svg": cascade_svg(tree, title, axis), "shown": len(tree),
            "posts": int(largest["posts"])}


#: what writing a report does, in order (a run without posts skips ranking them and their cascades)
STAGES = ("counting events", "plotting metrics", "ranking posts", "measuring cascades", "sampling decisions",
          "reading the network", "writing")
#: ``progress(done, stage)``: called as each stage begins, with the number of stages before it in
#: :data:`STAGES`, and once at the end with ``len(STAGES)`` and ``"written"``
Progress = Callable[[int, str], None]


def _stage(progress: Progress | None, stage: str) -> None:
    if progress is not None:
        progress(STAGES.index(stage) if stage in STAGES else len(STAGES), stage)


def render_report(run_path: Path | str, progress: Progress | None = None) -> str:
    """The report of a run (and, for a fork, of its parent beside it) as HTML text; ``progress``
    hears of each stage (reading a long run takes a while)."""
    def say(stage: str) -> None:
        _stage(progress, stage)

    run = Run.open(Path(run_path))
    say("counting events")
    this = Branch.load(run)
    parent_info = this.manifest.get("parent")
    parent: Branch | None = None
    if isinstance(parent_info, dict):
        try:
            parent = Branch.load(Run.open(Path(parent_info.get("path", ""))))
        except PopulaceError:
            parent = None
    fork_at = parent_info.get("at") if isinstance(parent_info, dict) else None

    say("plotting metrics")
    axis = time_axis(this.steps)
    constant = constant_metrics(this.metrics, *([parent.metrics] if parent is not None else []))
    names = list(dict.fromkeys([*this.descriptions, *this.metrics.columns]))
    plots = []
    for name in names:
        if name in constant:
            continue
        series: dict[str, Any] = {}
        if name in this.metrics:
            series["this run" if parent is not None else name] = (this.metrics.index, this.metrics[name])
        if parent is not None and name in parent.metrics:
            series["parent"] = (parent.metrics.index, parent.metrics[name])
        if series:
            plots.append({"name": name, "description": this.descriptions.get(name, ""),
                          "svg": line_svg(series, name, mark=fork_at, time=axis)})

    observed = observed_section(run, this.metrics, axis)
    counts = this.events_per_action()
    actions_svg = bars_svg({str(k): float(v) for k, v in counts.head(25).items()}, "events per action") \
        if len(counts) else ""
    usage = analysis.model_usage(this.steps)
    usage_svg = ""
    if len(usage):
        cols = [c for c in ("calls", "cache_hits") if c in usage]
        if cols:
            usage_svg = line_svg({c: (usage["step"], usage[c]) for c in cols}, "model calls per step", time=axis)

    feed, cascade_rows, cascade_note, tree = [], [], "", None
    if trace_has_feed(run):
        say("ranking posts")
        feed = most_engaged(run, 10, trace_injected_texts(run, _interventions(run)))
        say("measuring cascades")
        posts = analysis.posts_in_trace(run, limit=CASCADE_POSTS + 1)
        if len(posts) > CASCADE_POSTS:  # the first ones only, and say so
            posts = posts.iloc[:CASCADE_POSTS]
            cascade_note = (f"Measured among the first {CASCADE_POSTS:,} posts (up to step "
                            f"{int(posts['step'].max())}); later posts are left out to keep memory bounded.")
        cascade_rows = analysis.cascades(posts, 10).to_dict("records")
        tree = _cascade_tree(posts, cascade_rows[0], axis) if cascade_rows else None
    say("sampling decisions")
    sample, source = decisions(run, limit=12)
    say("reading the network")
    network = _network_section(run)

    figures = _collapse(this.figures(), constant)
    parent_figures = _collapse(parent.figures(), constant) if parent is not None else None
    scenario_file = layout.scenario_file(run.path)
    scenario_text = scenario_file.read_text(encoding="utf-8") if scenario_file.is_file() else ""
    return environment().get_template("report.html.j2").render(
        run=this.manifest, figures=figures, parent=parent.manifest if parent else None,
        parent_figures=parent_figures, fork_at=fork_at, scenario=scenario_text, plots=plots,
        actions_svg=actions_svg, usage_svg=usage_svg, feed=feed, cascades=cascade_rows, cascade_note=cascade_note,
        cascade_tree=tree,
        decisions=sample.to_dict("records"), decisions_source=source,
        changes=this.manifest.get("changes") or [], network=network, fidelity=fidelity_rows(run),
        writing=writing_section(run),
        budget=budget_section(run, this.steps), interviews=interview_section(run), observed=observed,
    )


def write_report(run_path: Path | str, out: Path | str | None = None,
                 progress: Progress | None = None) -> Path:
    """Write the run's report (default ``<run>/report.html``) and return its path."""
    run = Run.open(Path(run_path))
    html = render_report(run.path, progress)
    _stage(progress, "writing")
    path = write_output(Path(out) if out is not None else layout.report_file(run.path), html)
    _stage(progress, "written")
    return path
