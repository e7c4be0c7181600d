"""``populace dashboard RUN``: a live, read-only web view of a run, in progress or finished.

A FastAPI app over the run directory: one HTML page (inline CSS and JS, no CDN) that polls JSON
endpoints for progress, metric series, the social feed at a step, and one agent's persona, state,
memory, last decisions and answers to interviews. Agent text only ever reaches the page as JSON and
is put there with ``textContent``, so a post containing ``<script>`` shows as text. It binds to
loopback by default. Every route reads, but one: the inspector's ask box posts a question to
``/api/agents/{agent}/ask`` (see :mod:`populace.operations.interview`), which writes only the
run's interviews table and response cache, and only for a client on this machine.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Request  # the ask box's route reads its client and headers (resolved by name)

from populace import analysis, layout
from populace.analysis.tables import parse_json_column
from populace.errors import PopulaceError, RunError
from populace.report.decisions import COLUMNS as DECISION_COLUMNS
from populace.report.decisions import NO_MODEL, decisions
from populace.report.feed import POST_KINDS, feed_at, injected_events, injected_texts, timed_interventions
from populace.report.interviews import latest_answers
from populace.runs import Run

T = TypeVar("T")


def _plain(value: Any) -> Any:
    """A JSON-safe value (NumPy scalars unwrapped, NaN as None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass
class EventsDigest:
    """What the dashboard shows of all the events, kept up to date part by part (DuckDB reads each
    new part once): events per step, action and outcome, events per agent, the injected posts'
    events. It stays small whatever the number of events: steps x actions, plus one count per agent
    (and per agent as of the ends of the last few parts, the steps a live page asks for)."""

    actions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["step", "action", "ok", "n", "asked"]))
    per_agent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    injected: pd.DataFrame = field(default_factory=pd.DataFrame)
    per_agent_at: dict[int, np.ndarray] = field(default_factory=dict)  # last step of a recent part -> per_agent

    #: how many recent part ends keep their per-agent counts
    KEPT = 4

    @property
    def last_step(self) -> int:
        return int(self.actions["step"].max()) if len(self.actions) else -1

    @property
    def asked(self) -> int:
        """Events decided by a language model (with a request id)."""
        return int(self.actions["asked"].sum()) if len(self.actions) else 0

    @property
    def has_posts(self) -> bool:
        return bool(self.actions["action"].isin(POST_KINDS).any())

    def add(self, run: Path, files: list[Path]) -> EventsDigest:
        """This digest with the events of ``files`` (parts not seen before, in step order) folded in:
        the last few one by one, to keep the counts per agent as of each one's end."""
        head, tail = files[:-self.KEPT], files[-self.KEPT:]
        digest = self
        for group in ([head] if head else []) + [[part] for part in tail]:
            digest = digest._added(run, group)
            if group[-1] in tail and group[-1].stem.partition("-")[2].isdigit():
                kept = {**digest.per_agent_at, int(group[-1].stem.partition("-")[2]): digest.per_agent}
                digest.per_agent_at = dict(sorted(kept.items())[-self.KEPT:])
        return digest

    def _added(self, run: Path, files: list[Path]) -> EventsDigest:
        on = {layout.EVENTS: files}
        actions = analysis.query(run, "SELECT step, action, outcome = 'ok' AS ok, count(*) AS n, "
                                      "count(request) AS asked FROM {events} GROUP BY ALL", files=on)
        agents = analysis.query(run, "SELECT agent, count(*) AS n FROM {events} WHERE agent >= 0 GROUP BY ALL",
                                files=on)
        injected = injected_events(run, files)
        per_agent = self.per_agent
        if len(agents):
            ids, n = agents["agent"].to_numpy(np.int64), agents["n"].to_numpy(np.int64)
            per_agent = np.bincount(ids, weights=n, minlength=len(per_agent)).astype(np.int64)
            per_agent[: len(self.per_agent)] += self.per_agent
        return EventsDigest(pd.concat([f for f in (self.actions, actions) if len(f)], ignore_index=True)
                            if len(actions) else self.actions, per_agent,
                            pd.concat([self.injected, injected], ignore_index=True) if len(injected) else self.injected,
                            self.per_agent_at)

    def actions_per_step(self) -> pd.DataFrame:
        """Accepted events indexed by step, one column per action (as :func:`analysis.actions_per_step`)."""
        ok = self.actions[self.actions["ok"].astype(bool)]
        if ok.empty:
            return pd.DataFrame()
        table = ok.pivot_table(index="step", columns="action", values="n", aggfunc="sum", fill_value=0)
        table.columns.name = None
        return table.sort_index().astype("int64")

    def most_active(self, limit: int, step: int | None = None) -> list[tuple[int, int]] | None:
        """``(agent, events)`` of the ``limit`` agents with most events up to ``step`` (default: all),
        lower ids first among equals; None when the digest cannot tell (a step within older parts)."""
        if step is None or step >= self.last_step:
            counts = self.per_agent
        elif step in self.per_agent_at:
            counts = self.per_agent_at[step]
        else:
            return None
        order = np.argsort(-counts, kind="stable")[:limit]
        return [(int(a), int(counts[a])) for a in order if counts[a] > 0]


