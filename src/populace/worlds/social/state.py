"""The platform's state as columns: growable tables of users, posts, comments, groups and messages,
and relations (likes, follows, mutes, memberships, ...) as sets of integer pairs.

No SQL and no row objects: a table is a dict of NumPy arrays that double in capacity when full,
and a relation is a sorted ``int64`` key array (``left << 32 | right``) plus two small pending sets
that are merged in on :meth:`PairSet.compact`. Counters (likes, followers, ...) live in the tables
and are updated by the same code that changes a relation; property tests check they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_SHIFT = np.int64(32)
_MASK = np.int64((1 << 32) - 1)


class Table:
    """Columns of equal length that grow by appending rows; ``table[name]`` is a view of the live rows."""

    def __init__(self, columns: Mapping[str, Any], capacity: int = 64) -> None:
        self._dtypes = {name: np.dtype(dtype) for name, dtype in columns.items()}
        self._data = {name: np.zeros(capacity, dtype=dtype) for name, dtype in self._dtypes.items()}
        for name, dtype in self._dtypes.items():
            if dtype.kind == "O":
                self._data[name][:] = ""
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name][: self.size]

    @property
    def columns(self) -> list[str]:
        return list(self._data)

    def append(self, **values: Any) -> np.ndarray:
        """Append rows (scalars broadcast, missing columns default to 0/""); return their ids."""
        sizes = [np.size(v) for v in values.values() if np.ndim(v) > 0]
        n = max(sizes) if sizes else (1 if values else 0)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        self._reserve(self.size + n)
        start, stop = self.size, self.size + n
        for name, array in self._data.items():
            array[start:stop] = values.get(name, "" if array.dtype.kind == "O" else 0)
        unknown = set(values) - set(self._data)
        if unknown:
            raise KeyError(f"unknown column(s) {sorted(unknown)}")
        self.size = stop
        return np.arange(start, stop, dtype=np.int64)

    def _reserve(self, needed: int) -> None:
        capacity = len(next(iter(self._data.values())))
        if needed <= capacity:
            return
        new = max(needed, 2 * capacity)
        for name, array in self._data.items():
            grown = np.zeros(new, dtype=array.dtype)
            if array.dtype.kind == "O":
                grown[:] = ""
            grown[: self.size] = array[: self.size]
            self._data[name] = grown

    def valid(self, ids: np.ndarray) -> np.ndarray:
        """Which ``ids`` are rows of this table."""
        ids = np.asarray(ids)
        return (ids >= 0) & (ids < self.size)


def pair_keys(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The int64 key of each (left, right) pair; both sides must be in [0, 2**31)."""
    return (np.asarray(left, dtype=np.int64) << _SHIFT) | np.asarray(right, dtype=np.int64)


