"""Recommenders: registered strategies that rank posts for users, with their parameters in config.

A recommender gets the users to serve, how many posts each needs (``k``) and a read-only view of
the platform (:class:`~populace.worlds.social.state.SocialState` plus the clock), and returns a
``(len(users), k)`` array of post ids, ``-1`` where it has nothing more to offer. Plug in your own::

    from populace.worlds.social import Recommender, recommenders

    class MostLiked(Recommender):
        '''The k most-liked visible posts, for everyone.'''
        def recommend(self, users, k, view):
            posts = view.candidates()
            best = posts[np.argsort(-view.state.posts["likes"][posts], kind="stable")[:k]]
            return np.broadcast_to(pad(best, k), (len(users), k)).copy()

    recommenders.add("most_liked", MostLiked)

and select it in a scenario with ``world.params.recommender: {type: most_liked}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from populace.clock import Duration, half_life_weight
from populace.errors import ScenarioError
from populace.registry import Registry
from populace.worlds.social.state import SocialState

#: Reddit's epoch offset (seconds) in its published hot formula.
REDDIT_T0 = 1134028003.0


class RecommenderParams(BaseModel):
    """Base of every recommender's parameters; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class FeedView:
    """What a recommender may read: the state, the current step and simulated time (seconds), a
    generator, and how far back posts are recommended (simulated time; None: all of them)."""

    state: SocialState
    step: int
    now_s: float
    rng: np.random.Generator
    window: timedelta | None = None

    def candidates(self, reposts: bool = False) -> np.ndarray:
        """Ids of the posts that may be recommended: originals and quotes (reposts too if asked),
        not removed, within the recency window."""
        posts = self.state.posts
        ids = np.arange(len(posts))
        ok = ~self.state.removed(ids)
        if not reposts:
            ok &= posts["source"] == ids
        if self.window is not None:
            ok &= posts["created_s"] >= self.now_s - self.window.total_seconds()
        return np.flatnonzero(ok)

    def age_s(self, posts: np.ndarray) -> np.ndarray:
        """How long ago each post was published, in simulated seconds."""
        return self.now_s - self.state.posts["created_s"][posts]


class Recommender:
    """Base class of recommenders. Subclasses set ``name`` and ``Config`` (their typed parameters)
    and implement :meth:`recommend`."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[RecommenderParams]] = RecommenderParams

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        try:
            self.params = self.Config.model_validate(dict(params or {}))
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            raise ScenarioError(f"recommender {self.name or type(self).__name__}: {where}: {message}") from None

    #: users scored per batch, so that a score matrix stays small at any scale
    chunk: ClassVar[int] = 1024

    def recommend(self, users: np.ndarray, k: int, view: FeedView) -> np.ndarray:
        """Post ids per user, best first: shape ``(len(users), k)``, padded with -1."""
        posts = view.candidates()
        out = np.full((len(users), k), -1, dtype=np.int64)
        for start in range(0, len(users), self.chunk):
            block = users[start:start + self.chunk]
            out[start:start + len(block)] = top_k(self.scores(block, posts, view), posts, k)
        return out

    def scores(self, users: np.ndarray, posts: np.ndarray, view: FeedView) -> np.ndarray:
        """Score of each post for each user, shape ``(len(users), len(posts))`` (higher is better)."""
        raise NotImplementedError(f"{type(self).__name__} must implement recommend() or scores()")


def recency(posts: np.ndarray, view: FeedView, half_life: timedelta) -> np.ndarray:
    """Each post's recency weight: halved every ``half_life`` of simulated age."""
    return half_life_weight(view.age_s(posts), half_life)


