"""The social platform's actions: the typed table, and the handlers that apply valid batches.

Every handler takes a batch that already passed type validation and returns one event per action:
accepted, or rejected with the platform's reason (liking twice, following oneself, commenting on
a post that does not exist, writing to a group one is not in, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import numpy as np

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.embedding import Encoder
from populace.events import Events
from populace.world import Handler
from populace.worlds.social.state import ORIGINAL, QUOTE, REPOST, PairSet, SocialState, Table

TEXT = 2000
POST = Arg.integer(ge=0, description="a post id")
COMMENT = Arg.integer(ge=0, description="a comment id")
GROUP = Arg.integer(ge=0, description="a group id")
USER = Arg.agent("a user id")
CONTENT = Arg.text(TEXT, "the text")
QUERY = Arg.text(200, "words to search for")

ACTIONS = ActionSpace(
    ActionSpec("create_post", {"content": CONTENT}, "write a new post"),
    ActionSpec("create_comment", {"post_id": POST, "content": CONTENT}, "comment on a post"),
    ActionSpec("like_post", {"post_id": POST}, "like (upvote) a post"),
    ActionSpec("unlike_post", {"post_id": POST}, "take back a like"),
    ActionSpec("dislike_post", {"post_id": POST}, "dislike (downvote) a post"),
    ActionSpec("undo_dislike_post", {"post_id": POST}, "take back a dislike"),
    ActionSpec("like_comment", {"comment_id": COMMENT}, "like (upvote) a comment"),
    ActionSpec("unlike_comment", {"comment_id": COMMENT}, "take back a like on a comment"),
    ActionSpec("dislike_comment", {"comment_id": COMMENT}, "dislike (downvote) a comment"),
    ActionSpec("undo_dislike_comment", {"comment_id": COMMENT}, "take back a dislike on a comment"),
    ActionSpec("repost", {"post_id": POST}, "share a post with your followers"),
    ActionSpec("quote_post", {"post_id": POST, "content": CONTENT}, "share a post with your own comment"),
    ActionSpec("follow", {"user": USER}, "follow a user"),
    ActionSpec("unfollow", {"user": USER}, "stop following a user"),
    ActionSpec("mute", {"user": USER}, "hide a user's posts from your feed"),
    ActionSpec("unmute", {"user": USER}, "show a muted user's posts again"),
    ActionSpec("search_posts", {"query": QUERY}, "search posts by content"),
    ActionSpec("search_user", {"query": QUERY}, "search users by name or bio"),
    ActionSpec("trend", {}, "see the most engaged-with recent posts"),
    ActionSpec("refresh", {}, "ask for a fresh feed"),
    ActionSpec("do_nothing", {}, "do nothing this time"),
    ActionSpec("report_post", {"post_id": POST, "reason": Arg.text(200, "why")}, "report a post"),
    ActionSpec("create_group", {"name": Arg.text(100, "the group's name")}, "start a group chat"),
    ActionSpec("join_group", {"group_id": GROUP}, "join a group"),
    ActionSpec("leave_group", {"group_id": GROUP}, "leave a group"),
    ActionSpec("send_to_group", {"group_id": GROUP, "content": CONTENT}, "write to a group you are in"),
    ActionSpec("interview", {"answer": Arg.text(TEXT, "your answer")}, "answer the survey question asked"),
)


class Verdict:
    """Accumulates, per action, whether it may take effect and the first reason it may not."""

    def __init__(self, n: int) -> None:
        self.ok = np.ones(n, dtype=bool)
        self.reason = np.full(n, "", dtype=object)

    def reject(self, bad: np.ndarray, reason: str) -> None:
        newly = self.ok & bad
        self.reason[newly] = reason
        self.ok &= ~bad


class PlatformActions:
    """Handlers of every platform action, mixed into the world (which supplies state and clock)."""

    state: SocialState
    encoder: Encoder
    step: int
    interest_rate: float
    influence: float
    expression: float
    report_threshold: int
    stale: np.ndarray

    def now_s(self) -> float:
        raise NotImplementedError

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "create_post": self._create_post, "create_comment": self._create_comment,
            "like_post": self._like_post, "unlike_post": self._unlike_post,
            "dislike_post": self._dislike_post, "undo_dislike_post": self._undo_dislike_post,
            "like_comment": self._like_comment, "unlike_comment": self._unlike_comment,
            "dislike_comment": self._dislike_comment, "undo_dislike_comment": self._undo_dislike_comment,
            "repost": self._repost, "quote_post": self._quote_post,
            "follow": self._follow, "unfollow": self._unfollow, "mute": self._mute, "unmute": self._unmute,
            "search_posts": self._search_posts, "search_user": self._search_user, "trend": self._trend,
            "refresh": self._refresh, "do_nothing": self._do_nothing, "report_post": self._report_post,
            "create_group": self._create_group, "join_group": self._join_group,
            "leave_group": self._leave_group, "send_to_group": self._send_to_group, "interview": self._interview,
        }

    # -- posts -------------------------------------------------------------------------------
    def add_posts(self, authors: np.ndarray, content: np.ndarray, *, kind: int = ORIGINAL,
                  parent: np.ndarray | None = None, topic: np.ndarray | str = "",
                  stance: np.ndarray | None = None, vectors: np.ndarray | None = None) -> np.ndarray:
        """Store new posts (embedding each once) and update the authors' counters; return their ids."""
        s = self.state
        n = len(authors)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        if parent is None:
            parent_ids = np.full(n, -1, dtype=np.int64)
            root, depth = None, np.zeros(n, dtype=np.int32)
        else:
            parent_ids = parent
            root = s.posts["root"][parent]
            depth = s.posts["depth"][parent] + 1
            topic = s.posts["topic"][root]
            stance = s.posts["stance"][root]
        ids = s.posts.append(
            author=authors, kind=kind, parent=parent_ids, root=-1 if root is None else root, depth=depth,
            content=content, step=self.step, created_s=self.now_s(), topic=topic,
            stance=self.expressed(authors) if stance is None else stance,
        )
        if root is None:
            s.posts["root"][ids] = ids
        # a repost carries its parent's content: it points to the post that content came from
        s.posts["source"][ids] = s.posts["source"][parent_ids] if kind == REPOST else ids
        s.store_post_embeddings(ids, self.encoder.encode(list(content)) if vectors is None else vectors)
        np.add.at(s.users["posts"], authors, 1)
        return ids

    def expressed(self, authors: np.ndarray) -> np.ndarray:
        """The stance a new post by each author states: theirs, amplified by ``expression``."""
        return np.clip(self.state.users["stance"][authors] * (1.0 + self.expression), -1.0, 1.0)

    def _post_checks(self, post_id: np.ndarray) -> tuple[Verdict, np.ndarray]:
        verdict = Verdict(len(post_id))
        posts = self.state.posts
        verdict.reject(~posts.valid(post_id), "no such post")
        safe = np.where(verdict.ok, post_id, 0)
        if len(posts):
            verdict.reject(self.state.removed(safe), "post removed")
        return verdict, safe

    def _create_post(self, actions: Actions) -> Events:
        content = actions.args["content"]
        verdict = Verdict(len(actions))
        verdict.reject(_blank(content), "empty content")
        ok = verdict.ok
        ids = np.full(len(actions), -1, dtype=np.int64)
        ids[ok] = self.add_posts(actions.agents[ok], content[ok])
        self._learn_interest(actions.agents[ok], ids[ok])
        return Events.outcomes(actions, ok, verdict.reason, post_id=ids)

    def _create_comment(self, actions: Actions) -> Events:
        post_id, content = actions.args["post_id"], actions.args["content"]
        verdict, safe = self._post_checks(post_id)
        verdict.reject(_blank(content), "empty content")
        ok = verdict.ok
        s = self.state
        ids = np.full(len(actions), -1, dtype=np.int64)
        ids[ok] = s.comments.append(post=post_id[ok], author=actions.agents[ok], content=content[ok], step=self.step)
        np.add.at(s.posts["comments"], post_id[ok], 1)
        self._notify(s.posts["author"][safe[ok]], "reply", actions.agents[ok], post_id[ok])
        return Events.outcomes(actions, ok, verdict.reason, comment_id=ids)

    def _vote_post(self, actions: Actions, relation: PairSet, counter: str, adding: bool, reason: str) -> Events:
        post_id = actions.args["post_id"]
        verdict, _ = self._post_checks(post_id)
        changed = np.zeros(len(actions), dtype=bool)
        ok = verdict.ok
        change = relation.add if adding else relation.remove
        changed[ok] = change(actions.agents[ok], post_id[ok])
        verdict.reject(~changed, reason)
        np.add.at(self.state.posts[counter], post_id[verdict.ok], 1 if adding else -1)
        if adding and counter == "likes":
            self._endorse(actions.agents[verdict.ok], post_id[verdict.ok])
        return Events.outcomes(actions, verdict.ok, verdict.reason)

    def _like_post(self, actions: Actions) -> Events:
        return self._vote_post(actions, self.state.post_likes, "likes", True, "already liked")

    def _unlike_post(self, actions: Actions) -> Events:
        return self._vote_post(actions, self.state.post_likes, "likes", False, "not liked")

    def _dislike_post(self, actions: Actions) -> Events:
        return self._vote_post(actions, self.state.post_dislikes, "dislikes", True, "already disliked")

    def _undo_dislike_post(self, actions: Actions) -> Events:
        return self._vote_post(actions, self.state.post_dislikes, "dislikes", False, "not disliked")

    def _vote_comment(self, actions: Actions, relation: PairSet, counter: str, adding: bool, reason: str) -> Events:
        comment_id = actions.args["comment_id"]
        verdict = Verdict(len(actions))
        verdict.reject(~self.state.comments.valid(comment_id), "no such comment")
        ok = verdict.ok
        changed = np.zeros(len(actions), dtype=bool)
        change = relation.add if adding else relation.remove
        changed[ok] = change(actions.agents[ok], comment_id[ok])
        verdict.reject(~changed, reason)
        np.add.at(self.state.comments[counter], comment_id[verdict.ok], 1 if adding else -1)
        return Events.outcomes(actions, verdict.ok, verdict.reason)

    def _like_comment(self, actions: Actions) -> Events:
        return self._vote_comment(actions, self.state.comment_likes, "likes", True, "already liked")

    def _unlike_comment(self, actions: Actions) -> Events:
        return self._vote_comment(actions, self.state.comment_likes, "likes", False, "not liked")

    def _dislike_comment(self, actions: Actions) -> Events:
        return self._vote_comment(actions, self.state.comment_dislikes, "dislikes", True, "already disliked")

    def _undo_dislike_comment(self, actions: Actions) -> Events:
        return self._vote_comment(actions, self.state.comment_dislikes, "dislikes", False, "not disliked")

    def _share(self, actions: Actions, kind: int) -> Events:
        s = self.state
        post_id = actions.args["post_id"]
        verdict, safe = self._post_checks(post_id)
        if kind == QUOTE:
            verdict.reject(_blank(actions.args["content"]), "empty content")
        else:
            fresh = np.zeros(len(actions), dtype=bool)
            roots = s.posts["root"][safe[verdict.ok]]  # one share per user per original, via any repost
            fresh[verdict.ok] = s.reposted.add(actions.agents[verdict.ok], roots)
            verdict.reject(~fresh, "already reposted")
        ok = verdict.ok
        users, parents = actions.agents[ok], post_id[ok]
        text = actions.args["content"][ok] if kind == QUOTE else s.posts["content"][parents]
        vectors = None if kind == QUOTE else s.post_embedding[parents]
        ids = np.full(len(actions), -1, dtype=np.int64)
        ids[ok] = self.add_posts(users, text, kind=kind, parent=parents, vectors=vectors)
        np.add.at(s.posts["quotes" if kind == QUOTE else "reposts"], parents, 1)
        self._notify(s.posts["author"][safe[ok]], "quote" if kind == QUOTE else "repost", users, parents)
        self._endorse(users, parents)
        return Events.outcomes(actions, ok, verdict.reason, post_id=ids)

    def _repost(self, actions: Actions) -> Events:
        return self._share(actions, REPOST)

    def _quote_post(self, actions: Actions) -> Events:
        return self._share(actions, QUOTE)

    def _report_post(self, actions: Actions) -> Events:
        s = self.state
        post_id = actions.args["post_id"]
        verdict, _ = self._post_checks(post_id)
        fresh = np.zeros(len(actions), dtype=bool)
        fresh[verdict.ok] = s.reports.add(actions.agents[verdict.ok], post_id[verdict.ok])
        verdict.reject(~fresh, "already reported")
        reported = post_id[verdict.ok]
        np.add.at(s.posts["reports"], reported, 1)
        s.posts["hidden"][reported] |= s.posts["reports"][reported] >= self.report_threshold
        return Events.outcomes(actions, verdict.ok, verdict.reason)

    # -- people ------------------------------------------------------------------------------
    def _relate(self, actions: Actions, relation: PairSet, adding: bool, reason: str, self_reason: str) -> Events:
        other = actions.args["user"]
        verdict = Verdict(len(actions))
        verdict.reject(other == actions.agents, self_reason)
        changed = np.zeros(len(actions), dtype=bool)
        ok = verdict.ok
        changed[ok] = (relation.add if adding else relation.remove)(actions.agents[ok], other[ok])
        verdict.reject(~changed, reason)
        return Events.outcomes(actions, verdict.ok, verdict.reason)

    def _follow(self, actions: Actions) -> Events:
        events = self._relate(actions, self.state.follows, True, "already following", "cannot follow yourself")
        self._count_follows(events, actions, 1)
        ok = events.outcome == "ok"
        self._notify(actions.args["user"][ok], "follow", actions.agents[ok], np.full(int(ok.sum()), -1))
        return events

    def _unfollow(self, actions: Actions) -> Events:
        events = self._relate(actions, self.state.follows, False, "not following", "cannot unfollow yourself")
        self._count_follows(events, actions, -1)
        return events

    def _count_follows(self, events: Events, actions: Actions, sign: int) -> None:
        ok = events.outcome == "ok"
        users = self.state.users
        np.add.at(users["following"], actions.agents[ok], sign)
        np.add.at(users["followers"], actions.args["user"][ok], sign)

    def _mute(self, actions: Actions) -> Events:
        return self._relate(actions, self.state.mutes, True, "already muted", "cannot mute yourself")

    def _unmute(self, actions: Actions) -> Events:
        return self._relate(actions, self.state.mutes, False, "not muted", "cannot unmute yourself")

    # -- looking around ----------------------------------------------------------------------
    def _search_posts(self, actions: Actions) -> Events:
        s = self.state
        verdict = Verdict(len(actions))
        verdict.reject(_blank(actions.args["query"]), "empty query")
        visible = np.flatnonzero(~s.posts["hidden"])
        queries = self.encoder.encode([str(q) for q in actions.args["query"]])
        results = np.full(len(actions), "", dtype=object)
        if len(visible):
            sims = queries @ s.post_embedding[visible].T
            best = np.argsort(-sims, axis=1, kind="stable")[:, :5]
            for i, row in enumerate(best):
                hits = visible[row[sims[i, row] > 0]]
                results[i] = ",".join(map(str, hits.tolist()))
        self._show_results(actions, verdict.ok, "posts", results)
        return Events.outcomes(actions, verdict.ok, verdict.reason, results=results)

    def _show_results(self, actions: Actions, ok: np.ndarray, what: str, results: np.ndarray) -> None:
        """Keep search results for the searcher's next observation."""
        self.state.last_results[actions.agents[ok]] = [
            f"{what} matching {q!r}: {r or 'none'}"
            for q, r in zip(actions.args["query"][ok], results[ok], strict=True)]

    def _search_user(self, actions: Actions) -> Events:
        s = self.state
        verdict = Verdict(len(actions))
        verdict.reject(_blank(actions.args["query"]), "empty query")
        haystack = [f"{n} {b}".lower() for n, b in zip(s.users["name"], s.users["bio"], strict=True)]
        results = np.full(len(actions), "", dtype=object)
        for i, query in enumerate(actions.args["query"]):
            needle = str(query).lower().strip()
            hits = [u for u, text in enumerate(haystack) if needle and needle in text][:5]
            results[i] = ",".join(map(str, hits))
        self._show_results(actions, verdict.ok, "users", results)
        return Events.outcomes(actions, verdict.ok, verdict.reason, results=results)

    def trending(self, k: int = 5, window: timedelta = timedelta(hours=24)) -> np.ndarray:
        """The ``k`` visible original posts of the last ``window`` of simulated time with the most likes and reposts."""
        p = self.state.posts
        recent = np.flatnonzero(~p["hidden"] & (p["created_s"] >= self.now_s() - window.total_seconds())
                                & (p["kind"] == ORIGINAL))
        engagement = p["likes"][recent] + p["reposts"][recent] + p["quotes"][recent]
        return recent[np.lexsort((recent, -engagement))[:k]]

    def _trend(self, actions: Actions) -> Events:
        top = ",".join(map(str, self.trending().tolist()))
        self.state.last_results[actions.agents] = f"trending posts: {top or 'none'}"
        return Events.outcomes(actions, np.ones(len(actions), bool), results=top)

    def _refresh(self, actions: Actions) -> Events:
        self.stale[actions.agents] = True
        return Events.accepted(actions)

    def _do_nothing(self, actions: Actions) -> Events:
        return Events.accepted(actions)

    # -- groups and surveys ------------------------------------------------------------------
    def _create_group(self, actions: Actions) -> Events:
        name = actions.args["name"]
        verdict = Verdict(len(actions))
        verdict.reject(_blank(name), "empty name")
        ok = verdict.ok
        groups = self.state.groups
        ids = np.full(len(actions), -1, dtype=np.int64)
        ids[ok] = groups.append(name=name[ok], creator=actions.agents[ok], members=1)
        self.state.members.add(ids[ok], actions.agents[ok])
        return Events.outcomes(actions, ok, verdict.reason, group_id=ids)

    def _membership(self, actions: Actions, joining: bool) -> Events:
        group_id = actions.args["group_id"]
        groups = self.state.groups
        verdict = Verdict(len(actions))
        verdict.reject(~groups.valid(group_id), "no such group")
        ok = verdict.ok
        changed = np.zeros(len(actions), dtype=bool)
        relation = self.state.members
        changed[ok] = (relation.add if joining else relation.remove)(group_id[ok], actions.agents[ok])
        verdict.reject(~changed, "already a member" if joining else "not a member")
        np.add.at(groups["members"], group_id[verdict.ok], 1 if joining else -1)
        return Events.outcomes(actions, verdict.ok, verdict.reason)

    def _join_group(self, actions: Actions) -> Events:
        return self._membership(actions, True)

    def _leave_group(self, actions: Actions) -> Events:
        return self._membership(actions, False)

    def _send_to_group(self, actions: Actions) -> Events:
        group_id, content = actions.args["group_id"], actions.args["content"]
        s = self.state
        verdict = Verdict(len(actions))
        verdict.reject(~s.groups.valid(group_id), "no such group")
        member = np.zeros(len(actions), dtype=bool)
        ok = verdict.ok
        member[ok] = s.members.contains(group_id[ok], actions.agents[ok])
        verdict.reject(~member, "not a member")
        verdict.reject(_blank(content), "empty content")
        ok = verdict.ok
        ids = np.full(len(actions), -1, dtype=np.int64)
        ids[ok] = s.messages.append(group=group_id[ok], author=actions.agents[ok], content=content[ok], step=self.step)
        return Events.outcomes(actions, ok, verdict.reason, message_id=ids)

    def _interview(self, actions: Actions) -> Events:
        question = self.state.question[actions.agents]
        verdict = Verdict(len(actions))
        verdict.reject(question == "", "no question was asked")
        verdict.reject(_repeats(actions.agents), "already answered")
        self.state.question[actions.agents[verdict.ok]] = ""
        return Events.outcomes(actions, verdict.ok, verdict.reason, question=question)

    # -- effects shared by several actions ---------------------------------------------------
    def _endorse(self, users: np.ndarray, posts: np.ndarray) -> None:
        """A like, repost or quote: the user's interests, stance and belief move towards the post's."""
        if len(users) == 0:
            return
        s = self.state
        self._learn_interest(users, posts)
        if self.influence > 0:
            stance = s.users["stance"]
            pull = np.bincount(users, s.posts["stance"][posts] - stance[users], s.n_users)
            seen = np.bincount(users, minlength=s.n_users)
            stance += self.influence * pull / np.maximum(seen, 1)
            np.clip(stance, -1.0, 1.0, out=stance)
        topic = s.posts["topic"][posts]
        belief = s.users["belief"]
        rumour = users[(topic == "rumour") & (belief[users] == 0)]
        belief[rumour] = 1
        belief[users[topic == "correction"]] = -1

    def _learn_interest(self, users: np.ndarray, posts: np.ndarray) -> None:
        if len(users) == 0 or self.interest_rate <= 0:
            return
        s = self.state
        emb = s.user_embedding
        touched, where = np.unique(users, return_inverse=True)
        delta = np.zeros((len(touched), emb.shape[1]), dtype=emb.dtype)
        np.add.at(delta, where, s.post_embedding[posts] - emb[users])
        emb[touched] += self.interest_rate * delta
        norms = np.linalg.norm(emb[touched], axis=1, keepdims=True)
        emb[touched] /= np.maximum(norms, 1e-9)

    def _notify(self, users: np.ndarray, kind: str, actors: np.ndarray, items: np.ndarray) -> None:
        keep = users != actors
        if keep.any():
            self.state.notifications.append(user=users[keep], kind=kind, actor=actors[keep], item=items[keep],
                                            step=self.step)


def _blank(texts: np.ndarray) -> np.ndarray:
    return np.fromiter((not str(t).strip() for t in texts), bool, len(texts))


def _repeats(agents: np.ndarray) -> np.ndarray:
    """True for each repeat of an agent after its first appearance in the batch."""
    repeat = np.ones(len(agents), dtype=bool)
    repeat[np.unique(agents, return_index=True)[1]] = False
    return repeat


__all__ = ["ACTIONS", "PlatformActions", "Table", "Verdict"]
