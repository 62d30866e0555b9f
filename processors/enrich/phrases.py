"""Tokens, sentences and phrase matching: the text primitives of the gazetteer and the tagger.

Pure and dependency-free on purpose: the tagger must run without spaCy (re-tagging stored
articles, the "tags alone" benchmark), and its offsets must be plain character offsets into
the text it was given.

Phrase syntax (used in taxonomy.yaml and the curated lists):

- words are separated by spaces; "long-range" is the same as "long range";
- a word written in lower case matches any case; a word with a capital matches that case only
  ("US" never matches the pronoun "us");
- plurals and possessives are folded ("exercise" matches "exercises", "China" matches
  "China's"), nothing more: other forms are written out or use a prefix;
- a word ending in ``*`` is a prefix ("sanction*" matches "sanctioned", "sanctioning"); the
  prefix must have at least three letters.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = [
    "PhraseMatch",
    "PhraseMatcher",
    "Token",
    "fold",
    "sentence_spans",
    "split_tokens",
    "tokenize",
    "validate_phrase",
]

T = TypeVar("T")

# "U.S." and "3.5" stay one token; a possessive "'s" stays on its word; hyphens split.
_TOKEN_RE = re.compile(r"\w+(?:\.\w+)+\.?|\w+(?:['\u2019]s\b)?")
# Between the words of one phrase: spaces, hyphens, dashes, slashes and quotes, nothing that
# ends a clause.
_GAP_RE = re.compile(r"[\s\-\u2013\u2014/'\u2019\"\u201c\u201d]{1,3}")
_POSSESSIVE = ("'s", "\u2019s")
MIN_PREFIX = 3


class Token(NamedTuple):
    text: str
    start: int
    end: int


_new_tuple = tuple.__new__


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    # Every token of every article: tuple.__new__ builds the same Token without the
    # NamedTuple's Python-level __new__ (0.058 -> 0.045 ms per feed-sized article).
    return [
        _new_tuple(Token, (m.group(), m.start(), m.end()))
        for m in _TOKEN_RE.finditer(text, start, len(text) if end is None else end)
    ]


def split_tokens(
    tokens: Sequence[Token], spans: Sequence[tuple[int, int]]
) -> list[Sequence[Token]]:
    """The tokens of the whole text (``tokenize(text)``) that lie in each span, in order.

    For the spans of ``sentence_spans(text)`` this is ``tokenize(text, start, end)`` of each
    sentence without tokenising the text a second time: a sentence ends before whitespace
    or a line break and starts after one, and no token holds either, so no token crosses a
    sentence's edge (tests/unit/processors/enrich/test_phrases.py checks the two agree).
    """
    starts = [t.start for t in tokens]
    out: list[Sequence[Token]] = []
    for start, end in spans:
        lo = bisect.bisect_left(starts, start)
        hi = bisect.bisect_left(starts, end, lo)
        out.append(tokens[lo:hi])
    return out


@functools.lru_cache(maxsize=1 << 16)  # hot: every token of every sentence, few distinct words
def fold(word: str, plurals: bool = True) -> str:
    """Fold possessives (and, with plurals, regular plurals) so that cue and text meet
    half-way. Deliberately weak (no stemming): "drilling" must not match "drill".
    """
    if word.endswith(_POSSESSIVE):
        word = word[:-2]
    if word.endswith("."):  # "U.S." keeps its dots inside, the final one is punctuation-like
        word = word[:-1]
    if not plurals:
        return word
    n = len(word)
    if n > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if n > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if n > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "SS", "US", "IS")):
        return word[:-1]
    return word


class _WordPattern(NamedTuple):
    text: str  # folded; lower-cased unless case-sensitive
    prefix: bool
    case_sensitive: bool
    plurals: bool

    def matches(self, token: str) -> bool:
        word = token if self.case_sensitive else token.lower()
        if self.prefix:
            return word.startswith(self.text)
        return fold(word, self.plurals) == self.text


def _compile_word(word: str, plurals: bool) -> _WordPattern:
    prefix = word.endswith("*")
    core = word[:-1] if prefix else word
    case_sensitive = any(ch.isupper() for ch in core)
    if not case_sensitive:
        core = core.lower()
    if prefix:
        if len(core) < MIN_PREFIX:
            raise ValueError(f"prefix {word!r} is shorter than {MIN_PREFIX} letters")
        return _WordPattern(core, True, case_sensitive, plurals)
    return _WordPattern(fold(core, plurals), False, case_sensitive, plurals)


def _split_phrase(phrase: str) -> list[str]:
    # Same token boundaries as the text, but keep the "*" of prefixes.
    words = re.findall(r"\w+(?:\.\w+)+\.?\*?|\w+(?:['\u2019]s\b)?\*?", phrase)
    if not words:
        raise ValueError(f"phrase {phrase!r} has no words")
    return words


def validate_phrase(phrase: str) -> None:
    """Raise ValueError if ``phrase`` is not a valid phrase (empty, prefix too short)."""
    for word in _split_phrase(phrase):
        _compile_word(word, True)


@dataclass(frozen=True)
class PhraseMatch(Generic[T]):
    phrase: str
    payload: T
    start: int
    end: int


class PhraseMatcher(Generic[T]):
    """Finds phrases in token lists in linear time: candidates are indexed by first word,
    and those of one first word by their second (``_Candidates``).

    With ``plurals=False`` only possessives are folded (names: "Philippines" must not match
    "Philippine").
    """

    def __init__(self, phrases: Iterable[tuple[str, T]], *, plurals: bool = True) -> None:
        self._plurals = plurals
        self._exact: dict[str, list[tuple[list[_WordPattern], str, T]]] = defaultdict(list)
        self._prefix: dict[str, list[tuple[list[_WordPattern], str, T]]] = defaultdict(list)
        count = 0
        for phrase, payload in phrases:
            words = [_compile_word(w, plurals) for w in _split_phrase(phrase)]
            entry = (words, phrase, payload)
            first = words[0]
            key = first.text[:MIN_PREFIX] if first.prefix else first.text
            (self._prefix if first.prefix else self._exact)[key].append(entry)
            count += 1
        for table in (self._exact, self._prefix):
            for entries in table.values():
                entries.sort(key=lambda e: -len(e[0]))  # longest phrase first
        self.size = count
        # token -> its candidate phrases. News repeats its words, and with a few thousand
        # cues building the list was a fifth of the tagger's time; the vocabulary a worker
        # sees is bounded in practice, and the cache is cleared when it grows past its cap.
        self._candidate_cache: dict[str, _Candidates[T]] = {}
        # (token, next token) -> ``_Candidates.pick``'s answer, for the tokens that start
        # phrases of two words or more ("the", "in", "South"): the same pairs recur, and
        # picking (two folds, a merge, a sort) was most of the matcher's time after the
        # candidates themselves. Cleared with the candidate cache, at the same cap.
        self._pick_cache: dict[tuple[str, str], Sequence[int]] = {}

    def _candidates(self, token: str) -> _Candidates[T]:
        cached = self._candidate_cache.get(token)
        if cached is not None:
            return cached
        lower = token.lower()
        plurals = self._plurals
        found = self._exact.get(fold(token, plurals), []) + self._prefix.get(token[:MIN_PREFIX], [])
        if lower != token:
            found += self._exact.get(fold(lower, plurals), []) + self._prefix.get(
                lower[:MIN_PREFIX], []
            )
        # Only the phrases whose first word matches this token: whether it does depends on
        # the token alone, so it is decided once per distinct token, not at every occurrence
        # (a prefix key such as "mil" lists every "mil*" cue).
        found = [entry for entry in found if entry[0][0].matches(token)]
        candidates = _Candidates(found, plurals) if found else _NO_CANDIDATES
        if len(self._candidate_cache) >= _CANDIDATE_CACHE_MAX:
            self._candidate_cache.clear()
            self._pick_cache.clear()
        self._candidate_cache[token] = candidates
        return candidates

    def find(
        self, text: str, tokens: Sequence[Token], *, longest_only: bool = False
    ) -> list[PhraseMatch[T]]:
        """All matches (or, with longest_only, non-overlapping longest ones, left to right)."""
        return [
            PhraseMatch(phrase, payload, start, end)
            for phrase, payload, start, end in self.find_spans(
                text, tokens, longest_only=longest_only
            )
        ]

    def find_spans(
        self, text: str, tokens: Sequence[Token], *, longest_only: bool = False
    ) -> list[tuple[str, T, int, int]]:
        """``find``'s matches as plain (phrase, payload, start, end) tuples: the hot callers
        (the tagger, the gazetteer) read them once, and building a frozen dataclass per
        match cost them more than the tuple (3 % of the tagger's time)."""
        matches: list[tuple[str, T, int, int]] = []
        cache = self._candidate_cache
        picks = self._pick_cache
        i = 0
        n = len(tokens)
        while i < n:
            best_len = 0
            word = tokens[i].text
            candidates = cache.get(word) or self._candidates(word)
            entries = candidates.entries
            if not entries:  # most tokens start no phrase
                i += 1
                continue
            picked: Sequence[int] | None
            if i + 1 == n or not candidates.longer:
                picked = candidates.single
            else:
                pair = (word, tokens[i + 1].text)
                picked = picks.get(pair)
                if picked is None:
                    if len(picks) >= _CANDIDATE_CACHE_MAX:
                        picks.clear()
                    picked = picks[pair] = candidates.pick(pair[1])
            for n_entry in picked:
                words, phrase, payload = entries[n_entry]
                k = len(words)
                if i + k > n or (longest_only and k <= best_len):
                    continue
                if k == 1 or _matches_at(words, text, tokens, i):
                    matches.append((phrase, payload, tokens[i].start, tokens[i + k - 1].end))
                    best_len = max(best_len, k)
                    if longest_only:
                        break
            i += best_len if (longest_only and best_len) else 1
        return matches


_CANDIDATE_CACHE_MAX = 200_000


def _matches_at(words: list[_WordPattern], text: str, tokens: Sequence[Token], i: int) -> bool:
    """Do ``words`` (two or more) match the tokens from ``i`` on, with only phrase gaps
    between them? The first two words are known to match (``_Candidates.pick`` kept only
    those), the gaps are not."""
    if not _GAP_RE.fullmatch(text, tokens[i].end, tokens[i + 1].start):
        return False
    for j in range(2, len(words)):
        token = tokens[i + j]
        if not words[j].matches(token.text):
            return False
        if not _GAP_RE.fullmatch(text, tokens[i + j - 1].end, token.start):
            return False
    return True


_Entry = tuple[list[_WordPattern], str, T]


class _Candidates(Generic[T]):
    """The phrases whose first word matches one token, indexed by their second word.

    A common first word ("the", "in", "South") starts dozens of phrases and the next token
    rules out nearly all of them, so the next token's folded forms are looked up instead of
    every phrase's second word being tried in turn. ``pick`` returns the phrases' positions
    in ``entries`` (longest phrase first), the order in which they were tried before.

    One is cached per distinct token (up to ``_CANDIDATE_CACHE_MAX`` per matcher, for the
    life of the worker), so it holds as few objects the garbage collector must visit as it
    can: tuples of ints (which the collector stops tracking), no empty dicts, and one shared
    instance for the tokens that start no phrase (most of them).
    """

    __slots__ = ("by_exact", "by_lower", "entries", "longer", "plurals", "prefixed", "single")

    def __init__(self, entries: Sequence[_Entry[T]], plurals: bool) -> None:
        self.entries = tuple(entries)
        self.plurals = plurals
        single: list[int] = []  # one-word phrases: nothing more to check
        prefixed: list[int] = []  # second word a prefix ("nuclear weap*"): tried
        by_exact: dict[str, list[int]] = {}  # case-sensitive second word, folded
        by_lower: dict[str, list[int]] = {}  # any-case second word, folded
        for n, (words, _, _) in enumerate(entries):
            if len(words) == 1:
                single.append(n)
                continue
            second = words[1]
            if second.prefix:
                prefixed.append(n)
            else:
                table = by_exact if second.case_sensitive else by_lower
                table.setdefault(second.text, []).append(n)
        self.single = tuple(single)
        self.prefixed = tuple(prefixed)
        self.by_exact = {k: tuple(v) for k, v in by_exact.items()} if by_exact else None
        self.by_lower = {k: tuple(v) for k, v in by_lower.items()} if by_lower else None
        # Phrases of two words or more: without them ``pick`` is ``single`` whatever follows.
        self.longer = bool(prefixed or by_exact or by_lower)

    def pick(self, following: str) -> Sequence[int]:
        """Positions of the one-word phrases and of those whose second word matches
        ``following`` (what ``_WordPattern.matches`` would say), in entry order."""
        if not self.longer:
            return self.single
        found = list(self.single)
        entries = self.entries
        for n in self.prefixed:
            if entries[n][0][1].matches(following):
                found.append(n)
        if self.by_exact:
            found.extend(self.by_exact.get(fold(following, self.plurals), ()))
        if self.by_lower:
            found.extend(self.by_lower.get(fold(following.lower(), self.plurals), ()))
        found.sort()
        return tuple(found)


#: The candidates of every token that starts no phrase.
_NO_CANDIDATES: _Candidates[Any] = _Candidates((), plurals=True)


# Abbreviations whose final period does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "sgt",
        "adm",
        "cmdr",
        "brig",
        "sen",
        "rep",
        "gov",
        "st",
        "jr",
        "sr",
        "vs",
        "etc",
        "no",
        "inc",
        "corp",
        "ltd",
        "co",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
    ]
)
_LAST_WORD_RE = re.compile(r"(\w+(?:\.\w+)*)$")
# How far back sentence_spans looks for the word before a dot (far longer than any of
# _ABBREVIATIONS).
_WORD_LOOKBACK = 64
_SENTENCE_END_RE = re.compile(r"[.!?]+[\"\u201d\u2019')\]]*(?=\s+[\"\u201c\u2018(\[]?[A-Z0-9])")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets: line breaks always split; so do . ! ? before a capital,
    except after common abbreviations and initials. Good enough for wire copy and feeds."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[:end]):
        if line.end() <= start:
            continue
        line_start = max(line.start(), start)
        cursor = line_start
        for m in _SENTENCE_END_RE.finditer(text, line_start, line.end()):
            if m.group().startswith("."):
                # The word before the dot; endpos reads the text as slicing it would. Only
                # the last _WORD_LOOKBACK characters are searched (not the sentence from its
                # start, which cost the tagger 7 % of its time): a word cut there is longer
                # than any abbreviation and not one letter, so the decision is the same.
                before = _LAST_WORD_RE.search(
                    text, max(cursor, m.start() - _WORD_LOOKBACK), m.start())
                word = before.group(1).lower() if before else ""
                if word in _ABBREVIATIONS or len(word) == 1:
                    continue
            _append_trimmed(text, cursor, m.end(), spans)
            cursor = m.end()
        _append_trimmed(text, cursor, line.end(), spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
