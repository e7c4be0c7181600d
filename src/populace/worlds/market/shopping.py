"""Rules policies for the marketplace: shoppers that take the first offer or compare, and sellers."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from populace.actions import Actions
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Observations


def _memory(mind: PolicyContext, name: str) -> dict[str, Any]:
    """Per-mind state that survives between steps (and checkpoints, as an attribute of the mind)."""
    n = mind.population.size
    return mind.policy_state(name, lambda: {
        "requested": np.zeros(n, bool), "waited": np.zeros(n, np.int64), "countered": np.zeros(n, bool),
        "counter_to": np.full(n, -1, np.int64), "counter_price": np.zeros(n),
    })


def _batch(name: str, rows: list[tuple[int, dict[str, float]]]) -> list[Actions]:
    if not rows:
        return []
    agents = np.asarray([a for a, _ in rows], dtype=np.int64)
    keys = rows[0][1].keys()
    return [Actions(name, agents, {k: np.asarray([args[k] for _, args in rows]) for k in keys})]


class ShopperParams(PolicyParams):
    strategy: Literal["first", "best"] = Field("best", description="accept the first proposal, or compare")
    consider: int = Field(5, ge=1, description="businesses of the search asked for a proposal")
    patience: int = Field(2, ge=0, description="steps to wait for the proposals asked for")
    haggle: float = Field(0.0, ge=0, lt=1, description="counter the best proposal this share below its price")


class SellerParams(PolicyParams):
    markup: float = Field(1.4, ge=0, description="price as a multiple of cost")
    floor: float = Field(1.05, ge=0, description="lowest price accepted in a counter, as a multiple of cost")


@policy("market_shopper", ShopperParams,
        reads=("customer", "done", "searched", "results", "proposals", "willingness"))
def shopper(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """A customer's assistant. ``strategy: first`` accepts the first proposal that arrives;
    ``strategy: best`` waits for the proposals it asked for (at most ``patience`` steps), counters
    the best one once at ``haggle`` below its price (if ``haggle`` > 0), then accepts the best
    value - price if it is positive. It asks the first ``consider`` businesses of its search."""
    prm = mind.settings(ShopperParams)
    strategy, consider, patience, haggle = prm.strategy, prm.consider, prm.patience, prm.haggle
    memory = _memory(mind, "shopper")
    searches: list[int] = []
    requests: list[tuple[int, dict[str, float]]] = []
    counters: list[tuple[int, dict[str, float]]] = []
    accepts: list[tuple[int, dict[str, float]]] = []
    for i, a in enumerate(obs.agents.tolist()):
        if not obs["customer"][i] or obs["done"][i]:
            continue
        if not obs["searched"][i]:
            searches.append(a)
            continue
        if not memory["requested"][a]:
            requests.extend((a, {"business": b}) for b in obs["results"][i][:consider])
            memory["requested"][a] = True
            continue
        proposals = obs["proposals"][i]  # (business, price, quality, rank), earliest first
        if not proposals:
            continue
        if strategy == "first":
            accepts.append((a, {"business": proposals[0][0]}))
            continue
        memory["waited"][a] += 1
        asked = min(consider, len(obs["results"][i]))
        if len(proposals) < asked and memory["waited"][a] <= patience:
            continue
        value = float(obs["willingness"][i])
        business, price, quality, _ = max(proposals, key=lambda p: value * p[2] - p[1])
        if haggle > 0 and not memory["countered"][a]:
            memory["countered"][a] = True
            memory["counter_to"][a], memory["counter_price"][a] = business, round(price * (1 - haggle), 2)
            counters.append((a, {"business": business, "price": memory["counter_price"][a]}))
            continue
        answered = any(p[0] == memory["counter_to"][a] and p[1] <= memory["counter_price"][a] + 1e-6
                       for p in proposals)
        if memory["countered"][a] and not answered and memory["waited"][a] <= patience + 2:
            continue  # give the business time to answer the counter
        if value * quality - price > 0:
            accepts.append((a, {"business": business}))
    out = [Actions("search", np.asarray(searches, dtype=np.int64))] if searches else []
    return out + _batch("request", requests) + _batch("counter", counters) + _batch("accept", accepts)


@policy("market_seller", SellerParams, reads=("customer", "cost", "requests"))
def seller(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """A business answers every request at ``markup`` x cost, and a counter with the countered price
    if that is at least ``floor`` x cost, else with ``floor`` x cost."""
    prm = mind.settings(SellerParams)
    markup, floor = prm.markup, prm.floor
    proposals = []
    for i, a in enumerate(obs.agents.tolist()):
        if obs["customer"][i]:
            continue
        cost = float(obs["cost"][i])
        for customer, countered in obs["requests"][i]:
            price = cost * markup if math.isnan(countered) else max(countered, cost * floor)
            proposals.append((a, {"customer": customer, "price": round(price, 2)}))
    return _batch("propose", proposals)
