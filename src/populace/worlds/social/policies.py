"""Rules policies for the social world, so that its scenarios run without any language model.

Each is vectorised over the observed agents and their ``(agents, feed size)`` feed columns; its
parameters come from the mind's ``params`` in the scenario. Their chances are per session (one
feed read, whose rate per simulated hour the scheduler sets), so they mean the same at any clock
step; every agent takes at most one action of each kind per session.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from populace.actions import Actions
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Observations

#: What rule-driven users post about when they post about nothing in particular.
TOPICS = (
    "football season tickets", "new phone camera review", "cooking pasta at home", "climate and the weather",
    "stock market today", "weekend hiking trail", "indie video games", "local elections", "jazz concert tonight",
    "learning python programming", "healthy breakfast ideas", "movie recommendations",
)


def _first(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows with any True, and the column of their first True."""
    rows = np.flatnonzero(mask.any(axis=1))
    return rows, mask[rows].argmax(axis=1)


def _chance(mind: PolicyContext, shape: tuple[int, ...], p: np.ndarray | float) -> np.ndarray:
    return mind.rng.random(shape) < p


def _object(values: list[str]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _topic_posts(obs: Observations, mind: PolicyContext, p_post: float) -> list[Actions]:
    who = obs.agents[_chance(mind, (len(obs),), p_post)]
    texts = [f"my thoughts on {TOPICS[a % len(TOPICS)]}, take {step}" for a, step in
             zip(who.tolist(), mind.rng.integers(0, 1000, len(who)).tolist(), strict=True)]
    return [Actions("create_post", who, {"content": _object(texts)})]


def _engage(obs: Observations, mind: PolicyContext, action: str, p: np.ndarray) -> list[Actions]:
    """Each agent takes ``action`` on the first feed post it draws with probability ``p``."""
    rows, cols = _first(_chance(mind, p.shape, p) & (obs["feed_post"] >= 0))
    return [Actions(action, obs.agents[rows], {"post_id": obs["feed_post"][rows, cols]})]


class BrowseParams(PolicyParams):
    post: float = Field(0.1, ge=0, le=1, description="chance of posting")
    like: float = Field(0.2, ge=0, le=1, description="base chance of liking a post")
    repost: float = Field(0.03, ge=0, le=1, description="base chance of reposting a post")
    comment: float = Field(0.03, ge=0, le=1, description="base chance of commenting on a post")
    follow: float = Field(0.02, ge=0, le=1, description="base chance of following a post's author")
    interest: float = Field(2.0, ge=0, description="how much similarity to one's interests raises them")


@policy("browse", BrowseParams, reads=("feed_similarity", "feed_liked", "feed_post", "feed_followed",
                                         "feed_author", "question", "stance", "belief"))
def browse(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Post now and then; like, repost, comment on and follow the authors of interesting posts.

    Params: ``post``, ``like``, ``repost``, ``comment``, ``follow`` (base probabilities) and
    ``interest`` (how much the similarity of a post to the user's interests raises them).
    """
    prm = mind.settings(BrowseParams)
    weight = prm.interest
    appeal = np.clip((1.0 + weight * obs["feed_similarity"]) / (1.0 + weight), 0.0, 1.0)
    actions = _topic_posts(obs, mind, prm.post)
    actions += _engage(obs, mind, "like_post", prm.like * appeal * ~obs["feed_liked"])
    actions += _engage(obs, mind, "repost", prm.repost * appeal)
    rows, cols = _first(_chance(mind, appeal.shape, prm.comment * appeal)
                        & (obs["feed_post"] >= 0))
    actions.append(Actions("create_comment", obs.agents[rows], {
        "post_id": obs["feed_post"][rows, cols], "content": _object(["interesting, thanks"] * len(rows))}))
    rows, cols = _first(_chance(mind, appeal.shape, prm.follow * appeal)
                        & (obs["feed_post"] >= 0) & ~obs["feed_followed"])
    actions.append(Actions("follow", obs.agents[rows], {"user": obs["feed_author"][rows, cols]}))
    return _answer_questions(obs, actions)


class MisinformationParams(PolicyParams):
    share: float = Field(0.3, ge=0, le=1, description="chance of reposting a rumour seen")
    believers: float = Field(1.5, ge=0, description="factor on that chance for users who believe it")
    correct: float = Field(0.3, ge=0, le=1, description="chance of reposting a correction seen")
    post: float = Field(0.05, ge=0, le=1, description="chance of posting")
    like: float = Field(0.15, ge=0, le=1, description="base chance of liking a post")
    interest: float = Field(1.0, ge=0, description="how much similarity to one's interests raises them")


@policy("misinformation", MisinformationParams, reads=("feed_topic", "belief", "feed_similarity", "feed_post",
                                                       "feed_liked", "question", "stance"))
def misinformation(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Rumour spreading: share a rumour unless debunked, share corrections, browse otherwise.

    Params: ``share`` (reposting a rumour seen), ``believers`` (factor for users who already
    believe it), ``correct`` (reposting a correction seen), ``post``, ``like``, ``interest``.
    """
    prm = mind.settings(MisinformationParams)
    topic = obs["feed_topic"]
    belief = obs["belief"][:, None]
    weight = prm.interest
    appeal = np.clip((1.0 + weight * obs["feed_similarity"]) / (1.0 + weight), 0.0, 1.0)
    rumour_p = prm.share * np.where(belief == 1, prm.believers, 1.0)
    p_share = np.where(topic == "rumour", rumour_p * (belief != -1), 0.0)
    p_share = np.where(topic == "correction", prm.correct, p_share) * appeal
    actions = _topic_posts(obs, mind, prm.post)
    actions += _engage(obs, mind, "repost", p_share)
    p_like = prm.like * appeal * (~obs["feed_liked"]) * ((topic != "rumour") | (belief != -1))
    actions += _engage(obs, mind, "like_post", p_like)
    return _answer_questions(obs, actions)


class HerdParams(PolicyParams):
    post: float = Field(0.05, ge=0, le=1, description="chance of posting")
    comment: float = Field(0.2, ge=0, le=1, description="chance of commenting on one of the shown posts")
    vote: float = Field(0.5, ge=0, le=1, description="chance of voting on a shown comment")
    positivity: float = Field(0.6, ge=0, le=1, description="chance a vote is up when the score is 0")
    herd: float = Field(0.3, description="how much a comment's visible score moves that chance")


@policy("herd", HerdParams, reads=("feed_post",))  # and the thread_ columns where shown
def herd(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Reddit voting with herding: up-votes are likelier on comments that already score well.

    Params: ``vote`` (voting on a shown comment), ``positivity`` (chance a vote is up when the
    score is 0), ``herd`` (how much a comment's visible score moves that chance), ``comment``,
    ``post``.
    """
    prm = mind.settings(HerdParams)
    actions = _topic_posts(obs, mind, prm.post)
    comment_p = prm.comment
    rows, cols = _first(_chance(mind, obs["feed_post"].shape, comment_p / max(obs["feed_post"].shape[1], 1))
                        & (obs["feed_post"] >= 0))
    texts = [f"comment on post {p}" for p in obs["feed_post"][rows, cols].tolist()]
    actions.append(Actions("create_comment", obs.agents[rows],
                           {"post_id": obs["feed_post"][rows, cols], "content": _object(texts)}))
    if "thread_comment" not in obs.columns:
        return actions
    shown = (obs["thread_comment"] >= 0) & ~obs["thread_voted"]
    rank = np.where(shown, mind.rng.random(shown.shape), -1.0)
    col = rank.argmax(axis=1) if shown.shape[1] else np.zeros(len(obs), np.int64)
    votes = shown.any(axis=1) & _chance(mind, (len(obs),), prm.vote)
    rows = np.flatnonzero(votes)
    comment = obs["thread_comment"][rows, col[rows]]
    score = obs["thread_score"][rows, col[rows]]
    p_up = np.clip(prm.positivity + prm.herd * np.tanh(score), 0.02, 0.98)
    up = _chance(mind, (len(rows),), p_up)
    actions.append(Actions("like_comment", obs.agents[rows[up]], {"comment_id": comment[up]}))
    actions.append(Actions("dislike_comment", obs.agents[rows[~up]], {"comment_id": comment[~up]}))
    return actions


class StanceParams(PolicyParams):
    post: float = Field(0.3, ge=0, le=1, description="chance of posting one's stance")
    like: float = Field(0.6, ge=0, le=1, description="base chance of liking a post")
    tolerance: float = Field(0.3, gt=0, description="stance distance at which that chance falls to 1/e")


@policy("stance", StanceParams, reads=("stance", "feed_stance", "feed_liked", "feed_post", "question", "belief"))
def stance(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Post one's stance on the dilemma; like posts whose stance is close to one's own.

    Params: ``post``, ``like`` (base chance of liking a post), ``tolerance`` (stance distance at
    which that chance falls to 1/e).
    """
    prm = mind.settings(StanceParams)
    posting = _chance(mind, (len(obs),), prm.post)
    who, stances = obs.agents[posting], obs["stance"][posting]
    texts = [_stance_text(s) for s in stances.tolist()]
    actions = [Actions("create_post", who, {"content": _object(texts)})]
    distance = np.abs(obs["feed_stance"] - obs["stance"][:, None])
    p_like = prm.like * np.exp(-distance / prm.tolerance)
    actions += _engage(obs, mind, "like_post", p_like * ~obs["feed_liked"])
    return _answer_questions(obs, actions)


def _stance_text(value: float) -> str:
    strength = "strongly" if abs(value) > 0.6 else "somewhat" if abs(value) > 0.2 else "barely"
    side = "support" if value >= 0 else "oppose"
    return f"I {strength} {side} the proposal"


def _answer_questions(obs: Observations, actions: list[Actions]) -> list[Actions]:
    """Answer a survey question, when one was asked, with one's stance and belief."""
    asked = np.flatnonzero(obs["question"] != "")
    if len(asked):
        answers = [f"stance {s:+.2f}; believes the rumour: {'yes' if b == 1 else 'no'}"
                   for s, b in zip(obs["stance"][asked].tolist(), obs["belief"][asked].tolist(), strict=True)]
        actions.append(Actions("interview", obs.agents[asked], {"answer": _object(answers)}))
    return actions
