"""A model backend of one's own is one class: registered with ``@register_backend`` (or declared
by an installed package under the entry-point group ``populace.backends``), named by a model spec's
``backend:``, built from its own ``Config``, with no change to populace.llm."""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from populace.errors import ScenarioError
from populace.llm import Backend, BackendConfig, Choice, Completion, Prompt, Sampling, model_backends, register_backend
from populace.llm.client import LanguageModel
from populace.scenario import load_scenario
from populace.simulation import Simulation


@register_backend
class EchoBackend(Backend):
    """Says the prompt back after a prefix, and always prefers one option."""

    name = "echo"

    class Config(BackendConfig):  # the fields only this backend reads; the client reads the rest
        prefix: str = "echo: "
        favourite: str = "yes"

    def __init__(self, prefix: str = "echo: ", favourite: str = "yes") -> None:
        self.prefix = prefix
        self.favourite = favourite

    @classmethod
    def from_spec(cls, spec: EchoBackend.Config) -> EchoBackend:
        return cls(spec.prefix, spec.favourite)

    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
        return Completion(text=self.prefix + text, request_id="")

    async def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        weights = np.array([9.0 if option == self.favourite else 1.0 for option in options])
        return Choice(options=list(options), probabilities=weights / weights.sum(), request_id="")


class ShoutBackend(EchoBackend):
    """Not registered here: an installed package declares it (see the entry-point test)."""

    name = "shout"

    async def complete(self, prompt: Prompt, sampling: Sampling, schema: dict[str, Any] | None) -> Completion:
        answer = await super().complete(prompt, sampling, schema)
        return Completion(text=answer.text.upper(), request_id="")


def ask(spec: dict[str, Any]) -> tuple[str, list[float]]:
    """A client built from ``spec``, asked once to complete and once to choose."""

    async def go() -> tuple[str, list[float]]:
        lm = LanguageModel.from_spec({"cache": False, **spec})
        try:
            text = (await lm.complete("hello")).text
            return text, (await lm.choose("agree?", ["yes", "no"])).probabilities.tolist()
        finally:
            await lm.aclose()

    return asyncio.run(go())


def test_a_registered_backend_answers_through_the_client() -> None:
    assert ask({"backend": "echo", "prefix": ">> "}) == (">> hello", [0.9, 0.1])
    assert ask({"backend": "echo", "favourite": "no", "retries": 0}) == ("echo: hello", [0.1, 0.9])
    assert "echo" in model_backends and model_backends.get("echo") is EchoBackend


def test_its_config_is_checked_like_a_builtin_backends() -> None:
    with pytest.raises(ScenarioError, match=r"^model\.prefx: Extra inputs"):
        LanguageModel.from_spec({"backend": "echo", "prefx": ">> "})
    with pytest.raises(ScenarioError, match=r"^model\.backend: unknown model backend 'ecko'; did you mean 'echo'\?"):
        LanguageModel.from_spec({"backend": "ecko"})
    with pytest.raises(ValueError, match="already registered"):
        register_backend(type("Impostor", (EchoBackend,), {"name": "echo"}))


def test_an_installed_packages_entry_point_is_loaded_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_backends, "_entries", dict(model_backends._entries))  # forget it after the test
    declared = importlib.metadata.EntryPoint(name="shout", value=f"{__name__}:ShoutBackend", group="populace.backends")
    asked: list[str | None] = []

    def entry_points(*, group: str | None = None) -> importlib.metadata.EntryPoints:
        asked.append(group)
        return importlib.metadata.EntryPoints([declared] if group == "populace.backends" else [])

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    assert ask({"backend": "echo"})[0] == "echo: hello" and asked == []  # a known name reads no entry point
    assert "shout" in model_backends.names()
    assert ask({"backend": "shout", "prefix": "hey "}) == ("HEY HELLO", [0.9, 0.1])
    assert model_backends.get("shout") is ShoutBackend
    with pytest.raises(ScenarioError, match=r"did you mean 'shout'\?"):
        LanguageModel.from_spec({"backend": "shuot"})


SCENARIO: dict[str, Any] = {
    "name": "echo-minds", "seed": 1, "steps": 2,
    "population": {"size": 20},
    "world": {"type": "opinion"},
    "model": {"backend": "echo", "favourite": "discuss", "cache": False},
    "minds": [{"select": "all", "type": "archetype", "prompt": "Opinion {obs.opinion}: {options}?",
               "bins": {"obs.opinion": [0.5]},
               "options": {"discuss": {"action": "discuss", "args": {"with": "obs.neighbour"}}, "ignore": None}}],
}


def test_a_scenario_runs_on_it_and_its_fields_are_checked_at_load(tmp_path: Path) -> None:
    sim = Simulation.from_scenario(load_scenario(SCENARIO), runs_dir=tmp_path).run()
    actions = sim.events().to_pandas()["action"].value_counts()
    assert actions.get("discuss", 0) > 20  # 9 to 1 for discuss, as the plugin scores it
    with pytest.raises(ScenarioError, match=r"model\.threads: the echo backend does not use it \(only embedded\)"):
        load_scenario(SCENARIO, ["model.threads=2"])
    with pytest.raises(ScenarioError, match=r"model\.favorite: unknown field; did you mean 'favourite'\?"):
        load_scenario(SCENARIO, ["model.favorite=ignore"])


def test_importing_populace_and_the_client_imports_no_backend() -> None:
    import subprocess
    import sys

    code = ("import sys, populace, populace.llm.client; "
            "print(sorted(m for m in sys.modules if m.startswith('populace.llm.backends.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_worlds_minds_policies_and_recommenders_read_their_own_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    from populace.minds import minds
    from populace.policy import policies
    from populace.world import worlds
    from populace.worlds.social.recommenders import recommenders

    def entry_points(*, group: str | None = None) -> importlib.metadata.EntryPoints:
        return importlib.metadata.EntryPoints(
            [importlib.metadata.EntryPoint(name=f"from-{group}", value="nowhere:Thing", group=str(group))])

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    for registry, group in ((worlds, "populace.worlds"), (minds, "populace.minds"),
                            (policies, "populace.policies"), (recommenders, "populace.recommenders")):
        assert registry.group == group and f"from-{group}" in registry.names()
    with pytest.raises(ScenarioError, match=r"^world 'from-populace.worlds': entry point 'nowhere:Thing' "
                                            r"\(populace.worlds\) cannot be loaded: ModuleNotFoundError"):
        worlds.get("from-populace.worlds")
