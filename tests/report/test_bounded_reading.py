"""The report and the dashboard never load a run's whole event table: DuckDB hands them counts,
samples and the few rows they show, and what they show matches a full read of a small run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from populace import Simulation, analysis
from populace.errors import RunError
from populace.report import html
from populace.report.dashboard import create_app


@pytest.fixture(scope="module")
def wealth_parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose events lie in many parts (a part every two steps)."""
    sim = Simulation.from_scenario("wealth", ["population.size=200", "steps=13", "trace.flush_every=2",
                                              "trace.checkpoint_every=4"], tmp_path_factory.mktemp("r")).run()
    assert sim.path is not None
    return sim.path


@pytest.fixture
def no_whole_event_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading an events part with pyarrow (as analysis.events does) fails the test."""
    read = pq.read_table

    def guarded(source: Any, *args: Any, **kwargs: Any) -> Any:
        assert Path(str(source)).parent.name != "events", f"read a whole events part: {source}"
        return read(source, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", guarded)


def test_report_and_dashboard_read_no_events_part_whole(social_run: Path, wealth_parts: Path, tmp_path: Path,
                                                        no_whole_event_reads: None) -> None:
    page = html.write_report(social_run, tmp_path / "social.html").read_text(encoding="utf-8")
    assert "Most engaged-with posts" in page and "Largest cascades" in page
    assert "events per action" in html.write_report(wealth_parts, tmp_path / "wealth.html").read_text(encoding="utf-8")
    for run in (social_run, wealth_parts):
        client = TestClient(create_app(run))
        for url in ("/api/progress", "/api/series", "/api/feed?step=3", "/api/agents", "/api/agents?step=2",
                    "/api/agents/5?step=3", "/api/agents/5"):
            assert client.get(url).status_code == 200, url


def test_dashboard_answers_match_a_full_read(wealth_parts: Path) -> None:
    events = analysis.events(wealth_parts)
    client = TestClient(create_app(wealth_parts))
    series = client.get("/api/series").json()["actions"]
    per_step = analysis.actions_per_step(events)
    assert series == {a: {"x": per_step.index.tolist(), "y": per_step[a].tolist()} for a in per_step.columns}
    for step in (None, 4, 12):
        upto = events if step is None else events[events["step"] <= step]
        counts = upto.groupby("agent").size().sort_values(ascending=False, kind="stable").head(60)
        expected = [{"agent": int(a), "events": int(n)} for a, n in counts.items()]
        assert client.get("/api/agents", params={} if step is None else {"step": step}).json() == expected
    busiest = int(events[events["step"] <= 9].groupby("agent").size().idxmax())
    mine = events[(events["agent"] == busiest) & (events["step"] <= 9)].tail(12)
    assert mine["step"].nunique() > 4  # spread over more than two parts
    shown = client.get(f"/api/agents/{busiest}", params={"step": 9}).json()["events"]
    assert [(e["step"], e["args"]) for e in shown] == [(int(s), a) for s, a in zip(mine["step"], mine["args"],
                                                                                   strict=True)][::-1]


def test_latest_searches_back_through_the_parts(wealth_parts: Path) -> None:
    events = analysis.events(wealth_parts)
    for limit in (1, 5, 400, 10**6):
        rows = analysis.latest(wealth_parts, "events", "agent = $agent", {"agent": 3}, limit)
        mine = events[events["agent"] == 3].tail(limit)
        assert rows["step"].tolist() == mine["step"].tolist()[::-1]


def test_cascades_cut_to_a_bound_say_so(social_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = html.render_report(social_run)
    assert "later posts are left out" not in whole
    monkeypatch.setattr(html, "CASCADE_POSTS", 2)
    cut = html.render_report(social_run)
    assert "Measured among the first 2 posts (up to step 0); later posts are left out" in cut
    # posts 0 and 1 only: two cascades of one post each
    assert len(re.findall(r'<td class="num">1</td><td class="num">0</td><td class="num">1</td>', cut)) == 2


def test_progress_names_every_stage_in_order(wealth_parts: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, str]] = []
    html.write_report(wealth_parts, tmp_path / "r.html", progress=lambda done, stage: seen.append((done, stage)))
    skipped = ("ranking posts", "measuring cascades")  # a wealth run has no posts
    assert seen == [(html.STAGES.index(s), s) for s in html.STAGES if s not in skipped] + [(len(html.STAGES),
                                                                                          "written")]


def test_a_bad_query_is_one_line(wealth_parts: Path) -> None:
    with pytest.raises(RunError, match=r"^cannot query the trace of .*: Binder Error: .*nope[^\n]*$"):
        analysis.query(wealth_parts, "SELECT nope FROM {events}")
    assert analysis.query(wealth_parts, "SELECT count(*) AS n FROM {events}")["n"].item() == len(
        analysis.events(wealth_parts))


def test_the_steps_a_live_page_asks_for_come_from_the_digest(wealth_parts: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A live page asks for the most active agents at the last step it saw, which a newer part may
    already have passed: the digest keeps the counts as of the last parts' ends, so no scan is needed."""
    events = analysis.events(wealth_parts)
    client = TestClient(create_app(wealth_parts))
    client.get("/api/series")  # digests every part (steps 0-1, 2-3, ..., 10-11, 12)

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("scanned the events")

    monkeypatch.setattr(analysis, "query", no_scan)
    for step in (9, 11, 12):
        counts = events[events["step"] <= step].groupby("agent").size().sort_values(ascending=False,
                                                                                    kind="stable").head(60)
        expected = [{"agent": int(a), "events": int(n)} for a, n in counts.items()]
        assert client.get("/api/agents", params={"step": step}).json() == expected


