"""Text encoders: texts -> L2-normalised vectors, for recommenders, similarity minds and memory.

``encoders.get(name)`` returns an encoder class; built-ins are discovered from this module and
``populace.encoders`` (when present). ``hashing`` needs nothing but NumPy and is deterministic:
it is for tests and for runs where lexical overlap is enough; a semantic encoder (e.g. MiniLM)
is registered by its own module and imported only when used.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from populace.registry import Registry

_TOKEN = re.compile(r"[a-z0-9]+")


class Encoder(ABC):
    """Encodes texts into unit vectors of a fixed dimension ``dim``."""

    name: str = ""
    dim: int = 0

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A float32 array of shape ``(len(texts), dim)`` whose rows have unit length (or are 0)."""


class HashingEncoder(Encoder):
    """Bag of words and word bigrams hashed into ``dim`` buckets with signs; cosine = overlap."""

    name = "hashing"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _TOKEN.findall(text.lower())
            for token in [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]:
                h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


encoders: Registry[type[Encoder]] = Registry("encoder", discover=("populace.encoders",))
encoders.add("hashing", HashingEncoder)
