"""How well a model makes persona-conditioned decisions, measured on built-in pairs with ground truth.

Eight personas, each with one clear interest, meet sixteen posts, two per interest; a pair
*matches* when the post is about the persona's interest. Reported:

- ``auc``: AUC of P(yes) for "would you like this post?" on matching against other pairs
  (0.5 is chance, 1.0 perfect), with its 95 % interval ``auc_low``-``auc_high`` (Hanley & McNeil
  1982) over the ``matching`` and other pairs scored; :func:`verdict` reads them;
- ``pick_accuracy``, ``position_consistency``, ``top_position_share``: asked to pick one of four
  posts (one matching) in each of four rotations, how often the matching post is picked, how
  often the same post is picked whatever its position, and the share of answers that go to the
  most favoured position (0.25 without position bias; 1.0 when the position decides);
- ``valid_json``: share of structured answers valid for their schema at the first try (no repair);
- ``seconds_per_decision``, ``tokens_per_decision``: cost of one yes/no decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from populace.llm.base import Choice, ModelError, Prompt, Sampling
from populace.llm.client import LanguageModel

PERSONAS: dict[str, str] = {
    "cooking": "You are Maria, 34, a chef who spends every evening trying new recipes.",
    "football": "You are Tom, 27, who never misses a football match and plays in a Sunday league.",
    "astronomy": "You are Aiko, 45, an amateur astronomer who photographs galaxies from her garden.",
    "gardening": "You are Peter, 61, a retired teacher who grows vegetables and roses in his allotment.",
    "jazz": "You are Lena, 39, a saxophone player who collects old jazz records.",
    "crypto": "You are Raj, 30, a software developer who trades cryptocurrencies every day.",
    "hiking": "You are Sofia, 52, who spends her weekends hiking mountain trails.",
    "knitting": "You are Greta, 70, who knits sweaters and scarves for her grandchildren.",
}

POSTS: dict[str, tuple[str, str]] = {
    "cooking": ("My grandmother's lasagna recipe: slow-cooked ragu, fresh pasta sheets and bechamel.",
                "Five tricks to get a perfect crispy crust on pan-seared steak."),
    "football": ("What a match! A last-minute header wins the derby 2-1.",
                 "Transfer news: the club signs a young striker for 40 million."),
    "astronomy": ("Tonight Jupiter and Saturn appear side by side in the night sky; grab a telescope.",
                  "The new space telescope captured a spiral galaxy 50 million light years away."),
    "gardening": ("When to plant tomatoes, and how to keep slugs off your lettuce.",
                  "My roses finally bloomed after a year of pruning and compost."),
    "jazz": ("A rare 1959 recording of a Coltrane session was just found in an attic.",
             "Tonight at the club: a live jazz quartet with a legendary trumpet player."),
    "crypto": ("Bitcoin jumped 12% overnight after the ETF approval.",
               "How to secure your crypto wallet seed phrase against hackers."),
    "hiking": ("The ridge trail to the summit is open again: 14 km with amazing views.",
               "My checklist of essential gear for a three-day mountain trek."),
    "knitting": ("Free pattern: a cosy cable-knit sweater for beginners.",
                 "Which wool is softest for a baby blanket? My yarn comparison."),
}

YES_NO = ["yes", "no"]
LETTERS = ["A", "B", "C", "D"]
LIKE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"like": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 80}},
    "required": ["like", "reason"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Pair:
    """One persona meeting one post, with the ground truth."""

    interest: str
    topic: str
    post: str

    @property
    def matches(self) -> bool:
        return self.interest == self.topic


def pairs() -> list[Pair]:
    """Every persona with every post (8 x 16 = 128 pairs, 16 matching)."""
    return [Pair(interest, topic, post) for interest in PERSONAS for topic, posts in POSTS.items() for post in posts]


def like_prompt(pair: Pair) -> Prompt:
    return [{"role": "system", "content": PERSONAS[pair.interest]},
            {"role": "user", "content": f'A post in your feed: "{pair.post}"\n'
                                        "Would you like this post? Answer yes or no."}]


def pick_prompt(interest: str, posts: list[str]) -> Prompt:
    listing = "\n".join(f"{letter}. {post}" for letter, post in zip(LETTERS, posts, strict=True))
    return [{"role": "system", "content": PERSONAS[interest]},
            {"role": "user", "content": f"Four posts in your feed:\n{listing}\n"
                                        "Which one would you most like to read? Answer with its letter."}]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count one half)."""
    positive, negative = scores[labels], scores[~labels]
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    greater = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(positive) * len(negative)))


