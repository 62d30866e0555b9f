"""Offsets in the analysed text -> offsets in the record's own fields. Pure.

Entities and evidence are found in ``Article.text_for_analysis()`` (title, summary, content
joined). Search highlighting and ``newsflow enrich`` need them in the field the reader sees:
``record[field][start:end]``. The locator finds where each field's text sits in the analysed
text instead of re-deriving how it was joined, so it keeps working when the joining changes
(a field left out, or only its tail kept, e.g. content that repeats the summary's lead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsflow.article import Article

__all__ = ["FieldLocator", "article_locator"]


@dataclass(frozen=True)
class _Segment:
    field: str
    start: int  # in the analysed text
    end: int
    shift: int  # field offset = analysed offset + shift


class FieldLocator:
    def __init__(self, text: str, fields: Sequence[tuple[str, str]]) -> None:
        segments: list[_Segment] = []
        cursor = 0
        for name, value in fields:
            stripped = value.strip()
            if not stripped:
                continue
            lead = len(value) - len(value.lstrip())
            at = text.find(stripped, cursor)
            if at >= 0:
                segments.append(_Segment(name, at, at + len(stripped), lead - at))
                cursor = at + len(stripped)
                continue
            # Only a tail of the field made it into the text: align the rest of the text
            # (up to the next field) with the end of the field.
            rest_start = len(text) - len(text[cursor:].lstrip())
            rest = text[rest_start:]
            probe = rest[:80]
            pos = stripped.find(probe) if probe else -1
            while pos >= 0:
                size = len(stripped) - pos
                if rest[:size] == stripped[pos:] and (size == len(rest) or rest[size] == "\n"):
                    segments.append(
                        _Segment(name, rest_start, rest_start + size, lead + pos - rest_start)
                    )
                    cursor = rest_start + size
                    break
                pos = stripped.find(probe, pos + 1)
        self._segments = segments

    def __call__(self, start: int, end: int) -> tuple[str, int, int] | None:
        """The field holding ``[start, end)`` and the offsets in it; None if no one field
        holds all of it."""
        for seg in self._segments:
            if seg.start <= start and end <= seg.end:
                return seg.field, start + seg.shift, end + seg.shift
        return None

    def field_at(self, start: int, end: int) -> tuple[str, int, int]:
        """Like calling the locator, but a span that crosses fields is placed in the field
        where it starts (or the last one before it), its end clamped to that field."""
        found = self(start, end)
        if found is not None:
            return found
        before = [seg for seg in self._segments if seg.start <= start] or self._segments[:1]
        if not before:
            return "text", start, end
        seg = before[-1]
        return seg.field, start + seg.shift, min(end, seg.end) + seg.shift


def article_locator(article: Article, text: str | None = None) -> FieldLocator:
    """Locator for an Article's title, summary and content."""
    analysed = article.text_for_analysis() if text is None else text
    return FieldLocator(
        analysed,
        [("title", article.title), ("summary", article.summary), ("content", article.content)],
    )
