"""Measurements of the platform: activity, information cascades, stance polarization, herding.

Pure functions of the state, so that a report can recompute them from a checkpoint.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from populace.measures import bimodality
from populace.worlds.social.state import ORIGINAL, SocialState

MetricGroup = Literal["activity", "misinformation", "polarization", "herding"]

DESCRIPTIONS: dict[str, str] = {
    "posts": "posts of every kind (original, repost, quote)",
    "comments": "comments",
    "likes": "likes on posts",
    "reposts": "reposts and quotes",
    "follows": "follow relations",
    "cascade_scale": "distinct users in the repost trees of the tracked topic (default: rumour)",
    "cascade_depth": "deepest repost chain of the tracked topic",
    "cascade_max_breadth": "most posts at one depth of one repost tree of the tracked topic",
    "correction_scale": "distinct users in the repost trees of corrections",
    "reached": "share of users who have seen the tracked topic in their feed",
    "correction_reached": "share of users who have seen a correction in their feed",
    "believing": "share of users who endorsed the rumour and not its correction",
    "spreading": "share of users who reposted or quoted the rumour",
    "debunked": "share of users who endorsed a correction",
    "stance_mean": "mean stance in [-1, 1]",
    "stance_variance": "variance of stances",
    "stance_bimodality": "Sarle's bimodality coefficient of stances (above 5/9 suggests two modes)",
    "stance_extremes": "share of users with |stance| >= 0.75",
    "herd_up_score": "mean score of comments that got an initial up-vote",
    "herd_control_score": "mean score of untreated control comments",
    "herd_down_score": "mean score of comments that got an initial down-vote",
    "herd_disagreement": "mean minority share of later votes on treated comments",
}


def activity(state: SocialState) -> dict[str, float]:
    p = state.posts
    return {
        "posts": float(len(p)), "comments": float(len(state.comments)), "likes": float(p["likes"].sum()),
        "reposts": float(np.count_nonzero(p["kind"] != ORIGINAL)), "follows": float(len(state.follows)),
    }


def cascades(state: SocialState, topic: str) -> dict[str, float]:
    """Scale, depth and maximum breadth of the repost trees rooted at posts of ``topic``."""
    p = state.posts
    members = np.flatnonzero(p["topic"] == topic) if len(p) else np.empty(0, np.int64)
    if len(members) == 0:
        return {"scale": 0.0, "depth": 0.0, "max_breadth": 0.0}
    depth = p["depth"][members].astype(np.int64)
    levels = p["root"][members] * (int(depth.max()) + 1) + depth
    return {
        "scale": float(len(np.unique(p["author"][members]))),
        "depth": float(depth.max()),
        "max_breadth": float(np.unique(levels, return_counts=True)[1].max()),
    }


def misinformation(state: SocialState, topic: str = "rumour") -> dict[str, float]:
    rumour = cascades(state, topic)
    correction = cascades(state, "correction")
    p = state.posts
    shared = (p["topic"] == topic) & (p["kind"] != ORIGINAL) if len(p) else np.zeros(0, bool)
    belief = state.users["belief"]
    n = max(state.n_users, 1)
    return {
        "cascade_scale": rumour["scale"], "cascade_depth": rumour["depth"],
        "cascade_max_breadth": rumour["max_breadth"], "correction_scale": correction["scale"],
        "reached": float(np.count_nonzero(state.users["seen_rumour"]) / n),
        "correction_reached": float(np.count_nonzero(state.users["seen_correction"]) / n),
        "believing": float(np.count_nonzero(belief == 1) / n),
        "spreading": float(len(np.unique(p["author"][shared])) / n),
        "debunked": float(np.count_nonzero(belief == -1) / n),
    }


def polarization(state: SocialState, extreme: float = 0.75) -> dict[str, float]:
    stance = state.users["stance"]
    return {
        "stance_mean": float(stance.mean()) if len(stance) else 0.0,
        "stance_variance": float(stance.var()) if len(stance) else 0.0,
        "stance_bimodality": float(np.nan_to_num(bimodality(stance))),  # metrics stay finite
        "stance_extremes": float(np.mean(np.abs(stance) >= extreme)) if len(stance) else 0.0,
    }


def herding(state: SocialState) -> dict[str, float]:
    """Final scores per treatment group (Muchnik et al. 2013) and how split later raters are."""
    c = state.comments
    out = {}
    for group in ("up", "control", "down"):
        ids = np.flatnonzero(c["treatment"] == group) if len(c) else np.empty(0, np.int64)
        out[f"herd_{group}_score"] = float(state.comment_score(ids).mean()) if len(ids) else 0.0
    treated = np.flatnonzero(c["treatment"] != "") if len(c) else np.empty(0, np.int64)
    votes = c["likes"][treated] + c["dislikes"][treated]
    rated = votes > 0
    minority = np.minimum(c["likes"][treated], c["dislikes"][treated])[rated] / votes[rated]
    out["herd_disagreement"] = float(minority.mean()) if rated.any() else 0.0
    return out


GROUPS = {"activity": activity, "misinformation": misinformation, "polarization": polarization, "herding": herding}


def measure(state: SocialState, groups: list[str], topic: str = "rumour") -> dict[str, float]:
    """The metrics of the named groups (activity, misinformation, polarization, herding)."""
    out: dict[str, float] = {}
    for group in groups:
        out.update(misinformation(state, topic) if group == "misinformation" else GROUPS[group](state))
    return out
