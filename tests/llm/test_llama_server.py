"""Integration: the openai backend against a real llama.cpp server on 127.0.0.1 (SmolLM2, 1 thread)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from populace.llm.backends.openai import OpenAIBackend
from populace.llm.base import ModelError, ModelUnavailableError, Sampling
from populace.llm.client import LanguageModel
from populace.llm.serve import LlamaServer, free_port
from populace.runs import Run

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")

SCHEMA = {
    "type": "object",
    "properties": {"action": {"enum": ["like", "share", "ignore"]}, "reason": {"type": "string", "maxLength": 30}},
    "required": ["action", "reason"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    with LlamaServer(threads=1) as running:
        yield running


def spec(server: LlamaServer, **extra: object) -> dict[str, object]:
    return {"backend": "openai", "base_url": server.base_url, "model": server.alias, "cache": False, **extra}


def test_complete_choose_and_constrained_json(server: LlamaServer) -> None:
    async def scenario() -> None:
        lm = LanguageModel.from_spec(spec(server))
        await lm.start()
        text = await lm.complete("Say hello.", sampling=Sampling(max_tokens=8))
        assert text.text.strip() and text.tokens_in > 0 and 0 < text.tokens_out <= 8
        prompts = [f"You love {topic}. Post: 'New {topic} pictures'. Respond as JSON."
                   for topic in ("cats", "trains", "jazz")]
        answers = await lm.complete_many(prompts, schema=SCHEMA, sampling=Sampling(max_tokens=48))
        for answer in answers:
            assert not isinstance(answer, ModelError), answer
            assert answer.value["action"] in ("like", "share", "ignore")
        # llama-cpp-python's server refuses json_schema; the backend settled on json_object
        assert lm.backend.schema_mode == "json_object"  # type: ignore[attr-defined]
        choice = await lm.choose("Is Paris the capital of France? Answer yes or no.", ["yes", "no"])
        assert choice.probabilities.shape == (2,) and np.isclose(choice.probabilities.sum(), 1.0)
        assert np.all(choice.probabilities > 0)
        assert lm.usage.failures == 0 and lm.usage.calls >= 5
        await lm.aclose()

    asyncio.run(scenario())


def test_wrong_model_name_is_one_line_at_start(server: LlamaServer) -> None:
    lm = LanguageModel.from_spec(spec(server, model="gpt-9"))
    with pytest.raises(ModelUnavailableError) as info:
        asyncio.run(lm.start())
    assert info.value.cause == "unknown_model"
    assert str(info.value) == (f"unknown_model: {server.base_url} does not serve model 'gpt-9' "
                               f"(it serves: {server.alias})")


def test_unreachable_server_is_one_line_at_start() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    lm = LanguageModel.from_spec({"backend": "openai", "base_url": url, "model": "m", "cache": False, "timeout": 5})
    with pytest.raises(ModelUnavailableError) as info:
        asyncio.run(lm.start())
    assert info.value.cause == "connection" and url in str(info.value) and "\n" not in str(info.value)


class FaultyProxy(httpx.AsyncBaseTransport):
    """Forwards to the real server, injecting one fault per request from a script:
    ``"500"``, ``"garbage"`` (a 200 whose content is not JSON), ``"slow"`` (answers after 2 s) or ``None``."""

    def __init__(self, faults: list[str | None]) -> None:
        self.faults = list(faults)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.faults.pop(0) if self.faults and request.method == "POST" else None
        if fault == "500":
            return httpx.Response(500, text="injected")
        if fault == "slow":
            await asyncio.sleep(2)
        response = await self.inner.handle_async_request(request)
        if fault == "garbage":
            await response.aread()
            body = json.loads(response.content)
            body["choices"][0]["message"]["content"] = "}{ not json"
            return httpx.Response(200, json=body)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_faults_mid_run_are_retried_or_become_model_errors(server: LlamaServer) -> None:
    def client(faults: list[str | None], **kwargs: object) -> LanguageModel:
        backend = OpenAIBackend(server.base_url, server.alias, schema_mode="json_object",
                                transport=FaultyProxy(faults))
        return LanguageModel(backend, backoff=0.01, **kwargs)  # type: ignore[arg-type]

    async def scenario() -> None:
        flaky = client(["500", "500", None], retries=3)
        answer = await flaky.complete("Say hi.", sampling=Sampling(max_tokens=4))
        assert answer.text and flaky.usage.calls == 3
        garbled = client(["garbage", None], repairs=1)
        fixed = await garbled.complete("Respond as JSON.", schema=SCHEMA, sampling=Sampling(max_tokens=48))
        assert fixed.value["action"] in ("like", "share", "ignore") and garbled.usage.calls == 2
        hopeless = client(["garbage", "garbage"], repairs=1)
        with pytest.raises(ModelError) as info:
            await hopeless.complete("Respond as JSON.", schema=SCHEMA, sampling=Sampling(max_tokens=48))
        assert info.value.cause == "invalid_json"
        slow = client(["slow", "slow"], retries=1, timeout=0.5)
        with pytest.raises(ModelError) as info:
            await slow.complete("Say hi.", sampling=Sampling(max_tokens=4))
        assert info.value.cause == "timeout" and slow.usage.calls == 2
        for lm in (flaky, garbled, hopeless, slow):
            await lm.aclose()

    asyncio.run(scenario())


def default_scenario_on(server: LlamaServer, runs: Path, steps: int) -> subprocess.Popen[str]:
    """``populace run`` of the default scenario for ``steps`` steps on the openai backend against ``server``
    (a long timeout: one constrained answer can take a minute on a busy 2-core machine)."""
    model = f"{{backend: openai, base_url: '{server.base_url}', model: {server.alias}, timeout: 180}}"
    return subprocess.Popen(
        [sys.executable, "-m", "populace", "run", "--runs-dir", str(runs), "--no-report", "--set", f"steps={steps}",
         "--set", f"model={model}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "250"})


def test_the_default_scenario_on_a_llama_cpp_server_makes_its_decisions(server: LlamaServer, tmp_path: Path) -> None:
    """Its generative mind's action schema once made the server's grammar parser fail and the server crash."""
    run = default_scenario_on(server, tmp_path / "runs", steps=1)
    out, err = run.communicate(timeout=900)
    assert run.returncode == 0, out + err
    (run_dir,) = (tmp_path / "runs").iterdir()
    health = Run(run_dir).manifest()["health"]
    assert health["model_decisions"] >= 1 and health["failed"] == {}, health
    assert f"health: {health['model_decisions']} model decisions, 0 failed" in out


def test_a_llama_cpp_server_killed_mid_run_ends_it_in_one_line_with_exit_1(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with LlamaServer(threads=1) as dying:
        run = default_scenario_on(dying, runs, steps=3)
        answered = 0
        while not answered and run.poll() is None:  # kill it once it has made a decision
            time.sleep(1)
            cache = [*runs.glob("*/cache/responses.sqlite")]
            if cache:
                with sqlite3.connect(f"file:{cache[0]}?mode=ro", uri=True) as db:
                    answered = db.execute("SELECT count(*) FROM responses WHERE kind = 'complete'").fetchone()[0]
        assert dying.process is not None
        dying.process.kill()
        out, err = run.communicate(timeout=900)
    assert run.returncode == 1, out + err
    said = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
    assert "Traceback" not in err and len(said) == 1, err
    assert said[0].startswith("run failed: connection: all ") and dying.base_url in said[0]
    (run_dir,) = runs.iterdir()
    manifest = Run(run_dir).manifest()
    assert manifest["status"] == "failed" and manifest["steps_done"] < 3
    assert manifest["health"]["failed"]["connection"] >= 1
    assert f"populace resume {run_dir}" in " ".join(err.split())
