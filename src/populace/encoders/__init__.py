"""Semantic text encoders; each module registers itself in ``populace.embedding.encoders``."""
