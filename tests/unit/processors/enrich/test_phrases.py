"""Phrase matching and tokens: the indexed matcher against a brute-force one, and the
whole-text tokens split by sentence against tokenising each sentence."""

from __future__ import annotations

import random
import re

import pytest

from processors.enrich.phrases import (
    _GAP_RE,
    PhraseMatch,
    PhraseMatcher,
    Token,
    sentence_spans,
    split_tokens,
    tokenize,
)

# First words shared by many phrases whose second words differ in case, plurals and
# prefixes: what the second-word index has to tell apart.
PHRASES = [
    "the Kremlin", "the West", "the west bank", "the Pentagon", "the US", "the uss*",
    "military exercise", "military drill*", "military aid", "military", "Military Police",
    "South China Sea", "South Korea", "South", "south* wind", "New York", "New York City",
    "new york", "in talks", "in", "nuclear weap*", "nuclear", "US", "U.S. Army", "China's navy",
    "joint patrol", "joint patrols over", "long-range bomber", "long range missile",
]

TEXTS = [
    "The Kremlin said the West and the west bank talks, not the Pentagon, were the US aim.",
    "Military exercises and military drilling near South Korea; the South China Sea. South wind",
    "NEW YORK - New York City police and new york's mayor held in talks about nuclear weapons.",
    "The U.S. Army joined China's navy in joint patrols over the sea with long-range bombers.",
    "US us Us the us-led the USA military aid, Military Police; long range missiles.",
    "in in the the South South Korea's military military exercise",
]


def _every_candidate(
    matcher: PhraseMatcher[str], text: str, tokens: list[Token], longest_only: bool
) -> list[PhraseMatch[str]]:
    """The matcher's specification: at each token, every phrase whose first word matches it
    is tried in turn (``entries`` order: longest first among exact, then among prefix first
    words), each of its words and gaps checked."""
    matches: list[PhraseMatch[str]] = []
    i = 0
    while i < len(tokens):
        step = 1
        for words, phrase, payload in matcher._candidates(tokens[i].text).entries:
            k = len(words)
            if i + k > len(tokens):
                continue
            if all(words[j].matches(tokens[i + j].text) for j in range(k)) and all(
                _GAP_RE.fullmatch(text, tokens[i + j - 1].end, tokens[i + j].start)
                for j in range(1, k)
            ):
                matches.append(PhraseMatch(phrase, payload, tokens[i].start, tokens[i + k - 1].end))
                if longest_only:
                    step = k
                    break
        i += step
    return matches


def _key(m: PhraseMatch[str]) -> tuple[int, int, str]:  # what a match is
    return m.start, m.end, m.phrase


@pytest.mark.parametrize("plurals", [True, False])
@pytest.mark.parametrize("longest_only", [True, False])
def test_matcher_finds_what_trying_every_candidate_finds(plurals: bool, longest_only: bool) -> None:
    matcher = PhraseMatcher(((p, p) for p in PHRASES), plurals=plurals)
    rng = random.Random(7)
    words = " ".join(TEXTS).split()
    texts = [*TEXTS, *(" ".join(rng.choices(words, k=40)) for _ in range(50))]
    for text in texts:
        tokens = tokenize(text)
        got = matcher.find(text, tokens, longest_only=longest_only)
        want = _every_candidate(matcher, text, tokens, longest_only)
        assert [_key(m) for m in got] == [_key(m) for m in want], text


def test_second_word_decides_among_phrases_with_one_first_word() -> None:
    matcher = PhraseMatcher(((p, p) for p in PHRASES), plurals=True)
    text = "the west bank and the US and the USSR and the Kremlin's walls"
    found = [m.phrase for m in matcher.find(text, tokenize(text))]
    # "the West" needs its capital; "the uss*" (a prefix, any case) matches "USSR" only;
    # the one-word "US" is found inside "the US" too (all matches, not the longest).
    assert found == ["the west bank", "the US", "US", "the uss*", "the Kremlin"]


def test_a_phrase_gap_must_be_a_phrase_gap_after_the_second_word_too() -> None:
    matcher = PhraseMatcher([("military aid", "x")], plurals=True)
    assert matcher.find("military aid", tokenize("military aid"))
    assert not matcher.find("military. Aid", tokenize("military. Aid"))


