"""The social-media world: a Twitter- or Reddit-like platform with feeds and recommenders.

State is columnar (:mod:`.state`), actions are an explicit typed table (:mod:`.actions`), feeds
mix followed and recommended posts (:mod:`.feeds`, :mod:`.recommenders`), and the platform can
be seeded from data (:mod:`.seeding`). The two modes differ only in defaults: ``twitter`` ranks by
interest and mixes in followees' posts; ``reddit`` ranks by hot score and shows scores and
comment threads.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from pydantic import Field, field_validator, model_validator

from populace.clock import Duration, steps_for
from populace.embedding import Encoder, encoders
from populace.errors import PopulaceError
from populace.events import Events
from populace.population import Population
from populace.world import Column, Observations, Seed, World, WorldConfig, operation, worlds
from populace.worlds.social import metrics
from populace.worlds.social.actions import ACTIONS, PlatformActions
from populace.worlds.social.feeds import assemble_feeds, feed_items, feed_text, top_comments
from populace.worlds.social.metrics import MetricGroup
from populace.worlds.social.recommenders import FeedView, Recommender, recommenders
from populace.worlds.social.seeding import (
    BIO_COLUMNS,
    NAME_COLUMNS,
    column_posts,
    file_posts,
    first_column,
    follow_edges,
    numbers,
)
from populace.worlds.social.state import SocialState


class RecommenderSpec(WorldConfig):
    type: str = Field(description="a registered recommender: random, chronological, hot, interest, ...")
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> RecommenderSpec:
        try:
            recommenders.get(self.type)(self.params)
        except PopulaceError as exc:
            raise ValueError(str(exc)) from None
        return self


class EncoderSpec(WorldConfig):
    type: str = Field("hashing", description="a registered text encoder: hashing, minilm, ...")
    params: dict[str, Any] = Field(default_factory=dict, description="e.g. {dim: 128} for hashing")

    @field_validator("type")
    @classmethod
    def _known(cls, name: str) -> str:
        try:
            encoders.get(name)
        except PopulaceError as exc:
            raise ValueError(str(exc)) from None
        return name


class FeedConfig(WorldConfig):
    size: int = Field(10, ge=1, le=200, description="posts per feed, read in one session")
    followed_share: float | None = Field(None, ge=0, le=1, description="share from followees (mode default)")
    refresh_every: Duration | None = Field(
        None, description="simulated time a computed feed is reused (until a refresh); default: a fresh feed "
                          "every session")
    window: Duration | None = Field(timedelta(hours=72),
                                    description="only posts younger than this are recommended (simulated time)")


class FollowsConfig(WorldConfig):
    kind: Literal["none", "random", "small_world", "column", "file"] = "random"
    degree: int = Field(10, ge=2, description="mean follows per user for generated graphs (mutual)")
    rewire: float = Field(0.1, ge=0, le=1)
    column: str | None = Field(None, description="population column listing each user's followees")
    path: str | None = Field(None, description="CSV/Parquet file with follower,followee columns")


class SocialConfig(WorldConfig):
    mode: Literal["twitter", "reddit"] = "twitter"
    recommender: RecommenderSpec | None = Field(None, description="default: interest (twitter), hot (reddit)")
    feed: FeedConfig = Field(default_factory=FeedConfig)
    show_scores: bool | None = Field(None, description="show post and comment scores (default: reddit)")
    show_comments: bool | None = Field(None, description="show comment threads (default: reddit)")
    comments_shown: int = Field(3, ge=0, le=50, description="comments shown per post in threads")
    encoder: EncoderSpec = Field(default_factory=EncoderSpec)
    follows: FollowsConfig = Field(default_factory=FollowsConfig)
    posts_column: str | None = Field(None, description="population column of earlier posts (OASIS format)")
    posts_file: str | None = Field(None, description="CSV/Parquet of posts to inject: author, content, time "
                                                     "(90m, a timestamp) or step, ...")
    interest_rate: float = Field(0.1, ge=0, le=1, description="how far an engagement moves a user's interests")
    influence: float = Field(0.0, ge=0, le=1, description="how far an endorsement moves a user's stance")
    expression: float = Field(0.0, ge=0, description="posts state the author's stance times (1 + expression)")
    report_threshold: int = Field(5, ge=1, description="reports that hide a post")
    notification_window: Duration = Field(timedelta(hours=24), description="how long notifications stay shown")
    text: bool = Field(True, description="render text columns (persona, feed, ...) for language-model minds")
    dilemma: str = Field("", description="the question stances are about, shown in personas")
    cascade_topic: str = Field("rumour", description="the topic whose cascades are measured")
    metrics: list[MetricGroup] = Field(
        default_factory=lambda: list(get_args(MetricGroup)),
        description="metric groups recorded each step")


class SocialWorld(PlatformActions, World[SocialConfig]):
    """A social-media platform (``mode: twitter | reddit``)."""

    name = "social"
    Config = SocialConfig
    actions = ACTIONS
    metric_descriptions: ClassVar[Mapping[str, str]] = metrics.DESCRIPTIONS
    #: one row per agent; ``(N,)`` columns hold one entry per feed slot (``feed.size``; -1, 0 or ''
    #: past the feed's end), the ``thread_`` ones one per shown comment of each slot (Reddit mode,
    #: ``show_comments``); the last five are rendered only with ``text: true``
    observation = (
        Column("stance", "float64", "own stance on the dilemma, -1 to 1"),
        Column("belief", "int8", "own belief in the rumour: 1 believes, -1 debunked, 0 neither"),
        Column("followers", "int64", "own followers"),
        Column("following", "int64", "accounts one follows"),
        Column("feed_post", "int64", "the feed's post ids (-1: empty slot)", shape=(None,)),
        Column("feed_author", "int64", "each post's author", shape=(None,)),
        Column("feed_likes", "int64", "each post's likes", shape=(None,)),
        Column("feed_dislikes", "int64", "each post's dislikes", shape=(None,)),
        Column("feed_reposts", "int64", "each post's reposts", shape=(None,)),
        Column("feed_comments", "int64", "each post's comments", shape=(None,)),
        Column("feed_score", "int64", "each post's likes minus dislikes", shape=(None,)),
        Column("feed_age", "float64", "each post's age (hours)", shape=(None,)),
        Column("feed_kind", "int8", "each post's kind: 0 original, 1 repost, 2 quote", shape=(None,)),
        Column("feed_similarity", "float32", "each post's similarity to one's interests", shape=(None,)),
        Column("feed_stance", "float64", "each post's stance, -1 to 1", shape=(None,)),
        Column("feed_topic", "text", "each post's topic ('rumour', 'correction', ...)", shape=(None,)),
        Column("feed_followed", "bool", "whether one follows each post's author", shape=(None,)),
        Column("feed_liked", "bool", "whether one has liked each post", shape=(None,)),
        Column("thread_comment", "int64", "the feed's shown comment ids (-1: none)", shape=(None,)),
        Column("thread_post", "int64", "each shown comment's post", shape=(None,)),
        Column("thread_score", "int64", "each shown comment's score", shape=(None,)),
        Column("thread_author", "int64", "each shown comment's author", shape=(None,)),
        Column("thread_voted", "bool", "whether one has voted on each shown comment", shape=(None,)),
        Column("notify_followers", "int64", "new followers since one's last session"),
        Column("notify_replies", "int64", "new comments on one's posts since one's last session"),
        Column("question", "text", "a survey question put to one ('': none)"),
        Column("persona", "text", "who one is, in words"),
        Column("feed", "text", "the feed rendered as text, one post a line"),
        Column("feed_items", "object", "the feed as a list of post dicts (post, author, text, likes, reposts, "
                                       "age, topic)"),
        Column("notifications", "text", "what happened to one's account since one's last session"),
        Column("results", "text", "what one's last searches or look-ups of trends found"),
    )

    @classmethod
    def observation_columns(cls, config: WorldConfig) -> tuple[Column, ...]:
        assert isinstance(config, SocialConfig)
        comments = config.mode == "reddit" if config.show_comments is None else config.show_comments
        text = ("persona", "feed", "feed_items", "notifications", "results")
        shown = config.feed.size * config.comments_shown
        return tuple(
            replace(c, shape=(shown if c.name.startswith("thread_") else config.feed.size,)) if c.shape else c
            for c in cls.observation
            if (comments or not c.name.startswith("thread_")) and (config.text or c.name not in text)
        )

    def __init__(self, population: Population, config: WorldConfig | Mapping[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(population, config, **kwargs)
        cfg = self.config
        reddit = cfg.mode == "reddit"
        self.show_scores = reddit if cfg.show_scores is None else cfg.show_scores
        self.show_comments = reddit if cfg.show_comments is None else cfg.show_comments
        self.followed_share = (0.0 if reddit else 0.5) if cfg.feed.followed_share is None else cfg.feed.followed_share
        self.interest_rate, self.influence, self.expression = cfg.interest_rate, cfg.influence, cfg.expression
        self.report_threshold = cfg.report_threshold

    # -- the contract ------------------------------------------------------------------------
    def reset(self, seed: Seed = None) -> None:
        super().reset(seed)
        cfg, pop, n = self.config, self.population, self.n_users
        self.encoder: Encoder = encoders.get(cfg.encoder.type)(**cfg.encoder.params)
        spec = cfg.recommender or RecommenderSpec(type="hot" if cfg.mode == "reddit" else "interest")
        self.recommender: Recommender = recommenders.get(spec.type)(spec.params)
        self.state = s = SocialState(n, self.encoder.dim)
        names, bios = first_column(pop, NAME_COLUMNS), first_column(pop, BIO_COLUMNS)
        if names is not None:
            s.users["name"][:] = names
        if bios is not None:
            s.users["bio"][:] = bios
            s.user_embedding[:] = self.encoder.encode(list(bios))
        if "stance" in pop:
            s.users["stance"][:] = np.clip(numbers(pop["stance"], "population column stance"), -1, 1)
        f = cfg.follows
        follower, followee = follow_edges(pop, f.kind, f.degree, f.rewire, f.column, f.path,
                                          np.random.default_rng(self.rng.integers(2**63)))
        new = s.follows.add(follower, followee)
        np.add.at(s.users["following"], follower[new], 1)
        np.add.at(s.users["followers"], followee[new], 1)
        s.follows.compact()
        #: events of the posts seeded before step 0, recorded with step 0's events
        self.seeded: list[Events] = []
        if cfg.posts_column:
            authors, content = column_posts(pop, cfg.posts_column)
            ids = self.add_posts(authors, content)
            self.seeded.append(Events.world("seed_post", authors, post_id=ids, content=content))
        self.scheduled = file_posts(cfg.posts_file, n, self.clock) if cfg.posts_file else None
        if self.scheduled is not None and (self.scheduled["step"] <= 0).any():
            self.seeded.append(self._inject_scheduled(self.scheduled["step"] <= 0))
        self.feed_cache = np.full((n, cfg.feed.size), -1, dtype=np.int64)
        self.cached_at = np.full(n, -np.inf)  # when each user's feed was computed (simulated seconds)
        self.stale = np.zeros(n, dtype=bool)
        self.herd: tuple[float, float] | None = None
        self.treated_upto = 0

    @property
    def n_users(self) -> int:
        return self.population.size

    def now_s(self) -> float:
        """The simulated time now, in seconds since 1970 (UTC)."""
        time = self.time if self.time is not None else self.clock.time(self.step)
        return float(calendar.timegm(time.utctimetuple())) + time.microsecond / 1e6

    def view(self) -> FeedView:
        """What recommenders read now."""
        return FeedView(self.state, self.step, self.now_s(), self.rng, self.config.feed.window)

    def feeds(self, users: np.ndarray) -> np.ndarray:
        """The current feed of each user (recomputed when as old as ``refresh_every`` or refreshed)."""
        feed, now = self.config.feed, self.now_s()
        reuse = feed.refresh_every.total_seconds() if feed.refresh_every is not None else 0.0
        due = self.stale[users] | (now - self.cached_at[users] >= reuse)
        todo = np.unique(users[due])
        if len(todo):
            self.feed_cache[todo] = assemble_feeds(todo, self.view(), self.recommender, feed.size,
                                                   self.followed_share)
            self.cached_at[todo] = now
            self.stale[todo] = False
        return self.feed_cache[users]

    def observe(self, agent_ids: np.ndarray) -> Observations:
        s, ids = self.state, np.asarray(agent_ids, dtype=np.int64)
        feed = self.feeds(ids)
        has = feed >= 0
        post = np.where(has, feed, 0)
        p = s.posts
        empty = len(p) == 0

        def column(values: np.ndarray, fill: Any = 0) -> np.ndarray:
            return np.where(has, values[post], fill) if not empty else np.full(feed.shape, fill)

        sims = np.einsum("ijk,ik->ij", s.post_embedding[post], s.user_embedding[ids]) if not empty \
            else np.zeros(feed.shape, np.float32)
        viewer = np.repeat(ids, feed.shape[1])
        author = column(p["author"], -1)
        following = s.follows.contains(viewer, np.maximum(author, 0).ravel()).reshape(feed.shape) & has
        cols: dict[str, np.ndarray] = {
            "stance": s.users["stance"][ids].copy(), "belief": s.users["belief"][ids].copy(),
            "followers": s.users["followers"][ids].copy(), "following": s.users["following"][ids].copy(),
            "feed_post": feed, "feed_author": author, "feed_likes": column(p["likes"]),
            "feed_dislikes": column(p["dislikes"]), "feed_reposts": column(p["reposts"]),
            "feed_comments": column(p["comments"]), "feed_score": column(p["likes"]) - column(p["dislikes"]),
            "feed_age": np.where(has, (self.now_s() - column(p["created_s"], 0.0)) / 3600.0, 0.0),
            "feed_kind": column(p["kind"], -1),
            "feed_similarity": np.where(has, sims, 0.0), "feed_stance": column(p["stance"], 0.0),
            "feed_topic": column(p["topic"], "").astype(str), "feed_followed": following,
            "feed_liked": s.post_likes.contains(viewer, post.ravel()).reshape(feed.shape) & has,
        }
        topics = cols["feed_topic"]
        s.users["seen_rumour"][ids[(topics == self.config.cascade_topic).any(axis=1)]] = True
        s.users["seen_correction"][ids[(topics == "correction").any(axis=1)]] = True
        threads = None
        if self.show_comments:
            threads = top_comments(s, feed, self.config.comments_shown)
            flat = threads.reshape(len(ids), -1)
            known = flat >= 0
            cols["thread_comment"] = flat
            cols["thread_post"] = np.where(known, np.repeat(feed, self.config.comments_shown, axis=1), -1)
            cols["thread_score"] = np.where(known, s.comment_score(np.maximum(flat, 0)), 0) if len(s.comments) \
                else np.zeros(flat.shape, np.int64)
            cols["thread_author"] = np.where(known, s.comments["author"][np.maximum(flat, 0)], -1) \
                if len(s.comments) else np.full(flat.shape, -1)
            voter, target = np.repeat(ids, flat.shape[1]), np.maximum(flat, 0).ravel()
            voted = s.comment_likes.contains(voter, target) | s.comment_dislikes.contains(voter, target)
            cols["thread_voted"] = voted.reshape(flat.shape) & known
        followers, replies, notes = self._notifications(ids)
        cols["notify_followers"], cols["notify_replies"] = followers, replies
        cols["question"] = s.question[ids].copy()
        if self.config.text:
            cols["persona"] = self._personas(ids)
            cols["feed"] = np.asarray(feed_text(s, feed, self.now_s(), self.show_scores, threads), dtype=object)
            cols["feed_items"] = feed_items(s, feed, self.now_s()) if not empty else _empty_lists(len(ids))
            cols["notifications"] = notes
            cols["results"] = s.last_results[ids].copy()
        s.last_results[ids] = ""
        s.users["last_seen"][ids] = self.step + 1
        return Observations(ids, cols, self.step, self.time)

    def _personas(self, ids: np.ndarray) -> np.ndarray:
        u = self.state.users
        dilemma = self.config.dilemma
        out = np.empty(len(ids), dtype=object)
        for i, user in enumerate(ids.tolist()):
            text = f"You are @{u['name'][user]}. {u['bio'][user]}".strip()
            text += f" You have {u['followers'][user]} followers and follow {u['following'][user]} accounts."
            if dilemma:
                text += f" On '{dilemma}' your stance is {u['stance'][user]:+.2f} (-1 against, +1 for)."
            out[i] = text
        return out

    def _notifications(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, window = self.state, steps_for(self.config.notification_window, self.clock.step)
        note = s.notifications
        start = int(np.searchsorted(note["step"], self.step - window))
        user, kind, step = note["user"][start:], note["kind"][start:], note["step"][start:]
        position = np.full(self.n_users, -1, dtype=np.int64)
        position[ids] = np.arange(len(ids))
        mine = (position[user] >= 0) & (step >= s.users["last_seen"][user])
        rows = np.flatnonzero(mine)
        who = position[user[rows]]
        follows = np.bincount(who[kind[rows] == "follow"], minlength=len(ids))
        replies = np.bincount(who[kind[rows] == "reply"], minlength=len(ids))
        texts = np.full(len(ids), "", dtype=object)
        if self.config.text and len(rows):
            names, actor, item = s.users["name"], note["actor"][start:], note["item"][start:]
            verbs = {"follow": "followed you", "reply": "commented on your post", "repost": "reposted your post",
                     "quote": "quoted your post"}
            lines: dict[int, list[str]] = {}
            for r in rows.tolist():
                target = f" {item[r]}" if item[r] >= 0 else ""
                lines.setdefault(int(position[user[r]]), []).append(f"@{names[actor[r]]} {verbs[kind[r]]}{target}")
            for i, entries in lines.items():
                texts[i] = "; ".join(entries[-10:])
        return follows, replies, texts

    def tick(self) -> list[Events]:
        events, self.seeded = self.seeded, []
        if self.herd is not None and len(self.state.comments) > self.treated_upto:
            events.append(self._treat(np.arange(self.treated_upto, len(self.state.comments))))
        if self.scheduled is not None:
            due = self.scheduled["step"] == self.step + 1
            if due.any():
                events.append(self._inject_scheduled(due))
        self.state.follows.compact()
        return events

    def metrics(self) -> dict[str, float]:
        return metrics.measure(self.state, list(self.config.metrics), self.config.cascade_topic)

    # -- interventions -----------------------------------------------------------------------
    def _inject_scheduled(self, due: np.ndarray) -> Events:
        sched = self.scheduled
        assert sched is not None
        stance = np.where(np.isnan(sched["stance"][due]), self.state.users["stance"][sched["author"][due]],
                          sched["stance"][due])
        ids = self.add_posts(sched["author"][due], sched["content"][due], topic=sched["topic"][due], stance=stance)
        return Events.world("seed_post", sched["author"][due], post_id=ids, content=sched["content"][due])

    @operation
    def inject_post(self, author: int, content: str, topic: str = "", stance: float | None = None) -> Events:
        """Publish a post (e.g. a rumour or its correction) as ``author``, tagged with ``topic``."""
        if not 0 <= author < self.n_users:
            raise PopulaceError(f"inject_post: author {author} is not a user 0..{self.n_users - 1}")
        authors = np.asarray([author], dtype=np.int64)
        ids = self.add_posts(authors, np.asarray([content], dtype=object), topic=topic,
                             stance=None if stance is None else np.asarray([stance]))
        if topic == "rumour":
            self.state.users["belief"][author] = 1
        return Events.world("inject_post", authors, post_id=ids, topic=topic)

    @operation
    def ask(self, question: str, share: float = 1.0) -> Events:
        """Pose a survey question to a random ``share`` of users (answered with ``interview``)."""
        chosen = np.sort(self.rng.permutation(self.n_users)[: round(share * self.n_users)])
        self.state.question[chosen] = question
        return Events.world("ask", chosen, question=question)

    @operation
    def herd_treatment(self, up: float = 1 / 3, down: float = 1 / 3) -> Events:
        """From now on give each new comment one up-vote (share ``up``), one down-vote (``down``) or none."""
        self.herd = (up, down)
        self.treated_upto = len(self.state.comments)
        return Events.world("herd_treatment", up=up, down=down)

    def _treat(self, comments: np.ndarray) -> Events:
        assert self.herd is not None
        up, down = self.herd
        draw = self.rng.random(len(comments))
        group = np.where(draw < up, "up", np.where(draw < up + down, "down", "control")).astype(object)
        c = self.state.comments
        c["treatment"][comments] = group
        c["boost"][comments] = np.where(group == "up", 1, np.where(group == "down", -1, 0))
        self.treated_upto = len(c)
        return Events.world("treat_comment", c["author"][comments], comment_id=comments, group=group)

    @operation
    def set_recommender(self, type: str, params: dict[str, Any] | None = None) -> Events:
        """Switch the recommender (e.g. to test an intervention on ranking); feeds refresh at once."""
        self.recommender = recommenders.get(type)(params)
        self.stale[:] = True
        return Events.world("set_recommender", recommender=type)

    @operation
    def remove_posts(self, author: int) -> Events:
        """Moderation: hide every post by ``author``."""
        hidden = np.flatnonzero(self.state.posts["author"] == author)
        self.state.posts["hidden"][hidden] = True
        return Events.world("remove_posts", np.asarray([author]), removed=len(hidden))


worlds.add("social", SocialWorld)


def _empty_lists(n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    out[:] = [[] for _ in range(n)]
    return out
