"""The shared base of minds that ask a language model: where the client comes from, and its counters.

The client is built lazily from the mind's ``model`` spec (default: the scenario's ``model:``)
with ``populace.llm.client.LanguageModel.from_spec``; it is a live object, so it is never
checkpointed and is rebuilt after a resume. Tests hand a mind any object with the same calls
through :meth:`LanguageMind.use_model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import Field

from populace.context import MindContext
from populace.embedding import Encoder, encoders
from populace.llm.base import Choice, Completion, Prompt, Sampling, Usage
from populace.llm.client import LanguageModel
from populace.minds.base import M, Mind, MindConfig


class ModelClient(Protocol):
    """The calls minds make on a language-model client."""

    usage: Usage

    async def complete(self, prompt: Prompt, *, sampling: Sampling | None = None,
                       schema: dict[str, Any] | None = None, usage: Usage | None = None) -> Completion: ...

    async def choose(self, prompt: Prompt, options: Sequence[str], *, usage: Usage | None = None) -> Choice: ...


def shared_encoder(context: MindContext, name: str) -> Encoder:
    """The run's encoder called ``name``: loaded once and shared by every mind that embeds text."""
    key = f"encoder:{name}"
    found = context.shared.get(key)
    if not isinstance(found, Encoder):
        found = context.shared[key] = encoders.get(name)()
    return found


class EncodingMind(Mind[M]):
    """A mind that embeds text with the run's shared encoder named by its config's ``encoder``;
    the encoder loads on first use and is never checkpointed."""

    _encoder: Encoder | None = None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = shared_encoder(self.context, str(getattr(self.config, "encoder", "minilm")))
        return self._encoder

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_encoder"] = None  # reloaded on first use after resume
        return state


class LanguageMindConfig(MindConfig):
    model: dict[str, Any] | None = Field(None, description="model spec; default: the scenario's `model:`")


LM = TypeVar("LM", bound=LanguageMindConfig)


class LanguageMind(Mind[LM]):
    """A mind that owns one language-model client and reports its usage per step."""

    Config: ClassVar[type[MindConfig]] = LanguageMindConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: ModelClient | None = None
        self.usage = Usage()  # this mind's share of its (possibly shared) client's requests
        self._counters: dict[str, float] = {}

    def use_model(self, client: ModelClient) -> None:
        """Decide with ``client`` instead of building one from the spec."""
        self._client = client

    @property
    def llm(self) -> ModelClient:
        """The model client, built from the spec on first use."""
        if self._client is None:
            spec = self.config.model if self.config.model is not None else self.context.model
            self.use_model(LanguageModel.from_spec(spec, self.context))
        assert self._client is not None
        return self._client

    async def complete(self, prompt: Prompt, *, sampling: Sampling | None = None,
                       schema: dict[str, Any] | None = None) -> Completion:
        """Ask the model for text (JSON valid for ``schema`` where given), counted for this mind."""
        return await self.llm.complete(prompt, sampling=sampling, schema=schema, usage=self.usage)

    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        """Ask the model for probabilities over ``options``, counted for this mind."""
        return await self.llm.choose(prompt, options, usage=self.usage)

    def count(self, **amounts: float) -> None:
        """Add to this mind's counters (reported by :meth:`stats`)."""
        for key, value in amounts.items():
            self._counters[key] = self._counters.get(key, 0) + value

    def stats(self) -> dict[str, float]:
        """Cumulative counters: this mind's own, and its ``llm_*`` model usage."""
        return {**self._counters, **self.usage.as_dict()}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_client"] = None  # a live client is rebuilt after resume
        return state

    async def start(self) -> None:
        """Build the client and check the model answers, before any step runs."""
        start = getattr(self.llm, "start", None)
        if start is not None:
            await start()

    async def aclose(self) -> None:
        close = getattr(self._client, "aclose", None)
        if close is not None:
            await close()
