"""The OpenAI-compatible backend: vLLM, SGLang, llama.cpp's server, Ollama, hosted APIs, over httpx.

``complete`` posts to ``/chat/completions`` (or ``/completions``). A schema is sent as the server
understands it (``schema_mode``): OpenAI and vLLM take ``{"type": "json_schema", ...}``; the
llama.cpp servers take ``{"type": "json_object", "schema": ...}`` (llama-cpp-python's answers the
former with HTTP 500). ``auto`` tries the first and falls back to the second, then to none, and
remembers what worked. The schema sent is bounded (:func:`~populace.llm.structured.bounded_schema`)
so that every server's grammar compiler accepts it; the client validates every answer against the
full schema either way.

``choose`` asks for one token with its top log-probabilities and gives each option the
probability of the tokens that begin it: exact for options that differ in their first token
(labels such as "yes"/"no" or "A"/"B"), which is how minds phrase choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from populace.llm.backends.scripted import prompt_text
from populace.llm.base import (
    Backend,
    BackendConfig,
    Choice,
    Completion,
    ModelError,
    ModelUnavailableError,
    Prompt,
    Sampling,
    register_backend,
)
from populace.llm.structured import bounded_schema

SCHEMA_MODES = ("json_schema", "json_object", "none")
TOP_LOGPROBS = 20


def first_token_probabilities(top: Mapping[str, float], options: Sequence[str]) -> np.ndarray:
    """Option weights from the next token's top log-probabilities: a token counts for every option
    it begins (split evenly); an option no listed token begins gets half the least listed mass."""
    mass = np.zeros(len(options))
    lowered = [o.strip().lower() for o in options]
    for token, logprob in top.items():
        piece = token.strip().lower()
        if not piece:
            continue
        matches = [i for i, o in enumerate(lowered) if o.startswith(piece)]
        for i in matches:
            mass[i] += math.exp(logprob) / len(matches)
    floor = min((math.exp(v) for v in top.values()), default=1.0) / 2
    mass[mass == 0] = floor
    return mass / mass.sum()


class ServerSpec(BaseModel):
    """One server of a fleet serving the same model."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    concurrency: int = Field(8, ge=1, le=4096, description="requests in flight at once on this server")