def top_k(scores: np.ndarray, posts: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best posts per row of ``scores`` (ties to the earlier candidate), padded with -1.

    Exact and vectorised: one partial sort per row finds the k-th best score, and only the posts
    at or above it are fully ordered.
    """
    n, m = scores.shape
    out = np.full((n, k), -1, dtype=np.int64)
    if m == 0 or k == 0 or n == 0:
        return out
    take = min(k, m)
    kth = np.partition(scores, m - take, axis=1)[:, m - take : m - take + 1]
    row, col = np.nonzero(scores >= kth)
    order = np.lexsort((col, -scores[row, col], row))
    row, col = row[order], col[order]
    rank = np.arange(len(row)) - np.searchsorted(row, np.arange(n))[row]
    keep = rank < take
    out[row[keep], rank[keep]] = posts[col[keep]]
    return out


def pad(ids: np.ndarray, k: int) -> np.ndarray:
    """``ids`` cut or padded with -1 to length ``k``."""
    out = np.full(k, -1, dtype=np.int64)
    out[: min(k, len(ids))] = ids[:k]
    return out


def hot_score(score: np.ndarray, created_s: np.ndarray, t0: float = REDDIT_T0) -> np.ndarray:
    """Reddit's hot score: ``sign(s) * log10(max(|s|, 1)) + (t - t0) / 45000``."""
    s = np.asarray(score, dtype=np.float64)
    return np.sign(s) * np.log10(np.maximum(np.abs(s), 1.0)) + (np.asarray(created_s, np.float64) - t0) / 45000.0


# -- built-in strategies -----------------------------------------------------------------------
class RandomRecommender(Recommender):
    """Uniformly random visible posts."""

    name = "random"

    def scores(self, users: np.ndarray, posts: np.ndarray, view: FeedView) -> np.ndarray:
        return view.rng.random((len(users), len(posts)))


class ChronologicalRecommender(Recommender):
    """The newest posts by the accounts a user follows, newest first (reverse-chronological)."""

    name = "chronological"

    def recommend(self, users: np.ndarray, k: int, view: FeedView) -> np.ndarray:
        return followed_posts(users, k, view)


class HotParams(RecommenderParams):
    t0: float = Field(REDDIT_T0, description="epoch offset in seconds")


class HotRecommender(Recommender):
    """Reddit's hot ranking: the same list for everyone, from score and age."""

    name = "hot"
    Config = HotParams

    def recommend(self, users: np.ndarray, k: int, view: FeedView) -> np.ndarray:
        posts = view.candidates()
        assert isinstance(self.params, HotParams)
        h = hot_score(view.state.score(posts), view.state.posts["created_s"][posts], self.params.t0)
        best = top_k(h[None, :], posts, k)[0]
        return np.broadcast_to(best, (len(users), k)).copy()


class InterestParams(RecommenderParams):
    half_life: Duration = Field(timedelta(hours=24), description="age at which a post's recency weight halves "
                                                                 "(simulated time, e.g. 12h)")
    popularity: float = Field(0.0, ge=0, description="exponent of (1 + log1p(likes + reposts)); 0 = off")
    chunk: int = Field(2048, ge=1, description="users per matrix-product batch")


class InterestRecommender(Recommender):
    """Cosine of user and post embeddings x recency decay x optional popularity, exact top-k.

    Posts that share an embedding (the same text, as rules and archetype minds write it for a
    whole group) differ only in weight, so only the ``k`` heaviest of each such group can make
    anyone's top ``k``: the rest are dropped before scoring, and each distinct embedding is
    scored once per user. The result is the exact top ``k``; with a few distinct texts among
    100,000 posts the cost falls from users x posts to users x distinct texts.
    """

    name = "interest"
    Config = InterestParams

    def recommend(self, users: np.ndarray, k: int, view: FeedView) -> np.ndarray:
        p = self.params
        assert isinstance(p, InterestParams)
        posts = view.candidates()
        state = view.state
        weight = recency(posts, view, p.half_life)
        if p.popularity > 0:
            engagement = state.posts["likes"][posts] + state.posts["reposts"][posts]
            weight = weight * np.power(1.0 + np.log1p(engagement), p.popularity)
        vectors = state.post_embedding[posts]
        group, distinct = same_rows(vectors)
        keep = heaviest_per_group(group, weight, k)
        posts, weight, group = posts[keep], weight[keep], group[keep]
        matrix = vectors[distinct].T
        weight32 = weight.astype(np.float32)
        out = np.full((len(users), k), -1, dtype=np.int64)
        for start in range(0, len(users), p.chunk):
            block = users[start:start + p.chunk]
            # shift cosine to [0, 2] so that the multiplicative weights rank the same way for any sign
            scores = (state.user_embedding[block] @ matrix)[:, group]
            scores += 1.0
            scores *= weight32
            out[start:start + p.chunk] = top_k(scores, posts, k)
        return out


def same_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of ``vectors`` are identical: (the group of each row, one row index per group).

    Rows are hashed with a random linear map over their bits and the groups then checked value
    by value; should two different rows ever share a hash, every row is its own group.
    """
    n = len(vectors)
    alone = np.arange(n, dtype=np.int64)
    if n < 2 or vectors.dtype.itemsize * vectors.shape[1] % 8:
        return alone, alone
    bits = np.ascontiguousarray(vectors).view(np.uint64)
    multipliers = np.random.default_rng(0x5EED).integers(1, 2**63, bits.shape[1], dtype=np.uint64) | np.uint64(1)
    keys = (bits * multipliers).sum(axis=1, dtype=np.uint64)
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    if not np.array_equal(bits, bits[first[group]]):  # a hash collision: give up folding
        return alone, alone
    return group.astype(np.int64), first.astype(np.int64)


def heaviest_per_group(group: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` heaviest rows of each group (ties to the earlier row), in their original order."""
    position = np.arange(len(group))
    order = np.lexsort((position, -weight, group))
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    rank = position - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return np.sort(order[rank < k])


class StanceParams(RecommenderParams):
    prefer: Literal["close", "far", "aligned", "opposed"] = Field(
        "close", description="close/far: by stance distance; aligned/opposed: by stance product "
                             "(same side and strongest first, or the other side's strongest first)")
    half_life: Duration = Field(timedelta(hours=24), description="age at which a post's recency weight halves "
                                                                 "(simulated time, e.g. 12h)")


class StanceRecommender(Recommender):
    """Ranks posts by their stance relative to the user's, times recency decay.

    Exact top-k without scoring every post for every user: users are taken in order of stance,
    a block at a time; over a block's narrow range of stances each post's score is bounded above
    and below (every fit is piecewise linear in the user's stance, with its one bend at the post's
    stance, so the bounds are at the ends of the range or there). Once ``k`` posts are sure to score
    at least some value for everyone in the block, posts that cannot reach it are dropped.
    """

    name = "stance"
    Config = StanceParams
    #: users per block of similar stance (small blocks: narrow ranges, tight bounds)
    block: ClassVar[int] = 256

    def fit(self, mine: np.ndarray | float, theirs: np.ndarray) -> np.ndarray:
        """How well posts of stance ``theirs`` suit users of stance ``mine`` (broadcast), before recency."""
        assert isinstance(self.params, StanceParams)
        prefer = self.params.prefer
        if prefer in ("close", "far"):
            distance = np.abs(mine - theirs)
            return 2.0 - distance if prefer == "close" else distance
        product = mine * theirs
        return 1.0 + (product if prefer == "aligned" else -product)

    def scores(self, users: np.ndarray, posts: np.ndarray, view: FeedView) -> np.ndarray:
        assert isinstance(self.params, StanceParams)
        state = view.state
        return self.fit(state.users["stance"][users][:, None], state.posts["stance"][posts][None, :]) \
            * recency(posts, view, self.params.half_life)[None, :]

    def recommend(self, users: np.ndarray, k: int, view: FeedView) -> np.ndarray:
        out = np.full((len(users), k), -1, dtype=np.int64)
        posts = view.candidates()
        if len(posts) == 0 or k == 0 or len(users) == 0:
            return out
        state = view.state
        stance = state.users["stance"][users]
        theirs = state.posts["stance"][posts]
        assert isinstance(self.params, StanceParams)
        weight = recency(posts, view, self.params.half_life)
        by_stance = np.argsort(stance, kind="stable")
        for start in range(0, len(users), self.block):
            rows = by_stance[start:start + self.block]
            keep: slice | np.ndarray = slice(None)
            if len(posts) > k:
                lo, hi = stance[rows[0]], stance[rows[-1]]
                at = np.stack([self.fit(lo, theirs), self.fit(hi, theirs), self.fit(np.clip(theirs, lo, hi), theirs)])
                at *= weight
                if np.isfinite(at).all():  # a missing stance (NaN) bounds nothing: score every post then
                    floor = np.partition(at.min(axis=0), len(posts) - k)[len(posts) - k]  # k posts score >= floor
                    keep = np.flatnonzero(at.max(axis=0) >= floor)  # the rest score < floor for every user here
            kept = posts[keep]
            out[rows] = top_k(self.fit(stance[rows][:, None], theirs[keep][None, :]) * weight[keep][None, :], kept, k)
        return out


class EchoChamber(StanceRecommender):
    """An echo chamber: posts on the user's side of the dilemma, the most forceful first."""

    name = "echo_chamber"

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        super().__init__({"prefer": "aligned", **dict(params or {})})


class OpposingViews(StanceRecommender):
    """Exposure to opposing views: posts from the other side of the dilemma, the most forceful first."""

    name = "opposing_views"

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        super().__init__({"prefer": "opposed", **dict(params or {})})


def followed_posts(users: np.ndarray, k: int, view: FeedView) -> np.ndarray:
    """Up to ``k`` newest visible posts by each user's followees, newest first, padded with -1."""
    state = view.state
    out = np.full((len(users), k), -1, dtype=np.int64)
    posts = view.candidates(reposts=True)
    if len(posts) == 0 or k == 0:
        return out
    owner, followee = state.follows.rights_of(users)
    if len(owner) == 0:
        return out
    # the k newest candidate posts of each author, as a CSR over authors
    authors = state.posts["author"][posts]
    order = np.lexsort((-posts, authors))
    by_author, sorted_posts = authors[order], posts[order]
    starts = np.searchsorted(by_author, np.arange(state.n_users + 1))
    counts = np.minimum(np.diff(starts), k)
    per_pair = counts[followee]
    pair_owner = np.repeat(owner, per_pair)
    offsets = np.arange(per_pair.sum()) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    post = sorted_posts[np.repeat(starts[followee], per_pair) + offsets]
    order = np.lexsort((-post, pair_owner))  # newest (highest id) first within each user
    pair_owner, post = pair_owner[order], post[order]
    first = np.searchsorted(pair_owner, np.arange(len(users)))
    rank = np.arange(len(post)) - first[pair_owner]
    keep = rank < k
    out[pair_owner[keep], rank[keep]] = post[keep]
    return out


#: Recommenders by name; a user's own is added with ``recommenders.add(name, cls)``.
recommenders: Registry[type[Recommender]] = Registry("recommender", group="populace.recommenders")
for _cls in (RandomRecommender, ChronologicalRecommender, HotRecommender, InterestRecommender,
             StanceRecommender, EchoChamber, OpposingViews):
    recommenders.add(_cls.name, _cls)