def test_the_largest_cascades_alone_are_the_head_of_all_of_them() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    parent = np.where(rng.random(n) < 0.3, -1, (rng.random(n) * np.arange(n)).astype(np.int64))
    parent[0] = -1
    posts = pd.DataFrame({"post": np.arange(n), "parent": [None if p < 0 else int(p) for p in parent],
                          "agent": rng.integers(0, 400, n), "step": rng.integers(0, 5, n).cumsum() // 40})
    every = analysis.cascades(posts)
    assert every["scale"].nunique() < len(every)  # ties in scale, broken by posts, start and then order
    assert (every["scale"] < every["posts"]).any()  # some users post twice in a tree
    for limit in (1, 10, 200):
        pd.testing.assert_frame_equal(analysis.cascades(posts, limit), every.head(limit))


def test_the_dashboard_reads_one_agents_row_of_the_snapshot_at_the_step(wealth_parts: Path) -> None:
    """An inspector following a live run reads the agent's row of the snapshot at the step shown,
    and keeps no snapshot (nor any checkpoint) in memory."""
    from populace.report.dashboard import RunView

    view = RunView(wealth_parts)
    for step, held in ((5, 4), (9, 8), (11, 12), (12, 13), (6, 4)):
        assert view.agent(3, step)["state_after_step"] == held
        assert [key for key in view._cache if "checkpoint" in key or "snapshot" in key] == []


def test_a_network_in_a_snapshot_too_big_to_read_is_left_out_and_said(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulation.from_scenario("opinion", ["population.size=100", "steps=4", "trace.checkpoint_every=2"],
                                   tmp_path).run()
    assert sim.path is not None
    assert "degree distribution" in html.render_report(sim.path)
    monkeypatch.setattr(html, "NETWORK_SNAPSHOT_BYTES", 1000)
    page = html.render_report(sim.path)
    assert "Network (after 4 steps)" in page and "degree distribution" not in page
    assert re.search(r"Left out to keep the report&#39;s memory bounded: the last snapshot&#39;s network is [\d,]+ MB",
                     page)