class PairSet:
    """A set of (left, right) integer pairs: who likes what, who follows whom, who is in which group."""

    def __init__(self) -> None:
        self._base = np.empty(0, dtype=np.int64)
        self._added: set[int] = set()
        self._removed: set[int] = set()

    def __len__(self) -> int:
        return len(self._base) + len(self._added) - len(self._removed)

    def contains(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Whether each (left[i], right[i]) is in the set."""
        return self._contains_keys(pair_keys(left, right))

    def _contains_keys(self, keys: np.ndarray) -> np.ndarray:
        if len(self._base):
            pos = np.minimum(np.searchsorted(self._base, keys), len(self._base) - 1)
            found = self._base[pos] == keys
        else:
            found = np.zeros(len(keys), dtype=bool)
        if self._removed:
            found &= ~np.isin(keys, np.fromiter(self._removed, np.int64, len(self._removed)))
        if self._added:
            found |= np.isin(keys, np.fromiter(self._added, np.int64, len(self._added)))
        return found

    def add(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Add the pairs; return which were new (a pair repeated within the batch is new once)."""
        keys = pair_keys(left, right)
        new = ~self._contains_keys(keys) & _first_occurrence(keys)
        for key in keys[new].tolist():
            if key in self._removed:
                self._removed.discard(key)
            else:
                self._added.add(key)
        self._maybe_compact()
        return new

    def remove(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Remove the pairs; return which were present (a pair repeated within the batch counts once)."""
        keys = pair_keys(left, right)
        present = self._contains_keys(keys) & _first_occurrence(keys)
        for key in keys[present].tolist():
            if key in self._added:
                self._added.discard(key)
            else:
                self._removed.add(key)
        self._maybe_compact()
        return present

    def _maybe_compact(self) -> None:
        if len(self._added) + len(self._removed) > 4096:
            self.compact()

    def compact(self) -> None:
        """Merge pending changes into the sorted key array."""
        if not self._added and not self._removed:
            return
        base = self._base
        if self._removed:
            gone = np.sort(np.fromiter(self._removed, np.int64, len(self._removed)))
            base = np.delete(base, np.searchsorted(base, gone))
        if self._added:
            new = np.sort(np.fromiter(self._added, np.int64, len(self._added)))
            base = np.insert(base, np.searchsorted(base, new), new)
        self._base = base
        self._added.clear()
        self._removed.clear()

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every pair as (left, right) arrays, sorted by left then right."""
        self.compact()
        return self._base >> _SHIFT, self._base & _MASK

    def rights_of(self, lefts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``lefts``, its rights, as (owner position, right) arrays (CSR expanded)."""
        self.compact()
        lefts = np.asarray(lefts, dtype=np.int64)
        start = np.searchsorted(self._base, lefts << _SHIFT)
        stop = np.searchsorted(self._base, (lefts + 1) << _SHIFT)
        counts = stop - start
        owner = np.repeat(np.arange(len(lefts)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return owner, self._base[np.repeat(start, counts) + offsets] & _MASK

    def count_left(self, size: int) -> np.ndarray:
        """How many pairs each left id in [0, size) has."""
        left, _ = self.pairs()
        return np.bincount(left, minlength=size)[:size]

    def count_right(self, size: int) -> np.ndarray:
        """How many pairs each right id in [0, size) has."""
        _, right = self.pairs()
        return np.bincount(right, minlength=size)[:size]


def _first_occurrence(keys: np.ndarray) -> np.ndarray:
    first = np.zeros(len(keys), dtype=bool)
    first[np.unique(keys, return_index=True)[1]] = True
    return first


POST_KINDS = ("original", "repost", "quote")
ORIGINAL, REPOST, QUOTE = range(3)


class SocialState:
    """Everything the platform stores. Recommenders and metrics read it; only the world writes it."""

    def __init__(self, n_users: int, dim: int) -> None:
        self.n_users = n_users
        self.users = Table({
            "name": object, "bio": object, "followers": np.int64, "following": np.int64,
            "posts": np.int64, "stance": np.float64, "belief": np.int8, "last_seen": np.int64,
            "seen_rumour": np.bool_, "seen_correction": np.bool_,
        }, capacity=max(n_users, 1))
        self.users.append(name=np.asarray([f"user{i}" for i in range(n_users)], dtype=object))
        self.user_embedding = np.zeros((n_users, dim), dtype=np.float32)
        self.posts = Table({
            "author": np.int64, "kind": np.int8, "parent": np.int64, "root": np.int64, "source": np.int64,
            "depth": np.int32,
            "content": object, "step": np.int64, "created_s": np.float64, "likes": np.int64,
            "dislikes": np.int64, "reposts": np.int64, "quotes": np.int64, "comments": np.int64,
            "reports": np.int64, "hidden": np.bool_, "topic": object, "stance": np.float64,
        })
        self.post_embedding = np.zeros((64, dim), dtype=np.float32)
        self.comments = Table({
            "post": np.int64, "author": np.int64, "content": object, "step": np.int64,
            "likes": np.int64, "dislikes": np.int64, "boost": np.int64, "treatment": object,
        })
        self.groups = Table({"name": object, "creator": np.int64, "members": np.int64})
        self.messages = Table({"group": np.int64, "author": np.int64, "content": object, "step": np.int64})
        self.notifications = Table({"user": np.int64, "kind": object, "actor": np.int64, "item": np.int64,
                                    "step": np.int64})
        self.follows = PairSet()     # (follower, followee)
        self.mutes = PairSet()       # (user, muted user)
        self.post_likes = PairSet()  # (user, post)
        self.post_dislikes = PairSet()
        self.comment_likes = PairSet()  # (user, comment)
        self.comment_dislikes = PairSet()
        self.reposted = PairSet()    # (user, root post) shared by repost
        self.reports = PairSet()     # (user, post)
        self.members = PairSet()     # (group, user)
        self.question = np.full(n_users, "", dtype=object)
        self.last_results = np.full(n_users, "", dtype=object)

    def store_post_embeddings(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Keep the embeddings of new posts (computed once per post)."""
        if len(ids) == 0:
            return
        needed = int(ids.max()) + 1
        if needed > len(self.post_embedding):
            grown = np.zeros((max(needed, 2 * len(self.post_embedding)), self.post_embedding.shape[1]), np.float32)
            grown[: len(self.post_embedding)] = self.post_embedding
            self.post_embedding = grown
        self.post_embedding[ids] = vectors

    def removed(self, post_ids: np.ndarray) -> np.ndarray:
        """Whether each post is hidden, itself or through the original it reposts."""
        hidden = self.posts["hidden"]
        return hidden[post_ids] | hidden[self.posts["source"][post_ids]]

    def score(self, post_ids: np.ndarray) -> np.ndarray:
        """Reddit-style score of posts: likes minus dislikes."""
        return self.posts["likes"][post_ids] - self.posts["dislikes"][post_ids]

    def comment_score(self, comment_ids: np.ndarray) -> np.ndarray:
        """Score of comments: likes minus dislikes plus any experimental initial vote."""
        c = self.comments
        return c["likes"][comment_ids] - c["dislikes"][comment_ids] + c["boost"][comment_ids]
