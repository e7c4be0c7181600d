"""Whether a text is its author's own words: copies, loops, echoes of the prompt."""

from __future__ import annotations

import pytest

from populace import originality
from populace.worlds.social.actions import ACTIONS

BIO = "Journaliste, Le Monde. La déconnexion des élites. Comment Internet dérange l'ordre établi (Arènes, 2015)"


def test_words_fold_case_and_unicode_forms() -> None:
    assert originality.normalise("Ｃafé  DÉJÀ-vu!") == originality.normalise("café déjà vu") == "café déjà vu"


@pytest.mark.parametrize(("text", "copy"), [
    (BIO, True),
    ("La déconnexion des élites. Comment Internet dérange l'ordre", True),  # cut short
    ("la DÉCONNEXION des élites, comment internet dérange l'ordre établi", True),  # case and punctuation
    ("Amazon ouvre un magasin à New York ? J'en doute, rien de confirmé.", False),
    ("Le Monde", True),  # a two-word text made of the bio's words
    ("Monde", True),  # one word: found among the bio's words
    ("Bonjour", False),
])
def test_copies_by_shared_word_pairs(text: str, copy: bool) -> None:
    assert originality.copies(text, BIO) is copy


def test_overlap_is_the_share_of_word_pairs_found_in_the_source() -> None:
    # pairs of "a b c d e": ab bc cd de; the source holds ab and bc -> 2 of 4
    assert originality.overlap("a b c d e", "x a b c y") == 0.5
    assert originality.overlap("", "anything") == 0.0


@pytest.mark.parametrize(("text", "reason"), [
    ("L'\\u00e9l\\u00e9mentaire de la vie", "contains an escape sequence"),
    ('he said \\"no\\"', "contains an escape sequence"),
    ('{"content": "hello there"}', "contains JSON"),
    ("<|im_start|>assistant hello", "contains a role tag"),
    ("I chose to create_post about the store", "contains prompt text"),
    ("I did create_post: hello", "contains prompt text"),
    ("[post 3] @user_5 (1h ago): new york", "contains prompt text"),
    ("Write something new, in your own words.", "contains prompt text"),
    ("Amazon in New York? I'll believe it when I see it.", None),
    ('She said "no" and left — café closed.', None),
])
def test_echoes_of_the_prompt(text: str, reason: str | None) -> None:
    assert originality.echo(text) == reason


def test_loops_need_a_three_word_run_three_times() -> None:
    assert originality.loops("Obsess with us. Obsess with us. Obsess with us. Obsess")
    assert not originality.loops("Obsess with us. Obsess with us.")
    assert not originality.loops("I love it, I really love this city and I love the people.")


def test_wordless_texts_have_no_runs_of_letters_or_too_few() -> None:
    for text in ["18:51:00.547:16:66:06", "123456", "🌟🌟🌟", "", "1 2 3 a"]:
        assert originality.wordless(text), text
    for text in ["Agreed", "2015 was a year", "https://t.co/xRqGR8uDfB"]:
        assert not originality.wordless(text), text


def test_judge_names_the_first_reason_in_order() -> None:
    assert originality.judge("Fresh bread at the market today", [BIO], ["Rain again in Lyon"], ["Big game"]) is None
    assert originality.judge(BIO, [BIO], [BIO]) == originality.COPIES_PERSONA  # persona before earlier
    assert originality.judge("Rain again in Lyon!", [BIO], ["rain again in lyon"]) == originality.REPEATS_EARLIER
    assert originality.judge("amazon plans a store", [], [], ["[post 0] @a: amazon plans a store in NY"]) \
        == originality.COPIES_SEEN
    assert originality.judge('{"content": "x"} ' + BIO, [BIO]) == "contains JSON"  # echoes first
    assert originality.judge("123456", [], ["123456"]) == originality.NO_WORDS


def test_persona_texts_skip_missing_and_one_word_values() -> None:
    row = {"name": "user_5", "description": float("nan"), "bio": "", "job": "Host, journalist", "age": 41}
    assert originality.persona_texts(row) == ["Host, journalist"]


def test_writing_arguments_are_text_with_room_for_a_sentence() -> None:
    writing = originality.writing_args(ACTIONS)
    assert writing["create_post"] == ("content",) and writing["create_comment"] == ("content",)
    assert writing["interview"] == ("answer",)
    assert "create_group" not in writing and "like_post" not in writing  # a group's name is a label; no text
