"""`populace run` against an OpenAI-compatible server that dies mid-run or answers nonsense: a health
line, one clear line on stderr, exit 1, everything recorded kept, and `populace resume` once it is back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from populace.llm.serve import free_port
from populace.reliability.model_faults import running_proxy
from populace.runs import Run


class StubServer(ThreadingHTTPServer):
    """Serves model ``tiny`` on 127.0.0.1 and answers every chat request ``{"action": "nothing"}``;
    at chat request number ``die_at`` it drops that request and stops listening, as a crashed server."""

    def __init__(self, port: int, die_at: int | None = None) -> None:
        super().__init__(("127.0.0.1", port), StubHandler)
        self.die_at, self.chats = die_at, 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def die(self) -> None:
        self.shutdown()
        self.server_close()


class StubHandler(BaseHTTPRequestHandler):
    server: StubServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send({"object": "list", "data": [{"id": "tiny"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.chats += 1
            dying = self.server.die_at is not None and self.server.chats >= self.server.die_at
        if dying:  # no answer to this one, and nobody listens any more
            threading.Thread(target=self.server.die, daemon=True).start()
            self.close_connection = True
            return
        self._send({"id": "c", "choices": [{"message": {"role": "assistant", "content": '{"action": "nothing"}'}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5}})


def scenario_file(directory: Path, base_url: str, steps: int = 5) -> Path:
    """Twelve generative agents on the opinion world, every one active every step."""
    scenario = {
        "name": "served", "seed": 2, "steps": steps,
        "population": {"size": 12},
        "world": {"type": "opinion"},
        "model": {"backend": "openai", "base_url": base_url, "model": "tiny", "schema_mode": "json_object",
                  "retries": 2, "backoff": 0.05, "timeout": 10},
        "minds": [{"type": "generative", "encoder": "hashing", "plan": False, "importance": "rule"}],
    }
    path = directory / "served.yaml"
    path.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return path


def populace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "populace", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "250"})


@pytest.fixture
def port() -> Iterator[int]:
    yield free_port()


def test_a_server_that_dies_mid_run_stops_it_in_one_line_and_resume_finishes_it(tmp_path: Path, port: int) -> None:
    server = StubServer(port, die_at=12 * 2 + 5)  # two steps answered, then four decisions of the third
    runs = tmp_path / "runs"
    done = populace("run", str(scenario_file(tmp_path, server.url)), "--runs-dir", str(runs), "--no-report")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("run failed: connection: all 12 model decisions of the last step failed: "
                                  f"the model server at {server.url} could not be reached")
    (run_dir,) = runs.iterdir()
    assert f"The run stopped after 4/5 steps; `populace resume {run_dir}`" in " ".join(done.stderr.split())
    # the third step lost 8 decisions with the server, the fourth all 12: then it stopped
    assert "health: 48 model decisions, 20 failed (20 connection)" in done.stdout
    manifest = Run(run_dir).manifest()
    assert manifest["status"] == "failed" and manifest["steps_done"] == manifest["last_checkpoint"] == 4
    assert manifest["health"]["failed"] == {"connection": 20}

    server = StubServer(port)  # back, on the same address
    resumed = populace("resume", str(run_dir), "--no-report")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "health: 60 model decisions, 20 failed (20 connection)" in resumed.stdout
    assert Run(run_dir).manifest()["status"] == "completed" and server.chats == 12
    shown = populace("show", str(run_dir))
    assert "health: 60 model decisions, 20 failed (20 connection)" in shown.stdout
    server.die()


def test_a_run_whose_answers_never_fit_the_schema_exits_1_naming_the_cause(tmp_path: Path, port: int) -> None:
    server = StubServer(port)
    with running_proxy(server.url.removesuffix("/v1"), {"invalid_action": 1.0}, seed=0, delay=1) as proxy:
        runs = tmp_path / "runs"
        done = populace("run", str(scenario_file(tmp_path, proxy.url + "/v1", steps=2)), "--runs-dir", str(runs),
                        "--no-report")
    server.die()
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("run failed: schema_mismatch: 24 of 24 model decisions failed (24 schema_mismatch): "
                                  "the model's JSON did not fit the action schema")
    assert "health: 24 model decisions, 24 failed (24 schema_mismatch), rejected 0.0 % of 0 actions" in done.stdout
    (run_dir,) = runs.iterdir()
    manifest = Run(run_dir).manifest()
    assert manifest["status"] == "failed" and manifest["steps_done"] == 2
