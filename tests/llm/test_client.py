"""The client over the scripted backend: retries, timeouts, repair, cache, replay, concurrency, order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from populace.context import MindContext
from populace.errors import ScenarioError
from populace.llm.backends.scripted import ScriptedBackend, example_of
from populace.llm.base import Backend, Choice, Completion, ModelError, ModelUnavailableError, Prompt, Sampling, Usage
from populace.llm.cache import CACHE_FILE, ResponseCache
from populace.llm.client import LanguageModel, is_transient

SCHEMA = {
    "type": "object",
    "properties": {"action": {"enum": ["like", "ignore"]}, "strength": {"type": "integer", "minimum": 1}},
    "required": ["action"],
    "additionalProperties": False,
}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def fast(backend: Backend, **kwargs: Any) -> LanguageModel:
    kwargs.setdefault("backoff", 0.001)
    kwargs.setdefault("cache", ResponseCache())
    return LanguageModel(backend, **kwargs)


class Flaky:
    """Fails with ``cause`` for the first ``n`` calls, then answers ``reply``."""

    def __init__(self, n: int, cause: str = "http_500", reply: str = '{"action": "like"}') -> None:
        self.n, self.cause, self.reply, self.calls = n, cause, reply, 0

    def __call__(self, text: str, sampling: Sampling, schema: Any) -> str:
        self.calls += 1
        if self.calls <= self.n:
            raise ModelError(self.cause, "injected")
        return self.reply


def test_transient_errors_are_retried_with_growing_seeded_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def record(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", record)
    script = Flaky(3)
    lm = fast(ScriptedBackend(script), retries=3, backoff=1.0, max_backoff=100.0, seed=5)
    answer = run(lm.complete("hi", schema=SCHEMA))
    assert answer.value == {"action": "like"}
    assert script.calls == 4 and lm.usage.calls == 4 and lm.usage.failures == 0
    # nominal delays 1, 2, 4 with jitter in [0.5, 1.5)
    assert [0.5 <= d / 2 ** i < 1.5 for i, d in enumerate(slept)] == [True, True, True]
    again = fast(ScriptedBackend(Flaky(3)), retries=3, backoff=1.0, max_backoff=100.0, seed=5)
    slept_first = list(slept)
    slept.clear()
    run(again.complete("hi", schema=SCHEMA))
    assert slept == slept_first  # the jitter comes from the client's seed


def test_retries_exhausted_raise_model_error_with_cause_and_count_failure() -> None:
    script = Flaky(10, cause="http_503")
    lm = fast(ScriptedBackend(script), retries=2)
    with pytest.raises(ModelError) as info:
        run(lm.complete("hi"))
    assert info.value.cause == "http_503" and info.value.request_id
    assert script.calls == 3
    assert lm.usage.failures == 1 and lm.usage.causes == {"http_503": 1}


def test_non_transient_errors_are_not_retried() -> None:
    script = Flaky(10, cause="http_400")
    lm = fast(ScriptedBackend(script), retries=5)
    with pytest.raises(ModelError, match="http_400"):
        run(lm.complete("hi"))
    assert script.calls == 1
    assert is_transient("http_502") and is_transient("timeout") and not is_transient("replay_miss")


class Script:
    """Answers from a list: a cause fails that call with it, None answers ``{"action": "like"}``."""

    def __init__(self, outcomes: list[str | None]) -> None:
        self.outcomes, self.calls = list(outcomes), 0

    def __call__(self, text: str, sampling: Sampling, schema: Any) -> str:
        self.calls += 1
        cause = self.outcomes.pop(0)
        if cause is not None:
            raise ModelError(cause, "injected")
        return '{"action": "like"}'


def test_a_server_that_stopped_answering_gets_one_attempt_per_request_until_it_answers() -> None:
    script = Script(["connection"] * 4 + ["connection", "connection", None, "connection", None])
    lm = fast(ScriptedBackend(script), retries=3)
    with pytest.raises(ModelError, match="connection"):
        run(lm.complete("first"))
    assert script.calls == 4 and lm.unreachable  # its retries spent without an answer
    for prompt in ("second", "third"):
        with pytest.raises(ModelError):
            run(lm.complete(prompt))
    assert script.calls == 6  # one attempt each, no backoff
    assert run(lm.complete("fourth")).text and not lm.unreachable
    assert run(lm.complete("fifth")).text and script.calls == 9  # retried again
    assert lm.usage.causes == {"connection": 3}


def test_a_server_that_answers_with_errors_or_late_keeps_its_retries() -> None:
    script = Script(["connection"] * 3 + ["timeout", None] + ["http_500", None])
    lm = fast(ScriptedBackend(script), retries=2)
    with pytest.raises(ModelError):
        run(lm.complete("first"))
    assert lm.unreachable
    assert run(lm.complete("second")).text  # it took the connection, if too slowly: retried
    assert not lm.unreachable
    assert run(lm.complete("third")).text and script.calls == 7  # a 500 is an answer: retried


def test_timeout_per_attempt_then_failure() -> None:
    backend = ScriptedBackend("late", latency=0.5)
    lm = fast(backend, timeout=0.02, retries=1)
    with pytest.raises(ModelError) as info:
        run(lm.complete("hi"))
    assert info.value.cause == "timeout"
    assert backend.calls == 2 and lm.usage.calls == 2


def test_repairable_output_is_repaired_without_asking_again() -> None:
    backend = ScriptedBackend("Sure! ```json\n{'action': 'like', 'strength': 2,}\n```")
    lm = fast(backend)
    answer = run(lm.complete("hi", schema=SCHEMA))
    assert answer.value == {"action": "like", "strength": 2}
    assert backend.calls == 1


def test_invalid_output_is_asked_again_with_the_problem_then_accepted() -> None:
    seen: list[str] = []

    def respond(text: str, sampling: Sampling, schema: Any) -> str:
        seen.append(text)
        return '{"action": "like"}' if "not valid" in text else '{"action": "dance"}'

    lm = fast(ScriptedBackend(respond), repairs=1)
    answer = run(lm.complete("hi", schema=SCHEMA))
    assert answer.value == {"action": "like"}
    assert len(seen) == 2 and "'dance' is not one of" in seen[1]


def test_garbage_after_repairs_is_a_model_error_with_its_cause() -> None:
    lm = fast(ScriptedBackend("I cannot answer that."), repairs=2)
    with pytest.raises(ModelError) as info:
        run(lm.complete("hi", schema=SCHEMA))
    assert info.value.cause == "invalid_json"
    assert lm.usage.calls == 3 and lm.usage.causes == {"invalid_json": 1}
    wrong = fast(ScriptedBackend('{"action": "like", "extra": 1}'), repairs=0)
    with pytest.raises(ModelError) as info:
        run(wrong.complete("hi", schema=SCHEMA))
    assert info.value.cause == "schema_mismatch" and "extra" in str(info.value)


def test_cache_hit_skips_the_backend_and_survives_a_new_client(tmp_path: Path) -> None:
    path = tmp_path / "cache" / CACHE_FILE
    backend = ScriptedBackend('{"action": "like"}')
    lm = LanguageModel(backend, cache=ResponseCache(path))
    first = run(lm.complete("hello", schema=SCHEMA))
    second = run(lm.complete("hello", schema=SCHEMA))
    other_seed = run(lm.complete("hello", schema=SCHEMA, sampling=Sampling(seed=1)))
    assert (first.cached, second.cached, other_seed.cached) == (False, True, False)
    assert second.value == first.value and second.request_id == first.request_id
    assert backend.calls == 2 and lm.usage.cache_hits == 1
    run(lm.aclose())
    fresh = ScriptedBackend("something else")
    again = LanguageModel(fresh, cache=ResponseCache(path))
    assert run(again.complete("hello", schema=SCHEMA)).value == {"action": "like"}
    assert fresh.calls == 0


def test_replay_answers_from_the_cache_and_a_miss_names_the_request(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    recorder = LanguageModel(ScriptedBackend(probabilities={"yes": 3, "no": 1}), cache=ResponseCache(path))
    original = run(recorder.choose("Do you like cats?", ["yes", "no"]))
    run(recorder.aclose())
    backend = ScriptedBackend(probabilities={"yes": 1, "no": 1})
    replay = LanguageModel(backend, cache=ResponseCache(path), replay=True)
    again = run(replay.choose("Do you like cats?", ["yes", "no"]))
    assert np.allclose(again.probabilities, original.probabilities) and again.cached
    with pytest.raises(ModelError) as info:
        run(replay.choose("Do you like dogs?", ["yes", "no"]))
    assert info.value.cause == "replay_miss"
    assert "Do you like dogs?" in str(info.value) and info.value.request_id in str(info.value)
    assert backend.calls == 0 and replay.usage.calls == 0
    assert len(replay.misses) == 1


class Gauge(Backend):
    """Records how many calls overlap; answers with the prompt after a prompt-dependent delay."""

    name = "gauge"

    def __init__(self) -> None:
        self.now = self.peak = self.calls = 0

    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        self.calls += 1
        self.now += 1
        self.peak = max(self.peak, self.now)
        await asyncio.sleep(0.001 * (hash(str(prompt)) % 7))
        self.now -= 1
        return Completion(text=str(prompt), request_id="")

    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        raise NotImplementedError


def test_concurrency_limit_and_input_order_of_results() -> None:
    gauge = Gauge()
    lm = fast(gauge, concurrency=3)
    prompts = [f"p{i}" for i in range(40)]
    results = run(lm.complete_many(prompts))
    assert [r.text for r in results] == prompts
    assert gauge.peak == 3 and gauge.calls == 40


def test_identical_requests_in_flight_are_sent_once() -> None:
    gauge = Gauge()
    lm = fast(gauge, concurrency=8)
    results = run(lm.complete_many(["same"] * 10 + ["other"]))
    assert gauge.calls == 2
    assert [r.text for r in results] == ["same"] * 10 + ["other"]
    assert sum(r.cached for r in results) == 9 and lm.usage.cache_hits == 9


def test_many_returns_failures_in_place_and_counts_per_caller() -> None:
    def respond(text: str, sampling: Sampling, schema: Any) -> str:
        if "bad" in text:
            raise ModelError("http_400", "refused")
        return text

    lm = fast(ScriptedBackend(respond))
    mine = Usage()
    results = run(lm.complete_many(["a", "bad", "c"], usage=mine))
    assert isinstance(results[1], ModelError) and results[1].cause == "http_400"
    assert [getattr(r, "text", None) for r in results] == ["a", None, "c"]
    assert mine.calls == 3 and mine.failures == 1 and mine.causes == {"http_400": 1}


def test_choose_uses_scripted_probabilities_and_rejects_bad_options() -> None:
    lm = fast(ScriptedBackend(probabilities={"share": 3.0, "ignore": 1.0}))
    choice = run(lm.choose("?", ["share", "ignore", "reply"]))
    assert np.allclose(choice.probabilities, [0.75, 0.25, 0.0])
    many = run(lm.choose_many(["a", "b"], [["share", "ignore"], ["reply", "ignore"]]))
    assert np.allclose(many[0].probabilities, [0.75, 0.25]) and np.allclose(many[1].probabilities, [0.0, 1.0])
    with pytest.raises(ValueError, match="distinct"):
        run(lm.choose("?", ["a", "a"]))
    nothing = fast(ScriptedBackend(probabilities={"x": 1.0}))
    with pytest.raises(ModelError, match="invalid_choice"):
        run(nothing.choose("?", ["a", "b"]))


def test_a_backend_bug_is_a_failed_request_not_a_crash() -> None:
    def respond(text: str, sampling: Sampling, schema: Any) -> str:
        raise KeyError("oops")

    lm = fast(ScriptedBackend(respond))
    with pytest.raises(ModelError) as info:
        run(lm.complete("hi"))
    assert info.value.cause == "backend_error" and "KeyError" in str(info.value)


def test_unavailable_model_fails_at_start_and_is_not_retried() -> None:
    class Down(ScriptedBackend):
        starts = 0

        async def start(self) -> None:
            Down.starts += 1
            raise ModelUnavailableError("connection", "cannot reach http://127.0.0.1:9")

    lm = fast(Down(), retries=3)
    with pytest.raises(ModelUnavailableError, match="cannot reach"):
        run(lm.start())
    with pytest.raises(ModelUnavailableError):
        run(lm.complete("hi"))
    assert Down.starts == 2
    replaying = fast(Down(), replay=True)
    run(replaying.start())  # replay needs no model


def test_from_spec_merges_the_scenario_default_shares_clients_and_places_the_cache(tmp_path: Path) -> None:
    context = MindContext(run_path=tmp_path, model={"backend": "scripted", "responses": "ok", "concurrency": 2})
    a = LanguageModel.from_spec({}, context)
    b = LanguageModel.from_spec({"concurrency": 2}, context)
    c = LanguageModel.from_spec({"concurrency": 4}, context)
    assert a is b and a is not c and c.concurrency == 4
    assert run(a.complete("x")).text == "ok"
    assert (tmp_path / "cache" / CACHE_FILE).is_file()
    uncached = LanguageModel.from_spec({"cache": False}, context)
    assert uncached.cache is None
    elsewhere = LanguageModel.from_spec({"cache": str(tmp_path / "shared")}, context)
    run(elsewhere.complete("x"))
    assert (tmp_path / "shared" / CACHE_FILE).is_file()
    for lm in (a, c, uncached, elsewhere):
        run(lm.aclose())
        run(lm.aclose())  # idempotent


def test_bad_specs_are_one_line_errors() -> None:
    with pytest.raises(ScenarioError, match=r"model.backend: .*'gpt'"):
        LanguageModel.from_spec({"backend": "gpt"})
    with pytest.raises(ScenarioError, match=r"model.concurency: Extra inputs"):
        LanguageModel.from_spec({"backend": "scripted", "concurency": 3})
    with pytest.raises(ScenarioError, match="model.base_url"):
        LanguageModel.from_spec({"backend": "openai"})
    with pytest.raises(ScenarioError, match="model.function: cannot import"):
        LanguageModel.from_spec({"backend": "scripted", "function": "nowhere:fn"})


def test_scripted_table_and_schema_example() -> None:
    backend = ScriptedBackend({"vaccine": "share", "*": "idle"})
    lm = fast(backend)
    assert run(lm.complete("a post about a vaccine")).text == "share"
    assert run(lm.complete("a cat")).text == "idle"
    assert example_of(SCHEMA) == {"action": "like"}
    default = fast(ScriptedBackend())
    assert run(default.complete("x", schema=SCHEMA)).value == {"action": "like"}


def test_a_client_survives_a_second_event_loop() -> None:
    lm = fast(ScriptedBackend("ok", latency=0.001), concurrency=1)
    assert [r.text for r in run(lm.complete_many(["a", "b"]))] == ["ok", "ok"]
    assert [r.text for r in run(lm.complete_many(["c", "d"]))] == ["ok", "ok"]


def test_a_live_client_is_not_checkpointed() -> None:
    import pickle

    with pytest.raises(TypeError, match="from_spec"):
        pickle.dumps(fast(ScriptedBackend()))


def test_a_request_queued_behind_a_one_at_a_time_backend_is_not_timed_while_it_waits() -> None:
    """The embedded model answers one request at a time: five requests that each take 0.2 s all
    succeed under a 0.5 s timeout, because each is timed only once the backend works on it."""
    import threading
    import time as clock

    class OneAtATime(Backend):
        name = "slow:1"
        parallel = 1

        def __init__(self) -> None:
            self.busy = threading.Lock()
            self.overlaps = 0

        async def complete(self, prompt, sampling, schema):  # type: ignore[no-untyped-def]
            if not self.busy.acquire(blocking=False):
                self.overlaps += 1
                self.busy.acquire()
            try:
                await asyncio.sleep(0.2)
            finally:
                self.busy.release()
            return Completion(text="ok", request_id="", tokens_in=1, tokens_out=1)

        async def choose(self, prompt, options):  # type: ignore[no-untyped-def]
            return Choice(options=list(options), probabilities=np.ones(len(options)) / len(options), request_id="")

    backend = OneAtATime()
    lm = LanguageModel(backend, timeout=0.5, retries=0, concurrency=8)
    started = clock.perf_counter()
    answers = asyncio.run(lm.complete_many([f"q{i}" for i in range(5)]))
    assert [a.text for a in answers] == ["ok"] * 5 and backend.overlaps == 0
    assert clock.perf_counter() - started >= 0.9  # they did run one after another