class RunView:
    """Reads a run's tables with DuckDB, re-reading only when new parts have been written. Nothing
    holds every event: the step and metric tables (one row per step) are kept, the events are
    digested part by part (:class:`EventsDigest`), and feeds and agents are queried when asked for."""

    def __init__(self, path: Path) -> None:
        self.run = Run.open(path)
        self.path = self.run.path
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Any, Any]] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._folds: dict[str, tuple[list[str], Any]] = {}

    def _signature(self, *tables: str) -> tuple[Any, ...]:
        return tuple(sorted(p.name for t in tables for p in layout.parts(self.path, t)))

    def _cached(self, key: str, tables: tuple[str, ...], load: Callable[[], T]) -> T:
        signature = self._signature(*tables)
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # concurrent readers of a changed table wait for one load instead of each loading it
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None and hit[0] == signature:
                    return hit[1]
            value = load()
            with self._lock:
                self._cache[key] = (signature, value)
            return value

    def _folded(self, name: str, start: Callable[[], T], fold: Callable[[T, list[Path]], T]) -> T:
        """``fold(value, new_parts)`` over the parts of table ``name`` written since the last call (a
        live run's parts are only ever added); a rewritten table (a resume) is folded again from ``start()``."""
        with self._lock:
            loading = self._loading.setdefault("fold:" + name, threading.Lock())
        with loading:
            parts = analysis.parts(self.path, name)
            known, value = self._folds.get(name, ([], None))
            if value is None or [p.name for p in parts[: len(known)]] != known:
                known, value = [], start()
            new = parts[len(known):]
            if new:
                value = fold(value, new)
            self._folds[name] = ([p.name for p in parts], value)
            return value

    def _grown(self, name: str) -> pd.DataFrame:
        """Table ``name`` (one of the small ones: steps, metrics) as pandas, read part by part."""
        def add(frame: pd.DataFrame, new: list[Path]) -> pd.DataFrame:
            added = pa.concat_tables([pq.read_table(p) for p in new], promote_options="permissive").to_pandas()
            return added if frame.empty else pd.concat([frame, added], ignore_index=True)

        return self._folded(name, pd.DataFrame, add)

    def digest(self) -> EventsDigest:
        """The events digested so far (see :class:`EventsDigest`)."""
        return self._folded(layout.EVENTS, EventsDigest, lambda digest, new: digest.add(self.path, new))

    def metrics(self) -> pd.DataFrame:
        def pivot() -> pd.DataFrame:
            frame = self._grown(layout.METRICS)
            return pd.DataFrame() if frame.empty else frame.pivot_table(
                index="step", columns="metric", values="value", aggfunc="last")

        return self._cached("metrics", (layout.METRICS,), pivot)

    def steps(self) -> pd.DataFrame:
        return self._grown(layout.STEPS)

    def descriptions(self) -> dict[str, str]:
        try:
            from populace.world import worlds

            return dict(worlds.get(self.run.scenario().world.type).metric_descriptions)
        except PopulaceError:
            return {}

    # -- JSON payloads -----------------------------------------------------------------------
    def progress(self) -> dict[str, Any]:
        m = self.run.manifest()
        steps = self.steps()
        last = int(steps["step"].max()) if len(steps) else -1
        return _plain({"id": m.get("id"), "scenario": m.get("scenario"), "status": self.run.status(),
                       "steps": m.get("steps"), "steps_done": m.get("steps_done"), "last_step": last,
                       "updated": m.get("updated"), "parent": m.get("parent")})

    def series(self) -> dict[str, Any]:
        """Every metric, action count and model usage per step (built once per change of the tables)."""
        return self._cached("series", layout.TABLES, self._series)

    def _series(self) -> dict[str, Any]:
        metrics, steps = self.metrics(), self.steps()
        out: dict[str, Any] = {"metrics": {}, "actions": {}, "usage": {}, "descriptions": self.descriptions()}
        for name in metrics.columns:
            column = metrics[name].dropna()
            out["metrics"][str(name)] = {"x": column.index.tolist(), "y": column.tolist()}
        per_step = self.digest().actions_per_step()
        for name in per_step.columns:
            out["actions"][str(name)] = {"x": per_step.index.tolist(), "y": per_step[name].tolist()}
        usage = analysis.model_usage(steps)
        for name in ("calls", "cache_hits"):
            if name in usage:
                out["usage"][name] = {"x": usage["step"].tolist(), "y": usage[name].tolist()}
        return _plain(out)

    def feed(self, step: int | None, limit: int, author: int | None) -> dict[str, Any]:
        digest = self.digest()
        if not digest.has_posts:
            return {"available": False, "posts": []}
        texts = self._cached("texts", (layout.EVENTS,), lambda: injected_texts(digest.injected, self._interventions())
                             if len(digest.injected) else {})
        return _plain({"available": True, "posts": feed_at(self.path, step, limit, author, texts)})

    def _interventions(self) -> list[dict[str, Any]]:
        try:
            return timed_interventions(self.run.scenario())
        except PopulaceError:
            return []

    def agents(self, step: int | None, limit: int = 60) -> list[dict[str, Any]]:
        """The most active agents up to ``step`` (for the inspector's list): from the digest at the
        latest steps, else counted by DuckDB over the parts up to ``step``."""
        known = self.digest().most_active(limit, step)
        if known is not None or step is None:
            return [{"agent": a, "events": n} for a, n in known or []]
        counts = analysis.query(self.path, "SELECT agent, count(*) AS n FROM {events} WHERE agent >= 0 "
                                           f"AND step <= $step GROUP BY ALL ORDER BY n DESC, agent LIMIT {int(limit)}",
                                {"step": int(step)}, upto=step)
        return [{"agent": int(a), "events": int(n)} for a, n in zip(counts.get("agent", []), counts.get("n", []),
                                                                      strict=True)]

    def _snapshot_step(self, step: int | None) -> int | None:
        """The snapshot shown for ``step``: the last one at or before the end of that step (default:
        the last of all), else the first; None before the run's first checkpoint. A run recorded
        before snapshots existed raises its one-line :class:`RunError`."""
        steps = analysis.snapshot_steps(self.path)
        if not steps:
            return None
        wanted = analysis.snapshot_at_or_before(self.path, step + 1) if step is not None else steps[-1]
        return wanted if wanted is not None else steps[0]

    def agent(self, agent: int, step: int | None) -> dict[str, Any]:
        at = self._snapshot_step(step)
        persona: dict[str, Any] = {}
        world_state: dict[str, Any] = {}
        if at is not None:  # only this agent's row of the snapshot is read
            size = analysis.agent_count(self.path, at)
            if not 0 <= agent < size:
                raise RunError(f"agent {agent} is not in this run (agents 0 to {size - 1})")
            described = analysis.describe(self.path, at, agent)
            persona = described["population"]
            own = described["run"]
            if own.get(layout.REGION) is not None:  # its region's values, indexed (and holding ids) as the region's
                world_state.update(region=own[layout.REGION], id_in_region=own[layout.ID_IN_REGION])
            world_state.update({k: v for k, v in described["world"].items() if not isinstance(v, list | dict)})
        recent = self._latest(layout.EVENTS, agent, step, 12)  # only this agent's rows are read
        for column in ("args", "data"):
            recent[column] = parse_json_column(recent[column].tolist()) if len(recent) else []
        if self.digest().asked or analysis.has_table(self.path, layout.DECISIONS):
            asked, source = decisions(self.path, agent=agent, limit=8)
        else:  # no model decided anything: nothing to look up
            asked, source = pd.DataFrame(columns=DECISION_COLUMNS), NO_MODEL
        if step is not None and len(asked):
            asked = asked[asked["step"] <= step]
        if asked.empty and source in ("decisions table", "response cache"):
            source = f"none for this agent in the {source}" + (f" up to step {step}" if step is not None else "")
        memory = self._memory(agent, step, at)
        answers = latest_answers(self.path, limit=10, agent=agent)
        return _plain({
            "agent": agent, "persona": persona,
            "state": world_state, "state_after_step": at,
            "events": [{"step": int(r.step), "action": r.action, "outcome": r.outcome, "reason": r.reason,
                        "args": r.args, "data": r.data} for r in recent.itertuples()],
            "decisions": asked.to_dict("records")[::-1], "decisions_source": source, "memory": memory,
            "interviews": [{k: r[k] for k in ("step", "question", "answer", "basis", "error")} for r in answers],
        })

    async def ask(self, agent: int, question: str, step: int | None) -> dict[str, Any]:
        """Ask one agent ``question`` as of the dashboard's ``step`` (after it; default: the last
        recorded), from the checkpoint at or before it; the answer is recorded in the run."""
        from populace.operations.interview import ainterview

        done = int(self.run.manifest().get("steps_done") or 0)
        at = done if step is None else max(0, min(done, step + 1))
        found = await ainterview(self.path, question, at=at, agents=[agent])
        return _plain({"agent": agent, "at": found.at, "step": found.step, "question": found.question,
                       **{k: v for k, v in asdict(found.answers[0]).items() if k != "agent"}})

    def _latest(self, table: str, agent: int, step: int | None, limit: int) -> pd.DataFrame:
        """``agent``'s last ``limit`` rows of ``table`` up to ``step``, newest first (as recorded)."""
        first = analysis.parts(self.path, table)[:1]
        before = step if first and "step" in pq.read_schema(first[0]).names else None
        where = "agent = $agent" + ("" if before is None else f" AND step <= {int(before)}")
        return analysis.latest(self.path, table, where, {"agent": int(agent)}, limit, before)

    def _memory(self, agent: int, step: int | None, at: int | None) -> list[dict[str, Any]]:
        """The agent's memories: a ``memories/`` table if the run wrote one, else the memory streams
        of the minds in the snapshot after ``at`` steps (newest first)."""
        if not analysis.has_table(self.path, layout.MEMORIES):
            return [] if at is None else self._snapshot_memory(agent, at)
        return [_plain(r) for r in self._latest(layout.MEMORIES, agent, step, 20).to_dict("records")]

    def _snapshot_memory(self, agent: int, at: int, limit: int = 20) -> list[dict[str, Any]]:
        """The agent's last ``limit`` memories of each mind that remembers it, newest first."""
        rows = analysis.memories(self.path, at, [agent])
        out: list[dict[str, Any]] = []
        for _mind, own in rows.sort_values(["mind", "row"]).groupby("mind", sort=True):
            for r in own.tail(limit).iloc[::-1].itertuples():
                out.append({"kind": r.kind, "text": str(r.text), "hour": _plain(r.created),
                            "importance": _plain(r.importance)})
        return out


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for the dashboard; a port in use is a one-line error."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own sockets
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PopulaceError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


