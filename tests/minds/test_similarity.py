"""Similarity minds: the documented logistic model, its fit, caching, and interest-driven engagement."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from populace.actions import ActionSpace, ActionSpec, Arg
from populace.minds import minds
from populace.minds.similarity import Logit, SimilarityConfig, SimilarityMind, features, fit, probabilities
from populace.population import Population
from populace.world import Observations

SPACE = ActionSpace(ActionSpec("like", {"post": Arg.integer()}), ActionSpec("share", {"post": Arg.integer()}))
CATS = ["my cat naps on the sofa", "kitten videos cats playing", "cat food for cats"]
MONEY = ["stock market falls as rates rise", "bond yields and stock prices", "quarterly earnings of banks"]


def make_mind(pop: Population, seed: int = 0, **overrides: Any) -> SimilarityMind:
    config: dict[str, Any] = {
        "interests": "{persona.interest}", "content": "feed", "encoder": "hashing",
        "options": {"like": {"action": "like", "args": {"post": "item.id"}}},
        "weights": {"like": {"bias": -3.0, "similarity": 8.0}},
        "popularity": "likes", "age": "age", "max_actions": 10,
    }
    config.update(overrides)
    mind = minds.get("similarity")(pop, SPACE, config, rng=np.random.default_rng(seed))
    assert isinstance(mind, SimilarityMind)
    return mind


def feed(texts: list[str], start: int = 0) -> list[dict[str, Any]]:
    return [{"id": start + i, "text": t, "likes": 0, "age": 0} for i, t in enumerate(texts)]


def observe(n: int, items: list[dict[str, Any]]) -> Observations:
    column = np.empty(n, dtype=object)
    column[:] = [items] * n
    return Observations(np.arange(n), {"feed": column})


def test_probabilities_follow_the_documented_formula() -> None:
    x = features(np.array([0.5, 0.0]), np.array([np.e - 1, 0.0]), np.array([24.0, 0.0]))
    assert x.ravel().tolist() == pytest.approx([0.5, 1.0, 0.5, 0.0, 0.0, 1.0])
    one = probabilities(x, [Logit(bias=-1.0, similarity=2.0, popularity=1.0, recency=-2.0)])
    # u = -1 + 2*0.5 + 1*1 - 2*0.5 = 0 -> P(like) = 1/2; u = -1 - 2 = -3 -> sigmoid(-3)
    assert one[:, 1] == pytest.approx([0.5, 1 / (1 + np.exp(3))])
    two = probabilities(x[:1], [Logit(bias=np.log(2)), Logit(bias=np.log(3))])
    assert two[0] == pytest.approx([1 / 6, 2 / 6, 3 / 6])


def test_fit_recovers_the_weights_that_generated_the_labels() -> None:
    rng = np.random.default_rng(1)
    truth = [Logit(bias=-2.0, similarity=4.0, popularity=0.5, recency=1.0), Logit(bias=-3.0, similarity=2.0)]
    x = features(rng.uniform(-0.2, 0.9, 6000), rng.integers(0, 50, 6000), rng.uniform(0, 72, 6000))
    p = probabilities(x, truth)
    labels = (rng.random(6000)[:, None] >= np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
    fitted = fit(x, labels, ["like", "share"])
    assert fitted["like"].similarity == pytest.approx(4.0, abs=0.6)
    assert fitted["like"].bias == pytest.approx(-2.0, abs=0.6)
    assert fitted["share"].similarity == pytest.approx(2.0, abs=0.8)
    loglik = np.log(probabilities(x, list(fitted.values()))[np.arange(6000), labels]).mean()
    assert loglik >= np.log(p[np.arange(6000), labels]).mean() - 0.01


def test_agents_engage_with_what_matches_their_interests() -> None:
    n = 400
    pop = Population({"interest": np.array(["cats and kittens"] * (n // 2) + ["stock market"] * (n // 2), dtype=object)})
    mind = make_mind(pop)
    items = feed(CATS + MONEY)
    decisions = asyncio.run(mind.decide(observe(n, items)))
    (likes,) = decisions.actions
    cat_lover = likes.agents < n // 2
    cat_post = np.asarray(likes.args["post"], dtype=int) < len(CATS)
    assert (cat_lover == cat_post).mean() > 0.7  # most likes go to posts matching the liker's interest
    stats = mind.stats()
    assert stats["similarity_agents"] == n and stats["similarity_items"] == n * 6
    assert stats["similarity_encoded"] == 2 + 6  # two interest texts and six posts, each embedded once
    asyncio.run(mind.decide(observe(n, items)))
    assert mind.stats()["similarity_encoded"] == 8  # all cached: nothing more was embedded


def test_popularity_and_recency_raise_engagement() -> None:
    pop = Population({"interest": np.array(["gardening"] * 2000, dtype=object)})
    weights = {"like": {"bias": -2.0, "popularity": 0.5, "recency": 1.0}}
    fresh_popular = [{"id": 0, "text": "x", "likes": 100, "age": 0}]
    old_unknown = [{"id": 1, "text": "x", "likes": 0, "age": 240}]
    a = asyncio.run(make_mind(pop, weights=weights).decide(observe(2000, fresh_popular))).actions
    b = asyncio.run(make_mind(pop, weights=weights).decide(observe(2000, old_unknown))).actions
    assert len(a[0]) > 5 * len(b[0])


def test_max_actions_per_agent_and_deterministic_draws() -> None:
    pop = Population({"interest": np.array(["cats"] * 50, dtype=object)})
    always = {"like": {"bias": 20.0}}
    decisions = asyncio.run(make_mind(pop, weights=always, max_actions=2).decide(observe(50, feed(CATS))))
    assert np.bincount(decisions.actions[0].agents).tolist() == [2] * 50
    assert decisions.actions[0].args["post"].tolist()[:2] == [0, 1]  # feed order first
    runs = [asyncio.run(make_mind(pop, seed=3).decide(observe(50, feed(CATS + MONEY)))).actions[0].agents.tolist()
            for _ in range(2)]
    assert runs[0] == runs[1]


def test_semantic_encoder_sees_that_kittens_are_about_cats() -> None:
    pop = Population({"interest": np.array(["I love my cat"] * 3000, dtype=object)})
    mind = make_mind(pop, encoder="minilm", weights={"like": {"bias": -4.0, "similarity": 8.0}})
    items = feed(["a kitten chasing a ball of wool", "central bank raises interest rates"])
    (likes,) = asyncio.run(mind.decide(observe(3000, items))).actions
    counts = np.bincount(np.asarray(likes.args["post"], dtype=int), minlength=2)
    assert counts[0] > 5 * counts[1]  # no shared words, yet the kitten post wins


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValidationError, match="weights must name exactly the options"):
        SimilarityConfig.model_validate({"interests": "{persona.x}", "content": "feed",
                                         "options": {"like": {"action": "like"}}, "weights": {}})
    pop = Population({"interest": np.array(["x"], dtype=object)})
    with pytest.raises(Exception, match="unknown action 'fly'"):
        make_mind(pop, options={"like": {"action": "fly"}})