@register_backend
class OpenAIBackend(Backend):
    """A model behind an OpenAI-compatible HTTP API; ``transport`` replaces the network in tests."""

    name = "openai"

    class Config(BackendConfig):
        base_url: str | None = Field(None, description="the server's URL, e.g. http://127.0.0.1:8000/v1")
        servers: list[ServerSpec] | None = Field(
            None, min_length=1, description="several servers of the same model, each with its own limit")
        api_key_env: str | None = Field(None, description="environment variable holding the API key")
        endpoint: Literal["chat", "completions"] = "chat"
        schema_mode: Literal["auto", "json_schema", "json_object", "none"] = Field(
            "auto", description="how the server is asked to constrain JSON (json_object: llama.cpp's server)")

        def client_concurrency(self) -> int:
            return sum(s.concurrency for s in self.servers) if self.servers else self.concurrency

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None,
                 api_key_env: str | None = None, endpoint: str = "chat", schema_mode: str = "auto",
                 timeout: float = 30.0, concurrency: int = 8,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.api_key_env = api_key_env
        self.endpoint = endpoint
        self.schema_mode = None if schema_mode == "auto" else schema_mode
        self.timeout = timeout
        self.concurrency = concurrency
        self.transport = transport
        self.name = f"openai:{model or 'default'}"
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_spec(cls, spec: OpenAIBackend.Config) -> Backend:
        """One server, or with ``servers`` a :class:`~populace.llm.backends.fleet.FleetBackend` of them."""
        if spec.servers:
            from populace.llm.backends.fleet import FleetBackend

            members = [cls.from_spec(spec.model_copy(update={"base_url": s.base_url, "concurrency": s.concurrency,
                                                             "servers": None}))
                       for s in spec.servers]
            return FleetBackend(members, [s.concurrency for s in spec.servers])
        if not spec.base_url:
            from populace.errors import ScenarioError

            raise ScenarioError("model.base_url: the openai backend needs the server's URL, "
                                "e.g. http://127.0.0.1:8000/v1")
        return cls(spec.base_url, spec.model, api_key_env=spec.api_key_env, endpoint=spec.endpoint,
                   schema_mode=spec.schema_mode, timeout=spec.timeout, concurrency=spec.concurrency)

    # -- transport ---------------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        """One connection pool per event loop."""
        loop = asyncio.get_running_loop()
        if self._http is None or loop is not self._loop:
            key = self.api_key
            if key is None and self.api_key_env:
                key = os.environ.get(self.api_key_env)
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
            self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout,
                                           limits=limits, transport=self.transport)
            self._loop = loop
        return self._http

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = await self._client().request(method, path, json=body)
        except httpx.TimeoutException:
            raise ModelError("timeout", f"{self.base_url}{path} did not answer within {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise ModelError("connection", f"cannot reach {self.base_url}: {exc or type(exc).__name__}") from None
        if response.status_code >= 400:
            detail = " ".join(response.text.split())[:200]
            raise ModelError(f"http_{response.status_code}", f"{self.base_url}{path}: {detail}")
        try:
            return response.json()
        except ValueError:
            raise ModelError("invalid_response", f"{self.base_url}{path} did not return JSON") from None

    # -- contract ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Fail fast: the key is set, the server answers, and it serves the model."""
        if self.api_key is None and self.api_key_env and not os.environ.get(self.api_key_env):
            raise ModelUnavailableError("missing_key", f"environment variable {self.api_key_env} is not set "
                                                       f"(it should hold the API key for {self.base_url})")
        try:
            listing = await self._call("GET", "/models")
        except ModelError as exc:
            if exc.cause == "http_404":
                return  # the server does not list models; the first request will tell
            if exc.cause in ("http_401", "http_403"):
                raise ModelUnavailableError(exc.cause, f"{self.base_url} rejected the API key") from None
            raise ModelUnavailableError(exc.cause, str(exc).removeprefix(f"{exc.cause}: ")) from None
        served = [str(m.get("id")) for m in (listing.get("data") or []) if isinstance(m, dict)]
        if self.model is None:
            if not served:
                raise ModelUnavailableError("unknown_model", f"{self.base_url} serves no model; set model:")
            self.model = served[0]
            self.name = f"openai:{self.model}"
        elif served and self.model not in served:
            raise ModelUnavailableError(
                "unknown_model",
                f"{self.base_url} does not serve model {self.model!r} (it serves: {', '.join(served)})")

    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        body = self._body(prompt)
        body.update(max_tokens=sampling.max_tokens, temperature=sampling.temperature, seed=sampling.seed)
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if schema is None or self.endpoint != "chat":
            return self._completion(await self._post(body))
        modes = [self.schema_mode] if self.schema_mode else list(SCHEMA_MODES)
        sent = bounded_schema(schema)
        for i, mode in enumerate(modes):
            body.pop("response_format", None)
            if mode == "json_schema":
                body["response_format"] = {"type": "json_schema",
                                           "json_schema": {"name": "answer", "schema": sent, "strict": True}}
            elif mode == "json_object":
                body["response_format"] = {"type": "json_object", "schema": sent}
            try:
                result = self._completion(await self._post(body))
            except ModelError as exc:
                unsupported = exc.cause.startswith("http_") and exc.cause not in ("http_408", "http_429")
                if i + 1 < len(modes) and unsupported:
                    continue
                raise
            self.schema_mode = mode
            return result
        raise AssertionError("unreachable")

    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        body = self._body(prompt)
        body.update(max_tokens=1, temperature=0.0)
        if self.endpoint == "chat":
            body.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
        else:
            body.update(logprobs=TOP_LOGPROBS)
        answer = await self._post(body)
        try:
            logprobs = answer["choices"][0]["logprobs"]
            if self.endpoint == "chat":
                top = {t["token"]: float(t["logprob"]) for t in logprobs["content"][0]["top_logprobs"]}
            else:
                top = {k: float(v) for k, v in logprobs["top_logprobs"][0].items()}
        except (KeyError, IndexError, TypeError, ValueError):
            raise ModelError("no_logprobs",
                             f"{self.base_url} returned no log-probabilities for {self.model!r}") from None
        tokens_in = int((answer.get("usage") or {}).get("prompt_tokens") or 0)
        return Choice(options=list(options), probabilities=first_token_probabilities(top, options), request_id="",
                      tokens_in=tokens_in)

    async def aclose(self) -> None:
        if self._http is not None:
            with contextlib.suppress(RuntimeError):  # its event loop may have closed already
                await self._http.aclose()
            self._http = None

    # -- helpers -----------------------------------------------------------------------------
    def _body(self, prompt: Prompt) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model} if self.model else {}
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        else:
            body["prompt"] = prompt_text(prompt)
        return body

    async def _post(self, body: dict[str, Any]) -> Any:
        return await self._call("POST", "/chat/completions" if self.endpoint == "chat" else "/completions", body)

    def _completion(self, answer: Any) -> Completion:
        try:
            choice = answer["choices"][0]
            text = choice["message"]["content"] if self.endpoint == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise ModelError("invalid_response", f"{self.base_url} answered without a choice") from None
        usage = answer.get("usage") or {}
        return Completion(text=text or "", request_id=str(answer.get("id", "")),
                          tokens_in=int(usage.get("prompt_tokens") or 0),
                          tokens_out=int(usage.get("completion_tokens") or 0))
