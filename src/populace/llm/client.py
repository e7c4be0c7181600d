"""The language-model client every model-driven mind uses, whatever the backend.

:class:`LanguageModel` wraps one :class:`~populace.llm.base.Backend` with bounded concurrency
(an asyncio semaphore), a timeout per attempt, retries with exponential backoff and seeded jitter
on transient errors, parse/repair/re-ask of structured output, the content-addressed response
cache, replay, and usage counters. Identical requests in flight at once are sent once.

A server that goes away is not retried request after request: once one request has spent its
retries on connection errors, the next ones get a single attempt each until one is answered, so
the step ends quickly with failed decisions and the simulation stops there (see
:mod:`populace.health`), as it does when the server is down at start.

Errors a caller sees::

    ModelError(cause)                 a request failed for good: timeout, connection, http_500,
    │                                 invalid_json, schema_mismatch, replay_miss, ...
    └── ModelUnavailableError         the model cannot be used at all (raised by ``start()``)
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import ValidationError

from populace import layout
from populace.context import MindContext
from populace.errors import ScenarioError, UnknownNameError
from populace.llm.base import (
    Backend,
    BackendConfig,
    Choice,
    Completion,
    Message,
    ModelError,
    ModelUnavailableError,
    Prompt,
    Sampling,
    Usage,
    model_backends,
)
from populace.llm.cache import CACHE_FILE, ResponseCache, request_key
from populace.llm.structured import InvalidOutput, parse_valid

T = TypeVar("T")

#: Causes worth another attempt; anything else (a 400, a wrong model, a replay miss) is final.
TRANSIENT = frozenset({"timeout", "connection", "http_408", "http_409", "http_429"})


#: Causes that mean the server is gone (refused or dropped the connection). Not ``timeout``: the
#: embedded model queues requests behind one lock, so on a busy CPU a step's answers can all time out
#: while the model works on.
UNANSWERED = frozenset({"connection"})


def is_transient(cause: str) -> bool:
    """Whether a failure with this cause may succeed when tried again."""
    return cause in TRANSIENT or cause.startswith("http_5")


def resolve_spec(spec: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
                 ) -> tuple[type[Backend], dict[str, Any], list[tuple[str, str]]]:
    """The backend that ``spec`` merged over ``defaults`` names (none: embedded), the fields to
    validate against its ``Config``, and ``(field, why)`` for each field of ``spec`` set for
    another backend only. Such fields are left out of the ones to validate (the scenario check says
    them; ``null`` sets none), and so are those inherited from ``defaults``: a mind that names
    another backend does not inherit the default backend's own fields. Fields no backend declares
    are kept, for its ``Config`` to refuse. An unknown backend raises :class:`UnknownNameError`."""
    merged = {**(defaults or {}), **spec}
    name = str(merged.get("backend") or "embedded")
    backend = model_backends.get(name)
    own = backend.Config.model_fields
    data: dict[str, Any] = {"backend": name}
    unused: list[tuple[str, str]] = []
    for key, value in merged.items():
        if key == "backend":
            continue
        users = [] if key in own else _users(key)
        if not users:
            data[key] = value
        elif key in spec and value is not None:
            unused.append((key, f"the {name} backend does not use it (only {' and '.join(users)})"))
    return backend, data, unused


def _users(key: str) -> list[str]:
    """The registered backends whose ``Config`` has the field ``key`` (loading them: only for a
    field the named backend does not have)."""
    users = []
    for name in model_backends.names():
        try:
            backend = model_backends.get(name)
        except Exception:  # a plugin that cannot be loaded uses no field of this spec
            continue
        if key in backend.Config.model_fields:
            users.append(name)
    return users


def parse_spec(spec: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> BackendConfig:
    """A model spec (over ``defaults``, the scenario's ``model:``) validated against its backend's
    ``Config``; a bad field is one line naming it, an unknown backend the registry's "did you mean"."""
    try:
        backend, data, _ = resolve_spec(spec, defaults)
    except UnknownNameError as exc:
        raise ScenarioError(f"model.backend: {exc}") from None
    try:
        return backend.Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "model"
        raise ScenarioError(f"model.{where}: {first['msg']} (got {first.get('input')!r})") from None


def create_backend(spec: BackendConfig) -> Backend:
    """The backend a validated spec names, built from its own ``Config`` (only that one is imported)."""
    return model_backends.get(spec.backend).from_spec(spec)


def as_messages(prompt: Prompt) -> list[Message]:
    """A prompt as chat messages (a plain string is one user message)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [dict(m) for m in prompt]


def describe(prompt: Prompt, limit: int = 60) -> str:
    """A short readable form of a prompt, for error messages."""
    text = prompt if isinstance(prompt, str) else " | ".join(m.get("content", "") for m in prompt)
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


class LanguageModel:
    """One backend plus concurrency, timeouts, retries, structured output, cache and counters."""

    def __init__(
        self, backend: Backend, *, cache: ResponseCache | None = None, replay: bool = False,
        concurrency: int = 8, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
        max_backoff: float = 8.0, repairs: int = 1, seed: int = 0,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.replay = replay
        self.concurrency = min(concurrency, backend.parallel) if backend.parallel else concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.repairs = repairs
        self.usage = Usage()
        #: requests that replay could not find in the cache (``replay_miss``), described
        self.misses: list[str] = []
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._start_lock = asyncio.Lock()
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._started = False
        self._closed = False
        #: the last request spent its retries on connection errors, and none has been answered since
        self.unreachable = False

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None = None, context: MindContext | None = None) -> LanguageModel:
        """The client for a mind's model spec over the scenario's default (``context.model``);
        minds with the same spec in one run share one client (and one loaded model)."""
        context = context if context is not None else MindContext()
        parsed = parse_spec(dict(spec or {}), context.model)
        share = "llm:" + json.dumps(parsed.model_dump(), sort_keys=True, default=repr)
        existing = context.shared.get(share)
        if isinstance(existing, LanguageModel):
            return existing
        backend = create_backend(parsed)
        cache: ResponseCache | None = None
        if parsed.cache is not False or context.replay:
            directory = Path(parsed.cache) if isinstance(parsed.cache, str) else (
                layout.cache_dir(context.run_path) if context.run_path is not None else None)
            cache = ResponseCache(directory / CACHE_FILE if directory is not None else None)
        client = cls(
            backend, cache=cache, replay=context.replay, timeout=parsed.timeout,
            concurrency=parsed.client_concurrency(),
            retries=parsed.retries, backoff=parsed.backoff, max_backoff=parsed.max_backoff,
            repairs=parsed.repairs, seed=parsed.seed,
        )
        context.shared[share] = client
        return client

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("a LanguageModel holds live connections and is not checkpointed; "
                        "re-create it with LanguageModel.from_spec(spec, context) after loading")

    # -- lifecycle ---------------------------------------------------------------------------
    def _bind_loop(self) -> None:
        """Asyncio primitives belong to one event loop; a new ``asyncio.run`` gets fresh ones."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._semaphore = asyncio.Semaphore(self.concurrency)
            self._start_lock = asyncio.Lock()
            self._inflight = {}

    async def start(self) -> None:
        """Check the model can be used before any step; raises :class:`ModelUnavailableError`
        with one clear line. Replay needs no model, so it checks nothing."""
        self._bind_loop()
        if self.replay or self._started:
            return
        async with self._start_lock:
            if not self._started:
                await self.backend.start()
                self._started = True

    async def aclose(self) -> None:
        """Release the backend and the cache file; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        await self.backend.aclose()
        if self.cache is not None:
            self.cache.close()

    # -- requests ----------------------------------------------------------------------------
    async def complete(self, prompt: Prompt, *, sampling: Sampling | None = None,
                       schema: dict[str, Any] | None = None, usage: Usage | None = None) -> Completion:
        """Generate an answer; with ``schema``, ``value`` holds the parsed, validated JSON.
        ``usage`` (optional) also counts this request, e.g. one counter per mind."""
        sampling = sampling or Sampling()
        key = request_key("complete", self.backend.name, prompt, sampling=sampling, schema=schema)
        started = time.perf_counter()
        record, cached = await self._request(
            "complete", key, prompt, lambda counters: self._generate(prompt, sampling, schema, counters), usage)
        return Completion(
            text=record["text"], request_id=key[:16], value=record.get("value"),
            tokens_in=record.get("tokens_in", 0), tokens_out=record.get("tokens_out", 0),
            cached=cached, seconds=time.perf_counter() - started,
        )

    async def choose(self, prompt: Prompt, options: Sequence[str], *, usage: Usage | None = None) -> Choice:
        """Probabilities over ``options`` from the model's log-probabilities (no free generation)."""
        options = [str(o) for o in options]
        if not options or len(set(options)) != len(options):
            raise ValueError(f"choose needs distinct options, got {options!r}")
        key = request_key("choose", self.backend.name, prompt, options=options)
        started = time.perf_counter()
        record, cached = await self._request(
            "choose", key, prompt, lambda counters: self._score(prompt, options, counters), usage)
        return Choice(options=options, probabilities=np.asarray(record["probabilities"], dtype=np.float64),
                      request_id=key[:16], cached=cached, seconds=time.perf_counter() - started,
                      tokens_in=record.get("tokens_in", 0))

    async def complete_many(
        self, prompts: Sequence[Prompt], *, sampling: Sampling | Sequence[Sampling] | None = None,
        schema: dict[str, Any] | None = None, usage: Usage | None = None,
    ) -> list[Completion | ModelError]:
        """Many completions, sent concurrently up to the limit; results in input order, a
        request that failed for good in its place as its :class:`ModelError`."""
        samplings = _per_item(sampling or Sampling(), len(prompts))

        async def one(prompt: Prompt, s: Sampling) -> Completion | ModelError:
            try:
                return await self.complete(prompt, sampling=s, schema=schema, usage=usage)
            except ModelError as exc:
                return exc

        return list(await asyncio.gather(*(one(p, s) for p, s in zip(prompts, samplings, strict=True))))

    async def choose_many(self, prompts: Sequence[Prompt], options: Sequence[str] | Sequence[Sequence[str]],
                          *, usage: Usage | None = None) -> list[Choice | ModelError]:
        """Many choices (the same options for all, or one list per prompt), concurrently, in order."""
        per_prompt: list[Sequence[str]] = (
            [list(o) for o in options] if options and not isinstance(options[0], str)
            else [[str(o) for o in options]] * len(prompts))
        if len(per_prompt) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(per_prompt)} option lists")

        async def one(prompt: Prompt, opts: Sequence[str]) -> Choice | ModelError:
            try:
                return await self.choose(prompt, opts, usage=usage)
            except ModelError as exc:
                return exc

        return list(await asyncio.gather(*(one(p, o) for p, o in zip(prompts, per_prompt, strict=True))))

    # -- machinery ---------------------------------------------------------------------------
    async def _request(
        self, kind: str, key: str, prompt: Prompt,
        produce: Callable[[list[Usage]], Awaitable[dict[str, Any]]], usage: Usage | None,
    ) -> tuple[dict[str, Any], bool]:
        """Answer from the cache, from an identical request in flight, or from the backend."""
        self._bind_loop()
        counters = [self.usage] if usage is None else [self.usage, usage]
        stored = self.cache.get(key) if self.cache is not None else None
        if stored is None and key in self._inflight:
            try:
                stored = await asyncio.shield(self._inflight[key])
            except ModelError as exc:
                _count_failure(counters, exc.cause)
                raise
        if stored is not None:
            for c in counters:
                c.cache_hits += 1
            return stored, True
        if self.replay:
            message = f"no cached response for {kind} request {key[:16]} (prompt {describe(prompt)})"
            self.misses.append(message)
            _count_failure(counters, "replay_miss")
            raise ModelError("replay_miss", message, key[:16])
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # waiters may be none
        self._inflight[key] = future
        try:
            await self.start()
            record = await produce(counters)
        except ModelError as exc:
            _count_failure(counters, exc.cause)
            exc.request_id = exc.request_id or key[:16]
            future.set_exception(exc)
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self._inflight.pop(key, None)
        if self.cache is not None:  # the prompt is kept beside the answer for reports and the dashboard
            stored_prompt = prompt if isinstance(prompt, str) else [dict(m) for m in prompt]
            self.cache.put(key, kind, self.backend.name, {**record, "prompt": stored_prompt})
        future.set_result(record)
        return record, False

    async def _attempt(self, call: Callable[[], Awaitable[T]], counters: list[Usage]) -> T:
        """Run one backend call with the concurrency limit, a timeout and retries with backoff
        (none while the server is :attr:`unreachable`)."""
        attempt = 0
        while True:
            try:
                async with self._semaphore:
                    started = time.perf_counter()
                    try:
                        result = await asyncio.wait_for(call(), self.timeout)
                    except TimeoutError:
                        raise ModelError("timeout", f"no answer within {self.timeout:g} s") from None
                    finally:
                        for c in counters:
                            c.calls += 1
                            c.seconds += time.perf_counter() - started
                self.unreachable = False
                return result
            except ModelUnavailableError:
                raise
            except ModelError as exc:
                if exc.cause not in UNANSWERED:
                    self.unreachable = False  # the server answered, if only with an error
                elif attempt >= self.retries or self.unreachable:
                    self.unreachable = True
                    raise
                if not is_transient(exc.cause) or attempt >= self.retries:
                    raise
                await asyncio.sleep(self._delay(attempt))
                attempt += 1
            except Exception as exc:  # a backend bug must not end the run: it is a failed decision
                raise ModelError("backend_error", f"{type(exc).__name__}: {exc}") from exc

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with seeded jitter in [0.5, 1.5) of the nominal delay."""
        return float(min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + self._rng.random()))

    async def _generate(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None,
                        counters: list[Usage]) -> dict[str, Any]:
        asked: Prompt = prompt
        problem: InvalidOutput | None = None
        for repair in range(self.repairs + 1):
            this = sampling if repair == 0 else replace(sampling, seed=sampling.seed + repair)
            completion = await self._attempt(self._completer(asked, this, schema), counters)
            for c in counters:
                c.tokens_in += completion.tokens_in
                c.tokens_out += completion.tokens_out
            record: dict[str, Any] = {"text": completion.text, "tokens_in": completion.tokens_in,
                                      "tokens_out": completion.tokens_out}
            if schema is None:
                return record
            try:
                record["value"] = parse_valid(completion.text, schema)
                return record
            except InvalidOutput as exc:
                problem = exc
                asked = [*as_messages(prompt), {"role": "assistant", "content": completion.text},
                         {"role": "user", "content": f"That is not valid ({exc}). Reply with only JSON that "
                                                     f"matches this schema: {json.dumps(schema)}"}]
        assert problem is not None
        raise ModelError(problem.cause, f"{problem} (after {self.repairs} re-ask(s))")

    def _completer(self, prompt: Prompt, sampling: Sampling,
                   schema: dict[str, Any] | None) -> Callable[[], Awaitable[Completion]]:
        return lambda: self.backend.complete(prompt, sampling, schema)

    async def _score(self, prompt: Prompt, options: list[str], counters: list[Usage]) -> dict[str, Any]:
        choice = await self._attempt(lambda: self.backend.choose(prompt, options), counters)
        p = np.asarray(choice.probabilities, dtype=np.float64)
        if p.shape != (len(options),) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise ModelError("invalid_choice", f"backend scored {len(options)} options as {p.tolist()!r}")
        for c in counters:
            c.tokens_in += choice.tokens_in
        return {"probabilities": (p / p.sum()).tolist(), "tokens_in": choice.tokens_in}


def _count_failure(counters: list[Usage], cause: str) -> None:
    for c in counters:
        c.failures += 1
        c.causes[cause] = c.causes.get(cause, 0) + 1


def _per_item(sampling: Sampling | Sequence[Sampling], n: int) -> list[Sampling]:
    if isinstance(sampling, Sampling):
        return [sampling] * n
    if len(sampling) != n:
        raise ValueError(f"{n} prompts but {len(sampling)} samplings")
    return list(sampling)
