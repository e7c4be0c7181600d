"""The social-media world (``type: social``): users, posts, comments, votes, follows, groups,
feeds and pluggable recommenders, in Twitter or Reddit mode."""

from populace.worlds.social.recommenders import FeedView, Recommender, RecommenderParams, recommenders
from populace.worlds.social.state import PairSet, SocialState, Table
from populace.worlds.social.world import SocialConfig, SocialWorld

__all__ = [
    "FeedView", "PairSet", "Recommender", "RecommenderParams", "SocialConfig", "SocialState", "SocialWorld",
    "Table", "recommenders",
]
