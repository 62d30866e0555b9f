"""Span clean-up: the exact characters of a name inside what NER marked. Pure.

NER spans often carry more than the name: a leading "the" or quote, a possessive, a trailing
"news agency", a dateline's date ("BRUSSELS 1996-08-31"), the next line of a headline, or a
name and its abbreviation in one ("National League for Democracy (NLD"). ``clean_span``
returns the name (or names) inside a span as character offsets into the text.
"""

from __future__ import annotations

import re

__all__ = ["clean_span"]

_LEADING = re.compile(r"[\s\"\u201c\u2018'(\[]+")
_LEADING_THE = re.compile(r"(?:the|The|THE)\s+")
# A possessive (also spaced "Michigan 's", as some tokenised copy has it), then punctuation.
_TRAILING = re.compile(r"\s*(?:['\u2019]s|['\u2019])?[\s.,;:!?\"\u201d\u2019)\]]*$")
_INITIALS = re.compile(r"(?:^|\s)(?:[A-Z]\.)+[A-Z]$")
# Abbreviations whose final dot belongs to the name ("Norwest Corp.", "Salomon Bros.").
_DOTTED = frozenset(
    {"Corp", "Inc", "Co", "Ltd", "Bros", "Jr", "Sr", "St", "Cos", "Plc", "Ave", "Mt", "Ft"}
)
# Tokens that are never the last word of a name: dates and phone numbers ("1996-08-31",
# "212-859-1610": digits with separators), and lower-case words ("Interfax news agency",
# "the CFDT union"), which name-final words are not in English copy.
_TAIL_WORD = re.compile(r"\s+(?:\d+(?:[-/.:]\d+)+|[a-z][\w'-]*)$")
# Month and weekday names NER sometimes pulls into the name after them ("Sept Brent").
_LEADING_DATE = re.compile(
    r"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|January|February|March|April|June"
    r"|July|August|September|October|November|December|Monday|Tuesday|Wednesday|Thursday"
    r"|Friday|Saturday|Sunday)\.?\s+(?=[A-Z])"
)
# A name never runs across a line break or a spaced dash ("UNITED STATES - Prices").
_BREAK = re.compile(r"\s*\n\s*|\s+[-\u2013\u2014]\s+")


def clean_span(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The name(s) inside ``text[start:end]``: none, one, or two for "Name (ABBR)"."""
    start, end = _longest_piece(text, start, end)
    open_at = text.find("(", start, end)
    if open_at >= 0:
        # "Moro National Liberation Front (MNLF" -> the name and its abbreviation.
        return [
            span
            for span in (_trim(text, start, open_at), _trim(text, open_at + 1, end))
            if span is not None
        ]
    close_at = text.find(")", start, end)
    if close_at >= 0:
        start = close_at + 1  # "Leo) Nichols": the part before the bracket is another phrase
    span = _trim(text, start, end)
    return [span] if span is not None else []


def _longest_piece(text: str, start: int, end: int) -> tuple[int, int]:
    pieces: list[tuple[int, int]] = []
    cursor = start
    for brk in _BREAK.finditer(text, start, end):
        pieces.append((cursor, brk.start()))
        cursor = brk.end()
    if not pieces:
        return start, end
    pieces.append((cursor, end))
    return max(pieces, key=lambda p: p[1] - p[0])


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    lead = _LEADING.match(text, start, end)
    if lead:
        start = lead.end()
    the = _LEADING_THE.match(text, start, end)
    if the:
        start = the.end()
    date = _LEADING_DATE.match(text, start, end)
    if date:
        start = date.end()
    while True:
        tail = _TRAILING.search(text, start, end)
        if tail and tail.start() > start:
            end = tail.start()
        word = _TAIL_WORD.search(text, start, end)
        if word is None or not _has_capital(text, start, word.start()):
            break
        end = word.start()
    if text[end : end + 1] == "." and (
        _INITIALS.search(text[start:end]) or _last_word(text, start, end) in _DOTTED
    ):
        end += 1  # "U.S." and "Norwest Corp." keep their last dot
    if start >= end or not _has_capital(text, start, end):
        return None
    return start, end


def _has_capital(text: str, start: int, end: int) -> bool:
    return any(ch.isupper() for ch in text[start:end])


def _last_word(text: str, start: int, end: int) -> str:
    return text[start:end].rsplit(None, 1)[-1] if end > start else ""