def auc_interval(area: float, positives: int, negatives: int, z: float = 1.96) -> tuple[float, float]:
    """The ~95 % interval of an AUC from ``positives`` and ``negatives`` scored, by Hanley & McNeil's
    (1982) standard error, clipped to [0, 1]. At an AUC of exactly 0 or 1 the error vanishes, so
    small samples are judged by their size first (see :func:`verdict`)."""
    if math.isnan(area) or positives < 1 or negatives < 1:
        return float("nan"), float("nan")
    q1, q2 = area / (2 - area), 2 * area * area / (1 + area)
    variance = (area * (1 - area) + (positives - 1) * (q1 - area * area)
                + (negatives - 1) * (q2 - area * area)) / (positives * negatives)
    half = z * math.sqrt(max(variance, 0.0))
    return max(0.0, area - half), min(1.0, area + half)


#: fewer matching (or other) pairs than this and an AUC says nothing either way
MIN_PAIRS = 8


def verdict(figures: Mapping[str, float]) -> str:
    """What the AUC figures support: too few pairs to judge, below chance, near chance or persona-driven.
    Figures without ``pairs`` or ``matching`` (older files) count the built-in design: 128 pairs, one in
    eight matching."""
    area = float(figures.get("auc", math.nan))
    scored = int(figures.get("pairs", len(pairs())) - figures.get("failed_decisions", 0))
    if math.isnan(area) or scored <= 0:
        return "no answers to judge"
    matching = int(figures.get("matching", scored // 8))
    other = scored - matching
    if min(matching, other) < MIN_PAIRS:
        return f"too few pairs to judge (it takes {MIN_PAIRS} matching and {MIN_PAIRS} other at least)"
    low, high = figures.get("auc_low"), figures.get("auc_high")
    if low is None or high is None:
        low, high = auc_interval(area, matching, other)
    if high < 0.5:
        return "below chance: its yes/no runs against the personas"
    if low <= 0.5:
        return "near chance: choices are not persona-driven"
    return "persona-driven"


def pick_sets() -> list[tuple[str, list[str]]]:
    """For each persona, its matching post and the first posts of the next three topics."""
    topics = list(POSTS)
    sets = []
    for i, interest in enumerate(topics):
        others = [POSTS[topics[(i + k) % len(topics)]][0] for k in (1, 3, 5)]
        sets.append((interest, [POSTS[interest][0], *others]))
    return sets


def planned_calls(limit: int | None = None) -> int:
    """Model calls an evaluation makes when none is retried: the yes/no pairs, 32 picks, 16 JSON answers."""
    chosen = _chosen(limit)
    return len(chosen) + 4 * len(pick_sets()) + len(_json_pairs(chosen))


def _json_pairs(chosen: list[Pair]) -> list[Pair]:
    """Up to 16 of the pairs, spread evenly, asked for a JSON answer."""
    return chosen[:: max(1, len(chosen) // 16)][:16]


def _chosen(limit: int | None) -> list[Pair]:
    chosen = pairs()
    if limit is not None and limit < len(chosen):  # a quarter matching pairs, the rest spread evenly
        matching = [p for p in chosen if p.matches]
        other = [p for p in chosen if not p.matches]
        k = max(1, min(len(matching), limit // 4))
        picked = matching[:: max(1, len(matching) // k)][:k]
        rest = max(1, limit - len(picked))
        picked += other[:: max(1, len(other) // rest)][:rest]
        chosen = sorted(picked, key=chosen.index)
    return chosen


async def evaluate(lm: LanguageModel, *, limit: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """Score ``lm`` on the built-in pairs (``limit`` caps the yes/no pairs, for quick checks);
    ``progress(calls, planned)`` is told about every half second how many model calls were made."""
    await lm.start()
    chosen = _chosen(limit)
    watch = asyncio.create_task(_watch(lm, planned_calls(limit), progress)) if progress is not None else None
    try:
        return await _evaluate(lm, chosen)
    finally:
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch


async def _watch(lm: LanguageModel, planned: int, progress: Callable[[int, int], None]) -> None:
    before = lm.usage.calls
    while True:
        progress(min(planned, lm.usage.calls - before), planned)
        await asyncio.sleep(0.5)


async def _evaluate(lm: LanguageModel, chosen: list[Pair]) -> dict[str, float]:
    calls_before = lm.usage.calls
    tokens_before = lm.usage.tokens_in + lm.usage.tokens_out
    started = time.perf_counter()
    answers = await lm.choose_many([like_prompt(p) for p in chosen], YES_NO)
    wall = time.perf_counter() - started
    p_yes = np.array([a.probabilities[0] if isinstance(a, Choice) else np.nan for a in answers])
    labels = np.array([p.matches for p in chosen])
    ok = ~np.isnan(p_yes)
    area = auc(p_yes[ok], labels[ok])
    low, high = auc_interval(area, int((ok & labels).sum()), int((ok & ~labels).sum()))
    results: dict[str, float] = {
        "pairs": float(len(chosen)),
        "matching": float((ok & labels).sum()),  # scored; failed decisions are not
        "auc": area, "auc_low": low, "auc_high": high,
        "mean_p_yes_match": float(np.mean(p_yes[ok & labels])) if (ok & labels).any() else float("nan"),
        "mean_p_yes_other": float(np.mean(p_yes[ok & ~labels])) if (ok & ~labels).any() else float("nan"),
        "failed_decisions": float((~ok).sum()),
        "seconds_per_decision": wall / max(len(chosen), 1),
        "calls_per_decision": (lm.usage.calls - calls_before) / max(len(chosen), 1),
        "tokens_per_decision": (lm.usage.tokens_in + lm.usage.tokens_out - tokens_before) / max(len(chosen), 1),
    }
    results.update(await _position_bias(lm))
    results.update(await _validity(lm, _json_pairs(chosen)))
    return results


async def _position_bias(lm: LanguageModel) -> dict[str, float]:
    prompts, truth = [], []
    for interest, posts in pick_sets():
        for shift in range(4):
            rotated = posts[shift:] + posts[:shift]
            prompts.append(pick_prompt(interest, rotated))
            truth.append(rotated.index(posts[0]))
    answers = await lm.choose_many(prompts, LETTERS)
    picks = np.array([int(np.argmax(a.probabilities)) if isinstance(a, Choice) else -1 for a in answers])
    truth_arr = np.array(truth)
    valid = picks >= 0
    # the post (not the letter) picked in each rotation: position minus shift, modulo 4
    posts_picked = ((picks + np.tile(np.arange(4), len(picks) // 4)) % 4).reshape(-1, 4)
    consistent = [len(set(row.tolist())) == 1 for row, ok in zip(posts_picked, valid.reshape(-1, 4), strict=True)
                  if ok.all()]
    counts = np.bincount(picks[valid], minlength=4)
    return {
        "pick_accuracy": float(np.mean(picks[valid] == truth_arr[valid])) if valid.any() else float("nan"),
        "position_consistency": float(np.mean(consistent)) if consistent else float("nan"),
        "top_position_share": float(counts.max() / counts.sum()) if counts.sum() else float("nan"),
    }


async def _validity(lm: LanguageModel, chosen: list[Pair]) -> dict[str, float]:
    repairs = lm.repairs
    lm.repairs = 0  # first-try validity: no repair by re-asking
    try:
        prompts = [[*like_prompt(p)[:1], {"role": "user", "content": f'A post in your feed: "{p.post}"\n'
                                          'Reply in JSON: {"like": true or false, "reason": "..."}'}]
                   for p in chosen]
        answers = await lm.complete_many(prompts, schema=LIKE_SCHEMA, sampling=Sampling(max_tokens=60))
    finally:
        lm.repairs = repairs
    valid = [not isinstance(a, ModelError) for a in answers]
    return {"valid_json": float(np.mean(valid)) if valid else float("nan")}


def similarity_scorer(encoder: str = "minilm") -> Callable[[list[str], list[str]], np.ndarray] | None:
    """The similarity tier's score for (persona, post) texts: the cosine of their embeddings, which
    its logistic model maps monotonically to P(like) (so the AUC is the tier's). None when the
    tier is not installed."""
    if importlib.util.find_spec("populace.minds.similarity") is None:
        return None
    from populace.embedding import encoders

    model = encoders.get(encoder)()
    cache: dict[str, np.ndarray] = {}

    def score(personas: list[str], posts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys([*personas, *posts]) if t not in cache]
        if todo:
            for text, vector in zip(todo, model.encode(todo), strict=True):
                cache[text] = vector / (np.linalg.norm(vector) or 1.0)
        return np.array([float(cache[a] @ cache[b]) for a, b in zip(personas, posts, strict=True)])

    return score


def evaluate_similarity(scorer: Callable[[list[str], list[str]], np.ndarray]) -> dict[str, float]:
    """AUC and cost of the similarity tier on the same pairs (it has no positions or JSON to get wrong)."""
    chosen = pairs()
    started = time.perf_counter()
    scores = np.asarray(scorer([PERSONAS[p.interest] for p in chosen], [p.post for p in chosen]), dtype=np.float64)
    wall = time.perf_counter() - started
    labels = np.array([p.matches for p in chosen])
    area = auc(scores, labels)
    low, high = auc_interval(area, int(labels.sum()), int((~labels).sum()))
    return {"pairs": float(len(chosen)), "matching": float(labels.sum()), "auc": area, "auc_low": low, "auc_high": high,
            "mean_similarity_match": float(scores[labels].mean()),
            "mean_similarity_other": float(scores[~labels].mean()),
            "seconds_per_decision": wall / len(chosen), "calls_per_decision": 0.0}


def run_evaluation(spec: Mapping[str, Any], *, limit: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
    """Synchronous entry point: build the client from ``spec``, evaluate, close."""

    async def go() -> dict[str, float]:
        lm = LanguageModel.from_spec({"cache": False, **spec})
        try:
            return await evaluate(lm, limit=limit, progress=progress)
        finally:
            await lm.aclose()

    return asyncio.run(go())
