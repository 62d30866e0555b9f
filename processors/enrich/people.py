"""People: canonical person names and short forms within one article. Pure.

Titles are stripped ("Chinese Army Commander Li Qiaoming" -> "Li Qiaoming"), an ORG span
shaped like a personal name with a person's context becomes a PERSON, a surname NER found
alone gets the full name from the text, and one-word names merge into the one full name
they belong to. Used by processors.entities.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

from processors.enrich.gazetteer import Gazetteer
from processors.enrich.mentions import Mention
from processors.enrich.phrases import fold

__all__ = [
    "FUNCTION_WORDS",
    "complete_surnames",
    "looks_like_person",
    "merge_short_names",
    "person",
]

@functools.lru_cache(maxsize=4)
def _title_before(titles: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for "<title>, " at the end of the text before a name (compiled once per
    title list, not once per title and mention)."""
    alternation = "|".join(re.escape(t) for t in titles if len(t) > 3)
    return re.compile(rf"\b(?:{alternation}),?\s+$")


_NAME_WORD = re.compile(r"^[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?$")


def _strip_titles(name: str, gz: Gazetteer) -> str:
    """ "Chinese Army Commander Li Qiaoming" -> "Li Qiaoming"; stops at the first non-title."""
    changed = True
    while changed and name:
        changed = False
        first = name.split(" ", 1)[0]
        if gz.nationality(first) or (gz.place(first) and first not in gz.stoplist):
            rest = name[len(first) :].lstrip()
            if rest and any(rest.startswith(t + " ") for t in gz.titles):
                name, changed = rest, True
                continue
        for title in gz.titles:
            if name.startswith(title + " ") and len(name) > len(title) + 1:
                name, changed = name[len(title) + 1 :].lstrip(), True
                break
    return name


def person(m: Mention, gz: Gazetteer) -> Mention | None:
    canonical = _strip_titles(m.canonical, gz)
    if not canonical or canonical in gz.titles:
        return None
    return replace(m, canonical=canonical)


def looks_like_person(text: str, m: Mention, gz: Gazetteer) -> bool:
    """An ORG span shaped like a personal name, with a person's context around it."""
    words = m.text.split()
    if not 2 <= len(words) <= 4 or not all(_NAME_WORD.match(w) for w in words):
        return False
    if any(w in gz.org_words or gz.place(w) or gz.nationality(w) for w in words):
        return False
    before = text[max(0, m.start - 60) : m.start]
    after = text[m.end : m.end + 80]
    # "... Chief of Staff, Oleg Salyukov" / "Admiral Jane Doe"
    if _title_before(gz.titles).search(before):
        return True
    # "Jane Doe, a researcher at ..." / "Jane Doe, who ..."
    if re.match(r",\s+who\b", after):
        return True
    appos = re.match(r",\s+(?:(?:a|an|the|former|senior|chief|its|their)\s+)+(.{0,40})", after)
    if appos:
        words = re.findall(r"[A-Za-z-]+", appos.group(1))[:4]
        if any(fold(w.lower()) in gz.roles for w in words):
            return True
    return bool(re.match(r"\s+(?:said|says|told|stated|explained|added|noted|wrote)\b", after))


def complete_surnames(text: str, mentions: list[Mention], gz: Gazetteer) -> list[Mention]:
    """A one-word PERSON ("Corr") whose full name NER missed ("Anders Corr, founder of")
    gets that full name when the text has exactly one "<Name> <word>" left uncovered."""
    full = {m.canonical for m in mentions if m.label == "PERSON" and " " in m.canonical}
    singles = {
        m.canonical
        for m in mentions
        if m.label == "PERSON"
        and " " not in m.canonical
        and not any(
            name.split()[0] == m.canonical or name.split()[-1] == m.canonical for name in full
        )
    }
    if not singles:
        return mentions
    covered = [(m.start, m.end) for m in mentions]
    added: list[Mention] = []
    for word in sorted(singles):
        found = {
            (m.start(), m.end(), m.group(1))
            for m in re.finditer(rf"\b([A-Z][a-z]+) {re.escape(word)}\b", text)
            if _given_name_like(m.group(1), gz)
            and all(m.end() <= s or m.start() >= e for s, e in covered)
        }
        if len({given for _, _, given in found}) == 1:
            start, end, given = min(found)
            added.append(Mention(text[start:end], "PERSON", start, end, f"{given} {word}"))
    if not added:
        return mentions
    return sorted([*mentions, *added], key=lambda m: (m.start, m.end))


def _given_name_like(word: str, gz: Gazetteer) -> bool:
    return not (
        word in gz.titles
        or word in gz.org_words
        or word in gz.generic_words
        or gz.place(word) is not None
        or gz.nationality(word) is not None
        or word in FUNCTION_WORDS
    )


# Capitalised words that begin sentences and clauses but are not given names.
FUNCTION_WORDS = frozenset(
    {
        "The",
        "A",
        "An",
        "In",
        "On",
        "At",
        "Of",
        "For",
        "With",
        "By",
        "To",
        "From",
        "And",
        "But",
        "Or",
        "As",
        "If",
        "When",
        "While",
        "After",
        "Before",
        "Since",
        "Says",
        "Said",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "He",
        "She",
        "They",
        "We",
        "His",
        "Her",
        "Their",
        "Its",
        "Former",
        "Then",
        "Now",
        "Also",
        "However",
    }
)


def merge_short_names(mentions: list[Mention]) -> list[Mention]:
    """Within one article, "Xi" and "Schuster" become the full name used elsewhere, when
    exactly one full PERSON name starts or ends with that word."""
    full_names = {m.canonical for m in mentions if m.label == "PERSON" and " " in m.canonical}
    by_word: dict[str, set[str]] = {}
    for name in full_names:
        parts = name.split()
        for word in (parts[0], parts[-1]):
            by_word.setdefault(word, set()).add(name)
    merged: list[Mention] = []
    for m in mentions:
        if m.label == "PERSON" and " " not in m.canonical:
            targets = by_word.get(m.canonical, set())
            if len(targets) == 1:
                m = replace(m, canonical=next(iter(targets)))
        merged.append(m)
    return merged
