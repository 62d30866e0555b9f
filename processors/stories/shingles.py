"""Text normalisation for stories: wire furniture off, words, content terms, shingles.

Syndicated copies of one article differ in their furniture, not in their story: a short
label before the headline ("UPDATE: ..."), a wire or byline line before the text, a
copyright or "follow us" line after it. Those lines would make a copy look less like its
original (MinHash) and add words that say nothing about the event (clustering), so they are
taken off by shape, never by matching known strings:

- title: a prefix of one to three capitalised words before a colon, when a real title
  follows it;
- body, first line: a short line without a sentence end (a byline, an agency name, a bare
  dateline), or the dateline/agency part before a dash ("CITY (Agency) — ..."), when it is
  short and capitalised or bracketed;
- body, last lines: a short line that carries boilerplate vocabulary (copyright, rights
  reserved, follow/subscribe, distributed by, ...), the words every outlet uses for it.

Everything here is pure and deterministic (no hashing with Python's salted ``hash``).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "STOPWORDS",
    "Prepared",
    "clean_body",
    "clean_title",
    "content_terms",
    "gram_hashes",
    "is_dateline",
    "normalise",
    "prepare",
    "shingles",
    "words",
]

# Function words and the news verbs of attribution: they carry no event. Numbers stay (the
# "23 pirates" of one capture against the "26" of another).
STOPWORDS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and",
    "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
    "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
    "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her",
    "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not",
    "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out",
    "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
    "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
    "your", "yours", "yourself", "yourselves", "s", "t", "dont", "didnt", "doesnt", "isnt",
    "wasnt", "werent", "hasnt", "havent", "hadnt", "wont", "wouldnt", "shouldnt", "couldnt",
    "cant", "im", "ive", "youre", "theyre", "thats", "theres", "ll", "re", "ve", "m", "d",
    "said", "says", "say", "saying", "told", "tell", "according", "reported",
    "reports", "report", "reporting", "mr", "mrs", "ms", "one", "two", "new", "also", "just",
    "like", "get", "got", "go", "going", "went", "may", "might", "must", "us", "year", "years",
    "day", "days", "week", "weeks", "time", "today", "yesterday", "tomorrow", "monday",
    "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "morning", "afternoon",
    "evening", "night", "last", "first", "next",
))

_WORD = re.compile(r"\w+(?:\.\w+)*")
_POSSESSIVE_ANY = re.compile(r"'s\b")

# A title label: one to three capitalised words (or all caps) before a colon.
_TITLE_LABEL = re.compile(
    r"^\s*((?:[A-Z][A-Za-z]*|[A-Z]+)(?:\s+(?:[A-Z][A-Za-z]*|[A-Z]+)){0,2})\s*:\s+"
)
# A dateline or agency before a dash at the start of the text: "WIRE REPORT —",
# "(Agency) —", "CITY, Country (AP) -".
_LEAD_DASH = re.compile(r"^\s*([^\n\u2014\u2013]{1,60}?)\s+[\u2014\u2013-]{1,2}\s+(?=\S)")
_SENTENCE_END = re.compile(r"[.!?\"\u201d\u2019)]\s*$")
_BOILERPLATE = re.compile(
    r"copyright|\u00a9|\(c\)\s*\d{4}|all rights reserved|rights reserved|follow us|"
    r"subscribe|newsletter|sign up|click here|read more|distributed by|wire service|"
    r"not been edited|reporting by|editing by|contributed to this report|"
    r"download (?:our|the) app|for more (?:news|stories|updates|breaking)|more breaking news|"
    r"may not be (?:published|reproduced)",
    re.IGNORECASE,
)
_DATELINE = re.compile(
    r"^\W*(?:(?:posted|updated|published|last updated)\W+)?"
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\W+)?"
    r"(?:\d{1,2}(?:st|nd|rd|th)?\W+)?"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\W+"
    r"(?:\d{1,2}(?:st|nd|rd|th)?\W+)?\d{4}\b",
    re.IGNORECASE,
)

_GRAM_MIX = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: folds word hashes into a gram
_SHIFT_32 = np.uint64(32)
_LEAD_LINE_MAX_WORDS = 6
_LEAD_PREFIX_MAX_WORDS = 6
_TAIL_LINE_MAX_WORDS = 25


def normalise(text: str) -> str:
    """NFKC (full-width forms, ligatures) and one kind of apostrophe."""
    return unicodedata.normalize("NFKC", text).replace("\u2019", "'")


def clean_title(title: str) -> str:
    """The title without a short label before a colon ("BREAKING: ...", "Update: ...").

    Only when at least three words follow it, so "Tornado: What Now" keeps its head."""
    title = normalise(title).strip()
    m = _TITLE_LABEL.match(title)
    if m and len(title[m.end():].split()) >= 3:
        return title[m.end():].strip()
    return title


def _is_label_prefix(prefix: str) -> bool:
    """A dateline or agency: bracketed, or every word capitalised (or a number/punctuation)."""
    tokens = prefix.split()
    if not tokens or len(tokens) > _LEAD_PREFIX_MAX_WORDS:
        return False
    if "(" in prefix and ")" in prefix:
        return True
    return all(t[:1].isupper() or not t[:1].isalpha() for t in tokens)


def _body_lines(text: str) -> list[str]:
    """Non-empty lines, without up to two trailing boilerplate lines ("Copyright ...")."""
    lines = [line.strip() for line in normalise(text).split("\n")]
    lines = [line for line in lines if line]
    for _ in range(2):
        if lines and len(lines[-1].split()) <= _TAIL_LINE_MAX_WORDS and _BOILERPLATE.search(
            lines[-1]
        ):
            lines.pop()
    return lines


def _strip_lead(lines: list[str]) -> list[str]:
    """Without a leading wire/byline line, or the dateline/agency part before a dash."""
    if len(lines) > 1:
        first = lines[0]
        if len(first.split()) <= _LEAD_LINE_MAX_WORDS and not _SENTENCE_END.search(first):
            return lines[1:]  # "By Staff Writers", "(Agency) —", a bare date
    if lines:
        m = _LEAD_DASH.match(lines[0])
        if m and _is_label_prefix(m.group(1)):
            return [lines[0][m.end():], *lines[1:]]
    return lines


def clean_body(text: str, *, lead: bool = True) -> str:
    """The body without trailing boilerplate lines and (``lead``) a leading wire/byline line.

    Copy detection takes both off; clustering keeps the lead line (a sub-headline such as
    "Ten dead in southern Iran quake" has the same shape as a byline and says much)."""
    lines = _body_lines(text)
    return "\n".join(_strip_lead(lines) if lead else lines)


@dataclass(frozen=True)
class Prepared:
    """An article's words, tokenised once for both jobs.

    ``title_words``/``body_words``: what clustering reads (the title as printed, the body
    without trailing boilerplate). ``copy_title_words``/``copy_body_words``: what copy
    detection reads (title label and lead wire line off as well)."""

    title_words: list[str]
    body_words: list[str]
    copy_title_words: list[str]
    copy_body_words: list[str]
    dateline_title: bool


def prepare(title: str, text: str) -> Prepared:
    raw_title = normalise(title).strip()
    head = clean_title(raw_title)
    title_words = words(raw_title)
    copy_title_words = title_words if head == raw_title else words(head)
    lines = _body_lines(text)
    body_words = words("\n".join(lines))
    stripped = _strip_lead(lines)
    if stripped is lines:
        copy_body_words = body_words
    else:
        first = len(words(lines[0]))
        kept = words(stripped[0]) if len(stripped) == len(lines) else []
        copy_body_words = kept + body_words[first:]
    return Prepared(title_words, body_words, copy_title_words, copy_body_words,
                    is_dateline(head))


def is_dateline(title: str) -> bool:
    """True for a title that is only a date/time line ("Friday, June 7, 2013", "Posted: Nov
    27, 2005 8:20 AM ET"): it says nothing about the story, so it must not make two
    articles look alike."""
    head = clean_title(title)
    if not _DATELINE.match(head):
        return False
    rest = _DATELINE.sub("", head, count=1)
    letters = [w for w in re.findall(r"[A-Za-z]+", rest) if len(w) > 2]
    # What remains after the date may be a time and a zone, "Last Updated", another date.
    return len(letters) <= 6 and not any(w.islower() and len(w) > 3 for w in letters[:1])


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits; "U.S.", "it's" and "5.6" stay one token);
    a possessive 's is dropped, so "Klitschko's" is "klitschko"."""
    text = _POSSESSIVE_ANY.sub("", normalise(text).lower()).replace("'", "")
    return _WORD.findall(text)


def content_terms(tokens: Sequence[str]) -> list[str]:
    """Tokens that can say what a story is about: no stop words, no one-letter tokens."""
    return [t for t in tokens if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]


def shingles(tokens: Sequence[str], size: int) -> list[int]:
    """Word ``size``-grams as distinct 32-bit hashes, ascending (MinHash input; their order
    does not matter to a minimum).

    Each word is hashed once (CRC-32, stable across processes) and a gram's hash combines
    its words' hashes; datasketch mixes every input hash again (MurmurHash3 finalizer)
    before permuting. A text shorter than ``size`` words is one gram of all its words."""
    if not tokens:
        return []
    distinct: list[int] = np.unique(gram_hashes(tokens, size)).tolist()
    return distinct


def gram_hashes(tokens: Sequence[str], size: int) -> NDArray[np.uint32]:
    """The 32-bit hash of every word ``size``-gram of ``tokens``, in text order, repeats
    included (``shingles`` is their distinct values). A minimum over them needs no
    de-duplication, so the fingerprint takes these directly."""
    if not tokens:
        return np.zeros(0, dtype=np.uint32)
    # CRC-32 of each word, computed afresh: cheaper than a cache look-up (a cache of a
    # stream's vocabulary is large, and its entries are seldom in the CPU's caches).
    crc32 = zlib.crc32
    hashes = np.fromiter([crc32(t.encode("utf-8")) for t in tokens], dtype=np.uint64,
                         count=len(tokens))
    if len(tokens) < size:
        grams = np.zeros(1, dtype=np.uint64)
        for h in hashes:
            grams = grams * _GRAM_MIX + h
    else:
        n = len(tokens) - size + 1
        grams = hashes[:n].copy()
        for j in range(1, size):  # in place: the same wrapping uint64 arithmetic
            grams *= _GRAM_MIX
            grams += hashes[j : j + n]
    grams ^= grams >> _SHIFT_32
    # Truncation to uint32 keeps the low 32 bits: the same as ``& 0xFFFFFFFF``.
    return grams.astype(np.uint32)
