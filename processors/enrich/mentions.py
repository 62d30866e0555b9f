"""The raw material of entities: one occurrence of a name, as NER or a rule found it. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Mention", "mentions_from_doc"]


@dataclass(frozen=True)
class Mention:
    """One occurrence of an entity; offsets index into the analysed text.

    ``canonical``/``country_code`` are set by resolution (processors.enrich.entities)."""

    text: str
    label: str
    start: int
    end: int
    canonical: str = ""
    country_code: str | None = None


def mentions_from_doc(doc: Any) -> list[Mention]:
    """Raw mentions of a spaCy Doc (duck-typed: the core never imports spaCy)."""
    return [Mention(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