TRICKY = (
    "Mr. Smith met U.S. officials in Washington D.C. on Jan. 5. Prices rose 3.5. Then "
    "China's envoy left!  \"Why?\" asked Dr. J. Doe.\nBREAKING: Russia's army (RU) moved\n\n"
    "The e.g. case ends here... Next one? Yes. 'Quoted.' Last line's end"
)


@pytest.mark.parametrize("text", [TRICKY, *TEXTS, "", "One", "a. B. c.\nD"])
def test_whole_text_tokens_split_by_sentence_equal_tokenising_each_sentence(text: str) -> None:
    spans = sentence_spans(text)
    assert split_tokens(tokenize(text), spans) == [tokenize(text, s, e) for s, e in spans]


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    text = "Mr. Smith met Dr. J. Doe in the U.S. Army base. He left! Was it Dr? Yes."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Mr. Smith met Dr. J. Doe in the U.S. Army base.",
        "He left!",
        "Was it Dr?",
        "Yes.",
    ]


def test_tokens_that_start_no_phrase_share_one_cache_entry() -> None:
    # The cache lives as long as the worker: one object per such token would be hundreds
    # of thousands of objects for the garbage collector to visit.
    matcher = PhraseMatcher(((p, p) for p in PHRASES), plurals=True)
    text = "zebras quietly graze"
    assert matcher.find(text, tokenize(text)) == []
    nothing = {id(matcher._candidates(t.text)) for t in tokenize(text)}
    assert len(nothing) == 1
    assert matcher._candidates("the") is not matcher._candidates("zebras")


def _spans_searching_the_whole_sentence(text: str) -> list[tuple[int, int]]:
    """sentence_spans as it was before it bounded its look-back: the word before each dot
    searched from the sentence's start. The reference the bounded version must equal."""
    from processors.enrich import phrases

    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        cursor = line.start()
        for m in phrases._SENTENCE_END_RE.finditer(text, line.start(), line.end()):
            if m.group().startswith("."):
                before = phrases._LAST_WORD_RE.search(text, cursor, m.start())
                word = before.group(1).lower() if before else ""
                if word in phrases._ABBREVIATIONS or len(word) == 1:
                    continue
            phrases._append_trimmed(text, cursor, m.end(), spans)
            cursor = m.end()
        phrases._append_trimmed(text, cursor, line.end(), spans)
    return spans


def test_bounded_look_back_splits_as_searching_the_whole_sentence() -> None:
    rng = random.Random(11)
    words = ["U.S.", "u.k.", "e.g.", "Mr.", "Jan.", "J.", "a.", "Smith.", "Army", "said.",
             "x" * 70 + ".", "a.b." * 20, "ok" * 40 + "." + "u.s.", "St.", "no.", "42.",
             "Ltd.", "3.5.", "\"Why?\"", "end!", "(RU).", "Dr", "\n"]
    texts = [TRICKY, *TEXTS]
    for _ in range(300):
        texts.append(" ".join(rng.choice(words) if rng.random() < 0.6 else
                              rng.choice(["The", "Navy", "Kyiv", "officials", "7"])
                              for _ in range(rng.randint(1, 60))))
    for text in texts:
        assert sentence_spans(text) == _spans_searching_the_whole_sentence(text), text


@pytest.mark.parametrize("longest_only", [True, False])
def test_find_spans_are_find_as_tuples_with_warm_pick_cache(longest_only: bool) -> None:
    # The second pass reads every (token, next token) pick from the cache the first filled.
    matcher = PhraseMatcher(((p, p) for p in PHRASES), plurals=True)
    for _ in range(2):
        for text in [*TEXTS, TRICKY]:
            tokens = tokenize(text)
            spans = matcher.find_spans(text, tokens, longest_only=longest_only)
            want = _every_candidate(matcher, text, tokens, longest_only)
            assert spans == [(m.phrase, m.payload, m.start, m.end) for m in want], text
            assert matcher.find(text, tokens, longest_only=longest_only) == want
    assert matcher._pick_cache  # the cache was used
