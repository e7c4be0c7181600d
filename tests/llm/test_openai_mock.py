"""The OpenAI-compatible backend against an in-process fake server (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import numpy as np
import pytest

from populace.llm.backends.openai import OpenAIBackend, first_token_probabilities
from populace.llm.base import ModelError, ModelUnavailableError
from populace.llm.cache import ResponseCache
from populace.llm.client import LanguageModel

SCHEMA = {"type": "object", "properties": {"like": {"type": "boolean"}}, "required": ["like"]}


class FakeServer:
    """Serves one model; rejects json_schema like llama-cpp-python's server; fails on demand."""

    def __init__(self, model: str = "tiny", *, json_schema: bool = False, fail: int = 0) -> None:
        self.model, self.json_schema, self.fail = model, json_schema, fail
        self.requests: list[tuple[str, dict[str, Any], httpx.Headers]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.requests.append((request.url.path, body, request.headers))
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": self.model}]})
        if self.fail:
            self.fail -= 1
            return httpx.Response(503, text="overloaded")
        if body.get("model") != self.model:
            return httpx.Response(404, json={"error": "no such model"})
        fmt = body.get("response_format")
        if fmt and fmt["type"] == "json_schema" and not self.json_schema:
            return httpx.Response(500, json={"error": "json_schema not supported"})
        if body.get("logprobs"):
            top = [{"token": "Yes", "logprob": np.log(0.6)}, {"token": "no", "logprob": np.log(0.2)},
                   {"token": "The", "logprob": np.log(0.1)}]
            return httpx.Response(200, json={"choices": [{"message": {"content": "Yes"},
                                                          "logprobs": {"content": [{"token": "Yes", "top_logprobs": top}]}}]})
        content = '{"like": true}' if fmt else "plain words"
        return httpx.Response(200, json={"id": "c1", "choices": [{"message": {"role": "assistant", "content": content}}],
                                         "usage": {"prompt_tokens": 11, "completion_tokens": 4}})


def client(server: FakeServer, **kwargs: Any) -> LanguageModel:
    backend = OpenAIBackend("http://fake/v1", kwargs.pop("model", "tiny"), transport=httpx.MockTransport(server),
                            api_key=kwargs.pop("api_key", None), api_key_env=kwargs.pop("api_key_env", None),
                            schema_mode=kwargs.pop("schema_mode", "auto"))
    return LanguageModel(backend, cache=ResponseCache(), backoff=0.001, **kwargs)


def test_completion_and_token_counts() -> None:
    server = FakeServer()
    lm = client(server, api_key="sk-test")
    answer = asyncio.run(lm.complete("hello"))
    assert answer.text == "plain words" and (answer.tokens_in, answer.tokens_out) == (11, 4)
    path, body, headers = server.requests[-1]
    assert path == "/v1/chat/completions" and body["messages"] == [{"role": "user", "content": "hello"}]
    assert headers["authorization"] == "Bearer sk-test"
    assert lm.usage.tokens_in == 11 and lm.usage.calls == 1


def test_schema_falls_back_from_json_schema_to_llama_cpp_json_object_and_remembers() -> None:
    server = FakeServer(json_schema=False)
    lm = client(server)
    assert asyncio.run(lm.complete("a", schema=SCHEMA)).value == {"like": True}
    formats = [b.get("response_format", {}).get("type") for _, b, _ in server.requests if b]
    assert formats == ["json_schema", "json_object"]
    assert server.requests[-1][1]["response_format"]["schema"] == SCHEMA
    asyncio.run(lm.complete("b", schema=SCHEMA))
    assert server.requests[-1][1]["response_format"]["type"] == "json_object"
    assert len([r for r in server.requests if r[0] != "/v1/models"]) == 3


def test_json_schema_is_used_where_supported() -> None:
    server = FakeServer(json_schema=True)
    lm = client(server)
    asyncio.run(lm.complete("a", schema=SCHEMA))
    fmt = server.requests[-1][1]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == SCHEMA


def test_the_schema_sent_is_bounded_and_the_answer_checked_against_the_full_one() -> None:
    from populace.llm.structured import bounded_schema

    schema = {"type": "object", "required": ["like", "note"], "properties": {
        "like": {"type": "boolean"}, "note": {"type": "string", "maxLength": 5000}}}
    for json_schema in (True, False):
        server = FakeServer(json_schema=json_schema)
        lm = client(server)
        with pytest.raises(ModelError) as info:  # the fake answers {"like": true}: no note
            asyncio.run(lm.complete("a", schema=schema))
        assert info.value.cause == "schema_mismatch"
        fmt = server.requests[-1][1]["response_format"]
        sent = fmt["json_schema"]["schema"] if json_schema else fmt["schema"]
        assert sent == bounded_schema(schema) and "maxLength" not in sent["properties"]["note"]


def test_choose_from_top_logprobs() -> None:
    lm = client(FakeServer())
    choice = asyncio.run(lm.choose("Like it?", ["yes", "no", "maybe"]))
    # yes 0.6, no 0.2, maybe unseen -> half the least listed mass (0.05); normalised
    assert np.allclose(choice.probabilities, np.array([0.6, 0.2, 0.05]) / 0.85)
    assert np.allclose(first_token_probabilities({"A": 0.0}, ["A", "B"]), [2 / 3, 1 / 3])


def test_server_errors_are_retried_by_the_client() -> None:
    server = FakeServer(fail=2)
    lm = client(server, retries=3)
    assert asyncio.run(lm.complete("x")).text == "plain words"
    assert lm.usage.calls == 3


def test_start_fails_fast_on_wrong_model_missing_key_and_unreachable_server(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelUnavailableError, match=r"does not serve model 'big' \(it serves: tiny\)"):
        asyncio.run(client(FakeServer(), model="big").start())
    monkeypatch.delenv("POPULACE_TEST_KEY", raising=False)
    with pytest.raises(ModelUnavailableError, match="POPULACE_TEST_KEY is not set"):
        asyncio.run(client(FakeServer(), api_key_env="POPULACE_TEST_KEY").start())

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    down = LanguageModel(OpenAIBackend("http://fake/v1", "tiny", transport=httpx.MockTransport(refuse)))
    with pytest.raises(ModelUnavailableError) as info:
        asyncio.run(down.start())
    assert info.value.cause == "connection" and "\n" not in str(info.value)


def test_missing_logprobs_is_a_model_error() -> None:
    def no_logprobs(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": "Yes"}}]})

    lm = LanguageModel(OpenAIBackend("http://fake/v1", "tiny", transport=httpx.MockTransport(no_logprobs)))
    lm._started = True
    with pytest.raises(ModelError, match="no_logprobs"):
        asyncio.run(lm.choose("?", ["yes", "no"]))


def test_the_completions_endpoint_sends_text_and_reads_its_logprobs() -> None:
    seen: list[dict[str, Any]] = []

    def completions(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if body.get("logprobs"):
            return httpx.Response(200, json={"choices": [{"text": "A", "logprobs": {
                "top_logprobs": [{"A": np.log(0.5), " B": np.log(0.25)}]}}], "usage": {"prompt_tokens": 7}})
        return httpx.Response(200, json={"choices": [{"text": "once upon"}], "usage": {"completion_tokens": 2}})

    backend = OpenAIBackend("http://fake/v1", "base", endpoint="completions", transport=httpx.MockTransport(completions))
    lm = LanguageModel(backend, cache=ResponseCache())
    lm._started = True
    assert asyncio.run(lm.complete([{"role": "user", "content": "Tell a story"}])).text == "once upon"
    assert seen[-1]["prompt"] == "user: Tell a story" and "messages" not in seen[-1]
    choice = asyncio.run(lm.choose("Pick", ["A", "B", "C"]))
    assert seen[-1]["logprobs"] == 20 and seen[-1]["max_tokens"] == 1
    assert np.allclose(choice.probabilities, np.array([0.5, 0.25, 0.125]) / 0.875)
    assert lm.usage.tokens_in == 7
