"""Concordia's model calls per action on a market shaped like populace's ``village-market``.

Runs in Concordia's own environment (``benchmarks/.peers/concordia``, ``pip install gdm-concordia``),
never populace's: four of its ``basic`` entities (Mara, Tobin, Ilse, Pell, with the same goals),
its ``generic`` game master acting in a fixed order, and its grounded ``Inventory`` component
tracking coins, apples and bread, for four steps (each villager acts once), driven by a stub
model that counts calls and words. The stub answers every yes/no question with ``Yes`` (each event
is a trade that touches the inventory: its most expensive path) in one run and ``No`` in another
(the cheapest), and open questions with a short trade, names or ``2``. Prints one JSON object.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
from concordia.associative_memory import basic_associative_memory
from concordia.components import game_master as gm_components
from concordia.environment.engines import sequential
from concordia.language_model import language_model
from concordia.prefabs.entity import basic
from concordia.prefabs.game_master import generic

VILLAGERS = {"Mara": ("sell your apples for 2 coins each", {"coins": 0, "apples": 6, "bread": 0}),
             "Tobin": ("sell your bread for 3 coins a loaf", {"coins": 1, "apples": 0, "bread": 4}),
             "Ilse": ("buy 3 apples as cheaply as you can", {"coins": 8, "apples": 0, "bread": 0}),
             "Pell": ("buy a loaf of bread and some apples for your family", {"coins": 10, "apples": 0, "bread": 0})}


class CountingModel(language_model.LanguageModel):
    """A stub that answers at once and counts calls, words in and out, and players' actions."""

    def __init__(self, yes: bool) -> None:
        self.yes = yes
        self.calls = self.words_in = self.words_out = self.actions = 0

    def _count(self, prompt: str, answer: str) -> str:
        self.calls += 1
        self.words_in += len(prompt.split())
        self.words_out += len(answer.split())
        return answer

    def sample_text(self, prompt: str, *, max_tokens: int = 0, terminators: Collection[str] = (),
                    temperature: float = 0.0, timeout: float = 0.0, seed: int | None = None) -> str:
        tail = prompt[-300:]
        if "action spec format" in tail:
            answer = "prompt: What would {name} do next?;;type: free"
        elif "Which individuals" in tail:
            answer = "Mara,Ilse"
        elif "How many" in tail or "How much" in tail:
            answer = "2|a fair trade"
        else:
            answer = "Mara sells Ilse two apples for four coins."
            if "What would" in tail and "do next" in tail:
                self.actions += 1
        return self._count(prompt, answer)

    def sample_choice(self, prompt: str, responses: Sequence[str], *,
                      seed: int | None = None) -> tuple[int, str, Mapping[str, Any]]:
        question = prompt[prompt.rfind("Question:"):]
        wanted = "yes" if self.yes else "no"
        if "finished" in question:
            wanted = "no"  # never end the run early
        elif "formatted correctly" in question:
            wanted = "yes"
        labels = {m.group(2).strip().lower(): m.group(1) for m in re.finditer(r"\(([a-z])\) ([^\n]*)", question)}
        label = labels.get(wanted)
        index = next((i for i, r in enumerate(responses) if r == label), 0)
        self._count(prompt, responses[index])
        return index, responses[index], {}


def run(yes: bool, steps: int = 4) -> dict[str, Any]:
    model = CountingModel(yes)
    rng = np.random.default_rng(0)

    def bank() -> basic_associative_memory.AssociativeMemoryBank:
        return basic_associative_memory.AssociativeMemoryBank(sentence_embedder=lambda text: rng.random(16))

    players = [basic.Entity(params={"name": name, "goal": goal}).build(model=model, memory_bank=bank())
               for name, (goal, _) in VILLAGERS.items()]
    inventory = gm_components.inventory.Inventory(
        model=model,
        item_type_configs=[gm_components.inventory.ItemTypeConfig(name="coins", minimum=0),
                           gm_components.inventory.ItemTypeConfig(name="apples", minimum=0, force_integer=True),
                           gm_components.inventory.ItemTypeConfig(name="bread", minimum=0, force_integer=True)],
        player_initial_endowments={name: dict(stock) for name, (_, stock) in VILLAGERS.items()},
        clock_now=lambda: datetime.datetime(1895, 9, 12),
        financial=True,
    )
    prefab = generic.GameMaster(params={"name": "market rules", "acting_order": "fixed",
                                        "extra_components": {"inventory": inventory}})
    prefab.entities = players
    game_master = prefab.build(model=model, memory_bank=bank())
    setup, setup_in, setup_out = model.calls, model.words_in, model.words_out
    sequential.Sequential().run_loop(game_masters=[game_master], entities=players, max_steps=steps,
                                     premise="It is market day in the village.")
    calls, acts = model.calls - setup, model.actions
    return {"answers": "yes" if yes else "no", "actions": acts, "setup_calls": setup, "model_calls": calls,
            "calls_per_action": calls / acts, "words_in_per_action": (model.words_in - setup_in) / acts,
            "words_out_per_action": (model.words_out - setup_out) / acts}


def main() -> None:
    from importlib import metadata

    rows = [run(True), run(False)]
    print(json.dumps({"concordia": metadata.version("gdm-concordia"), "rows": rows}))


if __name__ == "__main__":
    main()
