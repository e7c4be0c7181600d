"""The HTML report: self-contained, one plot per changing metric over simulated time, constant metrics as
key figures, agent text escaped, the largest cascade as a tree, decisions shown when kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from populace import Simulation
from populace.cli import app
from populace.report import write_report

# anything a browser would fetch: src/href to a URL, CSS imports or url(), scripts
FETCHES = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//|<script|<link""",
                     re.IGNORECASE)


@pytest.fixture(scope="module")
def wealth_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = Simulation.from_scenario("wealth", ["population.size=40", "steps=15"], tmp_path_factory.mktemp("r")).run()
    assert sim.path is not None
    return sim.path


def test_report_is_self_contained_with_a_plot_per_metric(wealth_run: Path) -> None:
    path = write_report(wealth_run)
    assert path == wealth_run / "report.html"
    html = path.read_text(encoding="utf-8")
    assert not FETCHES.search(html)
    plots = re.findall(r'<figure class="plot" data-metric="([a-z0-9_]+)"><svg', html)
    assert plots == ["gini", "share_zero", "top10_share"]  # total wealth never changes: a key figure, not a chart
    assert re.search(r"<th>total \(at every step\)</th><td class=\"num\">40</td>", html)
    assert "simulated time (hours since 2025-01-01 08:00)" in html and ">step</text>" in html
    assert "Gini coefficient of wealth" in html  # the world's description of the metric
    assert "name: wealth" in html and "final gini" in html and ">15 / 15<" in html
    assert "events per action" in html
    assert 'id="network"' not in html  # the wealth world has no network
    assert "No prompts or responses to show: no decision in this run was made by a language model" in html


def test_report_escapes_agent_text_and_shows_decisions_and_cascades(social_run: Path, tmp_path: Path,
                                                                    malicious: str) -> None:
    html = write_report(social_run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert not FETCHES.search(html)
    assert malicious not in html and "<img" not in html and "<b>neighbour" not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert "Hello, town!" in html and "Most engaged-with posts" in html
    assert '<div class="shared">Hello, town!</div>' in html  # a repost quotes what it shares
    # cascade 0 -> 2 -> 3: scale 3 users, 3 posts, depth 2, breadth 1, pair distances 1, 1, 2 -> 4/3
    assert re.search(r"<td>0</td><td class=\"num\">3</td><td class=\"num\">3</td><td class=\"num\">2</td>"
                     r"<td class=\"num\">1</td>"
                     r"<td class=\"num\">1.333</td>", html)
    # the cascade drawn over time: who reposted whom, and when
    assert 'class="cascade"' in html and "agent 6 reposted agent 4&#x27;s post, at hour 2 (step 2)" in html
    assert "2 decisions from the decisions table" in html and "You are agent 2. Write a post." in html
    assert "model calls" in html  # llm_* step columns are plotted and counted


def test_report_shows_the_network_and_its_friendship_paradox(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("opinion", ["population.size=100", "steps=4", "trace.checkpoint_every=2"],
                                   tmp_path).run()
    assert sim.path is not None
    html = write_report(sim.path).read_text(encoding="utf-8")
    assert "Network (after 4 steps)" in html and "mean friend degree" in html and "degree distribution" in html


def test_report_command_prints_the_path(wealth_run: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(wealth_run), "--out", str(wealth_run / "x.html")])
    assert result.exit_code == 0, result.output
    assert "x.html" in result.output and (wealth_run / "x.html").is_file()


def test_control_characters_in_run_text_never_reach_the_report(tmp_path: Path) -> None:
    from populace.report.html import environment

    printed = environment().from_string("{{ text }}|{{ svg | safe }}").render(
        text="a\x00b\x07c\x1b[31m\td\r\ne<", svg="<svg>\x1b</svg>")
    assert printed == "a\ufffdb\ufffdc\ufffd[31m\td\r\ne&lt;|<svg>\ufffd</svg>"
    sim = Simulation.from_scenario("untrusted-text", [], tmp_path).run()  # posts carry NUL, BEL and ESC
    assert sim.path is not None
    html = write_report(sim.path).read_text(encoding="utf-8")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", html) and "\ufffd" in html


def test_report_out_goes_into_new_directories_or_fails_in_one_line(wealth_run: Path, tmp_path: Path) -> None:
    from populace.errors import PopulaceError

    result = CliRunner().invoke(app, ["report", str(wealth_run), "--out", str(tmp_path / "a" / "b" / "r.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "b" / "r.html").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(PopulaceError, match="cannot write .*r.html: .*file: a file, not a directory"):
        write_report(wealth_run, tmp_path / "file" / "r.html")


def test_report_command_shows_its_stages_off_a_terminal(wealth_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POPULACE_PROGRESS_SECONDS", "0")  # a plain line at every stage
    result = CliRunner().invoke(app, ["report", str(wealth_run), "--out", str(wealth_run / "p.html")])
    assert result.exit_code == 0, result.output
    stages = [line.split(",")[0] for line in result.output.splitlines() if line.startswith("report: stage")]
    assert stages[0] == "report: stage 0/7 (0 %)" and stages[-1] == "report: stage 7/7 (100 %)"
    assert stages == sorted(stages) and result.output.splitlines()[-1].endswith("p.html")
