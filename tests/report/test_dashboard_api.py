"""The dashboard's JSON endpoints and page, through FastAPI's test client (no browser)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from populace import Simulation, analysis
from populace.errors import PopulaceError
from populace.report.dashboard import create_app, listen


@pytest.fixture(scope="module")
def client(social_run: Path) -> TestClient:
    return TestClient(create_app(social_run))


def test_page_is_self_contained_and_carries_no_agent_text(client: TestClient, malicious: str) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Hello, town!" not in html and malicious not in html  # agent text only arrives as JSON
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert ".innerHTML" not in html and "insertAdjacentHTML" not in html and "document.write" not in html


def test_progress_and_series(client: TestClient) -> None:
    progress = client.get("/api/progress").json()
    assert (progress["status"], progress["steps_done"], progress["steps"], progress["last_step"]) == ("completed", 5,
                                                                                                      5, 4)
    series = client.get("/api/series").json()
    assert series["metrics"]["posts"] == {"x": [0, 1, 2, 3, 4], "y": [2.0, 2.0, 2.0, 3.0, 3.0]}
    assert series["actions"]["like_post"]["y"] == [0, 3, 0, 0, 2]
    assert series["usage"]["cache_hits"]["y"] == [0, 1, 2, 3, 4]
    assert "variance" in series["descriptions"]


def test_feed_at_a_step_with_counts(client: TestClient, malicious: str) -> None:
    early = client.get("/api/feed", params={"step": 0}).json()
    assert early["available"] and [p["id"] for p in early["posts"]] == [1, 0]
    late = {p["id"]: p for p in client.get("/api/feed").json()["posts"]}
    assert late[0]["likes"] == 3 and late[0]["reposts"] == 1 and late[0]["comments"][0]["likes"] == 1
    assert late[1]["likes"] == 0 and late[1]["content"] == malicious  # raw in JSON; the page escapes it
    assert late[3]["kind"] == "repost" and late[3]["parent"] == 2
    assert [p["id"] for p in client.get("/api/feed", params={"author": 7}).json()["posts"]] == [4]


def test_agents_and_inspector(client: TestClient) -> None:
    agents = client.get("/api/agents", params={"step": 0}).json()
    assert agents == [{"agent": 1, "events": 1}, {"agent": 2, "events": 1}]
    agent = client.get("/api/agents/2").json()
    assert set(agent["persona"]) == {"age", "gender", "education", "activity"}
    assert agent["decisions"][0]["prompt"] == "You are agent 2. Write a post."
    assert agent["decisions_source"] == "decisions table"
    assert agent["events"][0]["action"] == "create_post" and agent["memory"] == []
    assert client.post("/api/agents/2").status_code == 405  # read-only


def test_agent_state_comes_from_the_checkpoint_at_the_step(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("wealth", ["population.size=30", "steps=10", "trace.checkpoint_every=5"],
                                   tmp_path).run()
    assert sim.path is not None
    client = TestClient(create_app(sim.path))
    at_end = client.get("/api/agents/3").json()
    assert at_end["state_after_step"] == 10 and at_end["state"]["wealth"] == int(sim.world.wealth[3])
    assert client.get("/api/agents/3", params={"step": 6}).json()["state_after_step"] == 5
    assert client.get("/api/feed").json() == {"available": False, "posts": []}
    assert "not a social world" in client.get("/").text


def test_an_agent_of_a_partitioned_world_is_shown_from_its_region(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("prisoners-dilemma", ["world.partitions=2", "steps=4", "trace.checkpoint_every=2"],
                                   tmp_path).run()
    assert sim.path is not None
    client = TestClient(create_app(sim.path))
    seventh = client.get("/api/agents/7").json()  # the second region's agents are 4..9; agent 7 is its local 3
    assert seventh["state"]["region"] == 1 and seventh["state"]["id_in_region"] == 3
    assert seventh["state"]["partner"] == 2 and seventh["state"]["role"] == 1  # local ids, as the region holds them
    assert seventh["state"]["pending"] == -1 and len(seventh["events"]) > 0
    choices = analysis.states(sim.path, "pending")
    assert len(choices) == 2 * 10 and set(choices["step"]) == {2, 4}


def test_dashboard_follows_a_run_in_progress(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("wealth", ["population.size=30", "steps=10", "trace.flush_every=2",
                                              "trace.checkpoint_every=4"], tmp_path)
    sim.run(steps=4)  # stopped half-way, as a dashboard opened on a running run sees it
    assert sim.path is not None
    client = TestClient(create_app(sim.path))
    assert client.get("/api/progress").json()["steps_done"] == 4
    assert client.get("/api/series").json()["metrics"]["gini"]["x"] == [0, 1, 2, 3]
    Simulation.resume(sim.path).run()
    progress = client.get("/api/progress").json()
    assert (progress["status"], progress["steps_done"], progress["last_step"]) == ("completed", 10, 9)
    assert client.get("/api/series").json()["metrics"]["gini"]["x"] == list(range(10))


def test_dashboard_command_binds_to_loopback_by_default(social_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from populace.cli import app
    from populace.report import dashboard

    seen: dict[str, object] = {}

    def listen(host: str, port: int) -> socket.socket:
        seen.update(host=host, port=port)
        return socket.socket()

    def serve(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        seen.update(app=server.config.app, sockets=sockets)
        for sock in sockets:
            sock.close()

    monkeypatch.setattr(dashboard, "listen", listen)
    monkeypatch.setattr(uvicorn.Server, "run", serve)
    result = CliRunner().invoke(app, ["dashboard", str(social_run)])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8765 and seen["app"] is not None
    sockets = seen["sockets"]  # uvicorn serves on the socket already bound
    assert isinstance(sockets, list) and len(sockets) == 1
    assert "http://127.0.0.1:8765/" in result.output
    CliRunner().invoke(app, ["dashboard", str(social_run), "--host", "0.0.0.0", "--port", "9000"])
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 9000)
    missing = CliRunner().invoke(app, ["dashboard", "no-such-run"])
    assert missing.exit_code != 0


def test_a_port_in_use_is_a_one_line_error_before_the_url(social_run: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PopulaceError, match=f"cannot listen on 127.0.0.1:{port}: "):
            listen("127.0.0.1", port)
        done = subprocess.run([sys.executable, "-m", "populace", "dashboard", str(social_run), "--port", str(port)],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""  # no URL printed for a dashboard that never served
    assert done.stderr.strip().splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_an_agent_beyond_the_population_is_not_found(client: TestClient) -> None:
    missing = client.get("/api/agents/99999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "agent 99999 is not in this run (agents 0 to 11)"}
    assert client.get("/api/agents/-1").status_code == 404
    assert client.get("/api/agents/11").status_code == 200
