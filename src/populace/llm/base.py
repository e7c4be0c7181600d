"""The language-model contract shared by every backend and every model-driven mind.

A *backend* talks to one model (embedded llama.cpp, an OpenAI-compatible server, a script).
The *client* (:class:`populace.llm.client.LanguageModel`) wraps a backend with what every
backend needs: bounded concurrency, timeouts, retries with backoff, schema-constrained output
with parse/repair/retry, the content-addressed response cache, replay, and counters.

Minds depend only on the two client calls below. When a request still fails after its retries,
the client raises :class:`ModelError`; a mind turns that into a failed decision for the agents
it concerned (``Events.failed``), and the run goes on.

Backends are found by name in :data:`model_backends` (a scenario's ``model: {backend: ...}``): the
built-in ones lazily, others registered with :func:`register_backend` or declared by an installed
package under the entry-point group ``populace.backends``. Each declares its ``name`` and its
:class:`BackendConfig` subclass ``Config``, holding the fields only it reads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from populace.errors import PopulaceError
from populace.registry import Registry

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
Prompt = str | Sequence[Message]


class ModelError(PopulaceError):
    """A model request failed for good (after retries); ``cause`` is a short machine-readable tag
    such as ``timeout``, ``http_500``, ``http_429``, ``connection``, ``invalid_json``,
    ``schema_mismatch`` or ``replay_miss``."""

    def __init__(self, cause: str, message: str, request_id: str | None = None) -> None:
        super().__init__(f"{cause}: {message}")
        self.cause = cause
        self.request_id = request_id


class ModelUnavailableError(ModelError):
    """Raised at start-up (before any step) when the model cannot be used at all: server down,
    wrong model name, missing key, weights not installed."""


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters; part of the cache key."""

    max_tokens: int = 128
    temperature: float = 0.0
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass
class Completion:
    """One generated answer. ``value`` is the parsed JSON when a schema was given."""

    text: str
    request_id: str
    value: Any = None
    tokens_in: int = 0
    tokens_out: int = 0
    cached: bool = False
    seconds: float = 0.0


@dataclass
class Choice:
    """Probabilities over ``options`` from the model's log-probabilities (they sum to 1)."""

    options: list[str]
    probabilities: np.ndarray
    request_id: str
    cached: bool = False
    seconds: float = 0.0
    tokens_in: int = 0


@dataclass
class Usage:
    """Counters per run: recorded in each step's summary and shown by ``populace show``."""

    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    causes: dict[str, int] = field(default_factory=dict)

    def add(self, other: Usage) -> None:
        """Add another counter's totals into this one."""
        self.calls += other.calls
        self.cache_hits += other.cache_hits
        self.failures += other.failures
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.seconds += other.seconds
        for cause, n in other.causes.items():
            self.causes[cause] = self.causes.get(cause, 0) + n

    def as_dict(self) -> dict[str, float]:
        return {
            "llm_calls": self.calls, "llm_cache_hits": self.cache_hits, "llm_failures": self.failures,
            "llm_tokens_in": self.tokens_in, "llm_tokens_out": self.tokens_out, "llm_seconds": self.seconds,
        }


class BackendConfig(BaseModel):
    """The fields of a model spec that the client reads, whatever the backend. A backend's own
    ``Config`` subclasses it with the fields only that backend uses."""

    model_config = ConfigDict(extra="forbid")

    backend: str = Field("embedded", description="the backend's registered name")
    model: str | None = Field(None, description="the model's name, as the backend understands it")
    concurrency: int = Field(8, ge=1, le=4096)
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=20)
    backoff: float = Field(0.5, ge=0, description="first retry delay in seconds; doubles per retry")
    max_backoff: float = Field(8.0, ge=0)
    repairs: int = Field(1, ge=0, le=5, description="re-asks after output that is not valid JSON")
    seed: int = Field(0, description="seeds the retry jitter")
    cache: bool | str = Field(True, description="true: the run's cache/; false: none; or a directory")

    def client_concurrency(self) -> int:
        """Requests the client admits at once (a fleet: the sum of its servers' limits)."""
        return self.concurrency


class Backend(ABC):
    """One model behind one transport. Implementations raise ``ModelError`` with a cause tag;
    retries, caching and concurrency are the client's job, not the backend's."""

    #: on the class, the name a model spec gives as ``backend:``; an instance may add its model,
    #: e.g. ``"openai:qwen2.5-7b"``: it identifies the backend and model in cache keys
    name: str = ""
    #: the model spec's fields this backend reads: :class:`BackendConfig` and its own
    Config: ClassVar[type[BackendConfig]] = BackendConfig
    #: requests the backend can work on at once (``None``: no limit of its own). The client never
    #: sends more, so a request's timeout runs while it is being answered, not while it queues.
    parallel: int | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> Backend:
        """The backend for a validated model spec, an instance of ``cls.Config``."""
        raise NotImplementedError(f"{cls.__name__} does not say how to build it from a model spec (from_spec)")

    async def start(self) -> None:
        """Check the model can be used; raise :class:`ModelUnavailableError` with one clear line."""
        return None

    @abstractmethod
    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        """Generate text (constrained to ``schema`` where the backend can enforce it)."""

    @abstractmethod
    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        """Score each option as a continuation of ``prompt``; no free generation."""

    async def aclose(self) -> None:
        return None


B = TypeVar("B", bound=type[Backend])

#: Model backends by name. The built-in ones are imported only when a spec names them.
model_backends: Registry[type[Backend]] = Registry(
    "model backend",
    lazy={"embedded": "populace.llm.backends.embedded:EmbeddedBackend",
          "openai": "populace.llm.backends.openai:OpenAIBackend",
          "scripted": "populace.llm.backends.scripted:ScriptedBackend"},
    group="populace.backends",
)


def register_backend(cls: B) -> B:
    """Class decorator: a model spec's ``backend: <cls.name>`` builds this backend from its ``Config``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a name to be registered as a model backend")
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, BackendConfig)):
        raise TypeError(f"{cls.__name__}.Config must subclass populace.llm.BackendConfig")
    model_backends.add(cls.name, cls)
    return cls
