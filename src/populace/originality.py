"""Whether a text is its author's own words: words at all (not digits or symbols), not a copy of the
persona, of the author's earlier texts or of what they were shown, not a loop, and free of the
prompt's machinery (escape sequences, JSON of the answer, chat role tags, the prompt's own phrases).

Small language models copy what their prompt holds: a 135M-parameter model asked to write a post
returns its persona's bio, the post it was shown or its own last post, and echoes the escapes it
sees. The generative mind checks every text its model writes with :func:`judge` before the world
sees it; :mod:`populace.analysis.text` measures the same things over a run's trace.

Copying is measured on words (Unicode-normalised, case-folded runs of letters and digits): the
share of a text's word pairs (its single word, for a one-word text) that also occur in the source.
At :data:`COPY_SHARE` or more the text is a copy: rewording keeps fewer pairs than that, and a
copy cut short or with a word changed keeps more.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

from populace.actions import ActionSpace

#: a text that shares at least this share of its word pairs with a source copies it
COPY_SHARE = 0.6
#: a text in which some run of three words occurs this many times goes round in a loop
LOOP_TIMES = 3
#: a text is compared with at most this many of its author's texts before it
EARLIER = 50
#: a text argument with room for at least this many characters (or unbounded) is writing; a shorter
#: one is a label (a place, a group's name), which may well repeat
WRITING_LENGTH = 120

NO_WORDS = "has no words"
COPIES_PERSONA = "copies the persona"
REPEATS_EARLIER = "repeats an earlier text"
COPIES_SEEN = "copies a text it was shown"
LOOPS = "repeats itself"

#: (reason, pattern) of the prompt's machinery that has no place in a post
ECHOES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("contains an escape sequence", re.compile(r"\\(?:u[0-9a-fA-F]{4}|[\"nrt\\/])")),
    ("contains JSON", re.compile(r"\{\s*\"\w+\"\s*:|\"(?:action|args|content)\"\s*:")),
    ("contains a role tag", re.compile(
        r"<\|[a-z_]+\|>|^\s*\[?(?:system|user|assistant)\]?:|\[(?:system|user|assistant)\]", re.I | re.M)),
    ("contains prompt text", re.compile(
        r"\b(?:I chose to|You are agent \d+|Now you see|You remember|Answer with JSON|Your plan for this hour"
        r"|What you have concluded|in your own words)\b|\bI did [a-z]+_[a-z_]+|\[post \d+\] @", re.I)),
)
#: the reasons :func:`judge` gives, in the order it checks them
REASONS = (*(reason for reason, _ in ECHOES), NO_WORDS, LOOPS, COPIES_PERSONA, REPEATS_EARLIER, COPIES_SEEN)
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The text's words: Unicode-normalised (NFKC), case-folded runs of letters and digits."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def normalise(text: str) -> str:
    """The text as its words joined by spaces: what two texts that say the same thing share."""
    return " ".join(words(text))


def pairs(text: str | list[str]) -> set[tuple[str, ...]]:
    """The text's adjacent word pairs; its single word for a one-word text."""
    w = words(text) if isinstance(text, str) else text
    return {(w[0],)} if len(w) == 1 else set(pairwise(w))


def overlap(text: str, source: str | set[tuple[str, ...]]) -> float:
    """The share of ``text``'s word pairs that also occur in ``source`` (0 for a text without words)."""
    mine = pairs(text)
    if not mine:
        return 0.0
    theirs = source if isinstance(source, set) else pairs(source)
    if len(mine) == 1 and len(next(iter(mine))) == 1:  # one word: look for it among the source's words
        theirs = {(w,) for pair in theirs for w in pair}
    return len(mine & theirs) / len(mine)


def copies(text: str, source: str | set[tuple[str, ...]]) -> bool:
    """Whether ``text`` is a copy of ``source`` (whole, cut short or barely changed)."""
    return overlap(text, source) >= COPY_SHARE


def echo(text: str) -> str | None:
    """The reason the text carries the prompt's machinery (escapes, JSON, role tags, prompt phrases), or None."""
    for reason, pattern in ECHOES:
        if pattern.search(text):
            return reason
    return None


def wordless(text: str) -> bool:
    """Whether the text says nothing in words: no run of characters holds a letter, or fewer than
    half do (``18:51:00.547``, ``123456``, a row of emoji)."""
    tokens = words(text)
    lettered = sum(any(c.isalpha() for c in t) for t in tokens)
    return lettered == 0 or lettered < len(tokens) / 2


def loops(text: str) -> bool:
    """Whether the text goes round in a loop (``obsess with us. obsess with us. obsess with...``)."""
    w = words(text)
    runs = Counter(zip(w, w[1:], w[2:], strict=False))
    return bool(runs) and max(runs.values()) >= LOOP_TIMES


def persona_texts(row: Mapping[str, Any]) -> list[str]:
    """The persona's texts an agent could copy: its string values of two words or more (a missing
    value, ``nan`` or empty, is none)."""
    out = []
    for value in row.values():
        if isinstance(value, float) and math.isnan(value):
            continue
        if isinstance(value, str) and len(words(value)) >= 2:
            out.append(value)
    return out


def judge(text: str, persona: Iterable[str] = (), earlier: Iterable[str] = (), seen: Iterable[str] = ()) -> str | None:
    """Why ``text`` is not its author's own words (one of :data:`REASONS`), or None when it is.

    ``persona`` are the author's persona texts, ``earlier`` the texts they wrote before, ``seen``
    what they were shown when they wrote it."""
    found = echo(text)
    if found is not None:
        return found
    if wordless(text):
        return NO_WORDS
    if loops(text):
        return LOOPS
    for sources, reason in ((persona, COPIES_PERSONA), (earlier, REPEATS_EARLIER), (seen, COPIES_SEEN)):
        if any(copies(text, source) for source in sources):
            return reason
    return None


def writing_args(space: ActionSpace) -> dict[str, tuple[str, ...]]:
    """The text arguments of each action that are writing (room for :data:`WRITING_LENGTH`
    characters or more), for the actions that have any: ``{"create_post": ("content",), ...}``."""
    out = {}
    for spec in space:
        names = tuple(name for name, arg in spec.args.items() if arg.kind == "str"
                      and (arg.max_length is None or arg.max_length >= WRITING_LENGTH))
        if names:
            out[spec.name] = names
    return out