#: the addresses of a client on this machine, the only one that may ask agents questions
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def create_app(run_path: Path | str) -> Any:
    """The dashboard's FastAPI app for one run (every route reads, but the ask box's POST)."""
    from urllib.parse import urlsplit

    from fastapi import FastAPI, HTTPException
    from fastapi.responses import HTMLResponse
    from jinja2 import Environment, PackageLoader, select_autoescape

    view = RunView(Path(run_path))
    page = Environment(loader=PackageLoader("populace.report", "templates"),
                       autoescape=select_autoescape(default=True)).get_template("dashboard.html.j2")
    app = FastAPI(title="populace dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page.render(run=view.run.manifest())

    @app.get("/api/progress")
    def progress() -> dict[str, Any]:
        return view.progress()

    @app.get("/api/series")
    def series() -> dict[str, Any]:
        return view.series()

    @app.get("/api/feed")
    def feed(step: int | None = None, limit: int = 50, author: int | None = None) -> dict[str, Any]:
        return view.feed(step, max(1, min(limit, 500)), author)

    @app.get("/api/agents")
    def agents(step: int | None = None) -> list[dict[str, Any]]:
        return view.agents(step)

    @app.get("/api/agents/{agent}")
    def agent(agent: int, step: int | None = None) -> dict[str, Any]:
        try:
            return view.agent(agent, step)
        except PopulaceError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.post("/api/agents/{agent}/ask")
    async def ask(agent: int, request: Request) -> dict[str, Any]:
        """``{"question": ..., "step": ...}`` -> the agent's answer. Only from this machine, and only
        as JSON, so that no other web page a browser shows can make it spend model calls."""
        if request.client is None or request.client.host not in LOOPBACK:
            raise HTTPException(403, "questions are taken only from this machine")
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).hostname not in LOOPBACK:
            raise HTTPException(403, "questions are taken only from the dashboard's own page")
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise HTTPException(415, "send the question as JSON: {\"question\": ...}")
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "the body is not JSON") from None
        question, step = (body.get("question"), body.get("step")) if isinstance(body, dict) else (None, None)
        if not isinstance(question, str) or (step is not None and not isinstance(step, int)):
            raise HTTPException(400, 'send {"question": "...", "step": N}')
        try:
            return await view.ask(agent, question, step)
        except PopulaceError as exc:
            raise HTTPException(400, str(exc)) from None

    return app
