"""Entities: NER mentions -> normalised, counted Entity records.

The core is ``extract_entities(text, mentions, gazetteer)``: it takes raw mentions (from
spaCy, or written by hand in tests) and applies, in this order, trimming ("the", possessives),
label fixes from the gazetteer and curated lists (a place NER called PRODUCT, an outlet it
called PERSON, a person it called ORG), canonical names (titles stripped, countries named,
short names merged into the full name used elsewhere in the article), places NER missed,
and finally counting per (label, canonical). Offsets index into ``text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from newsflow.article import Entity
from processors.gazetteer import Gazetteer
from processors.phrases import fold, tokenize

__all__ = ["KEPT_LABELS", "Mention", "extract_entities", "mentions_from_doc", "resolve_mentions"]

# Numeric and temporal labels are not entities an analyst filters on.
KEPT_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "FAC", "PRODUCT", "LAW", "WORK_OF_ART"}
)
# Labels NER gets wrong for place names often enough that the gazetteer may overrule them.
_RELABEL_AS_PLACE = frozenset({"PRODUCT", "ORG", "FAC", "WORK_OF_ART", "EVENT", "LAW", "NORP"})
_LEADING_THE = re.compile(r"^(?:the|The)\s+")
_TRAILING = re.compile(r"(?:['\u2019]s|['\u2019])?[\s.,;:!?\"\u201d\u2019)\]]*$")
_LEADING = re.compile(r"^[\s\"\u201c\u2018(\[]+")
_INITIALS = re.compile(r"(?:^|\s)(?:[A-Z]\.)+[A-Z]$")
_NAME_WORD = re.compile(r"^[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?$")


@dataclass(frozen=True)
class Mention:
    """One occurrence of an entity. ``canonical``/``country_code`` are set by resolution."""

    text: str
    label: str
    start: int
    end: int
    canonical: str = ""
    country_code: str | None = None


def mentions_from_doc(doc: Any) -> list[Mention]:
    """Raw mentions of a spaCy Doc (duck-typed: the core never imports spaCy)."""
    return [Mention(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]


def extract_entities(text: str, mentions: Iterable[Mention], gazetteer: Gazetteer) -> list[Entity]:
    return count_entities(resolve_mentions(text, mentions, gazetteer))


def resolve_mentions(text: str, mentions: Iterable[Mention], gazetteer: Gazetteer) -> list[Mention]:
    """Every mention, trimmed, relabelled and with its canonical name, in text order."""
    resolved: list[Mention] = []
    for raw in mentions:
        if raw.label not in KEPT_LABELS:
            continue
        mention = _trim(text, raw)
        if mention is None:
            continue
        mention = _resolve(text, mention, gazetteer)
        if mention is not None:
            resolved.append(mention)
    resolved.extend(_missed_places(text, resolved, gazetteer))
    resolved.sort(key=lambda m: (m.start, m.end))
    resolved = _complete_surnames(text, resolved, gazetteer)
    return _merge_short_names(resolved)


def count_entities(mentions: Sequence[Mention]) -> list[Entity]:
    """One Entity per (label, canonical): first mention's text and offsets, and the count."""
    by_key: dict[tuple[str, str], Entity] = {}
    for m in mentions:
        key = (m.label, m.canonical)
        known = by_key.get(key)
        if known is None:
            by_key[key] = Entity(
                text=m.text,
                label=m.label,
                canonical=m.canonical,
                count=1,
                start=m.start,
                end=m.end,
                country_code=m.country_code,
            )
        else:
            known.count += 1
    return sorted(by_key.values(), key=lambda e: e.start)


# -- steps ------------------------------------------------------------------------------------


def _trim(text: str, m: Mention) -> Mention | None:
    start, end = m.start, m.end
    span = text[start:end]
    lead = _LEADING.match(span)
    if lead:
        start += lead.end()
    the = _LEADING_THE.match(text[start:end])
    if the:
        start += the.end()
    tail = _TRAILING.search(text[start:end])
    if tail and tail.start() > 0:
        end = start + tail.start()
        if _INITIALS.search(text[start:end]) and text[end : end + 1] == ".":
            end += 1  # "U.S." keeps its last dot
    surface = text[start:end]
    if not surface or not any(ch.isalpha() for ch in surface):
        return None
    return replace(m, text=surface, start=start, end=end, canonical=surface)


def _resolve(text: str, m: Mention, gz: Gazetteer) -> Mention | None:
    surface = m.text
    if surface in gz.outlets or surface in gz.military_orgs:
        return replace(m, label="ORG")
    if surface in gz.alliance_names:
        return replace(m, label="ORG", canonical=gz.alliance_names[surface])
    weapon = _weapon(m, gz)
    if weapon is not None:
        return weapon
    code = gz.nationality(surface)
    if code is not None and m.label != "PERSON":
        return replace(m, label="NORP", canonical=_singular(surface, gz), country_code=code)
    place = gz.place(surface)
    if place is not None and _may_be_place(m.label, surface, place.kind, gz):
        code = place.country_code if place.kind == "country" else None
        return replace(m, label=place.label, canonical=place.name, country_code=code)
    if m.label == "PERSON":
        return _person(m, gz)
    if m.label == "ORG":
        if surface in gz.generic_words:
            return None
        if _looks_like_person(text, m, gz):
            return _person(replace(m, label="PERSON"), gz)
    return m


def _may_be_place(label: str, surface: str, kind: str, gz: Gazetteer) -> bool:
    if label in ("GPE", "LOC"):
        return True
    if surface in gz.stoplist:
        return False
    if label == "PERSON":
        # A one-word "person" named like a country, capital or region is that place.
        return kind in ("country", "capital", "region")
    return label in _RELABEL_AS_PLACE or label == "FAC"


def _weapon(m: Mention, gz: Gazetteer) -> Mention | None:
    if m.label not in ("PERSON", "ORG", "PRODUCT", "FAC", "WORK_OF_ART", "GPE"):
        return None
    words = m.text.split()
    for n in range(len(words), 0, -1):
        head = " ".join(words[:n])
        if head in gz.weapons:
            return replace(
                m, text=head, end=m.start + len(head), label="PRODUCT", canonical=gz.weapons[head]
            )
    return None


def _singular(surface: str, gz: Gazetteer) -> str:
    return surface if surface in gz.nationalities else surface[:-1]


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


def _person(m: Mention, gz: Gazetteer) -> Mention | None:
    canonical = _strip_titles(m.canonical, gz)
    if not canonical or canonical in gz.titles:
        return None
    return replace(m, canonical=canonical)


def _looks_like_person(text: str, m: Mention, gz: Gazetteer) -> bool:
    """An ORG span shaped like a personal name, with a person's context around it."""
    words = m.text.split()
    if not 2 <= len(words) <= 4 or not all(_NAME_WORD.match(w) for w in words):
        return False
    if any(w in gz.org_words or gz.place(w) or gz.nationality(w) for w in words):
        return False
    before = text[max(0, m.start - 60) : m.start]
    after = text[m.end : m.end + 80]
    # "... Chief of Staff, Oleg Salyukov" / "Admiral Jane Doe"
    if any(re.search(rf"\b{re.escape(t)},?\s+$", before) for t in gz.titles if len(t) > 3):
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


def _missed_places(text: str, found: Sequence[Mention], gz: Gazetteer) -> list[Mention]:
    taken = bytearray(len(text))  # 1 where a mention already covers the character
    for m in found:
        taken[m.start : m.end] = b"\x01" * (m.end - m.start)

    def free(start: int, end: int) -> bool:
        return not any(taken[start:end])

    tokens = tokenize(text)
    added: list[Mention] = []
    for start, end, place in gz.missed_places(text, tokens):
        if free(start, end):
            surface = text[start:end]
            trimmed = _trim(text, Mention(surface, place.label, start, end))
            if trimmed is not None:
                code = place.country_code if place.kind == "country" else None
                added.append(replace(trimmed, canonical=place.name, country_code=code))
                taken[start:end] = b"\x01" * (end - start)
    for start, end, code in gz.missed_nationalities(text, tokens):
        if free(start, end):
            group = _trim(text, Mention(text[start:end], "NORP", start, end))
            if group is not None:
                added.append(
                    replace(group, canonical=_singular(group.text, gz), country_code=code)
                )
                taken[start:end] = b"\x01" * (end - start)
    return added


def _complete_surnames(text: str, mentions: list[Mention], gz: Gazetteer) -> list[Mention]:
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
        or word in _FUNCTION_WORDS
    )


# Capitalised words that begin sentences and clauses but are not given names.
_FUNCTION_WORDS = frozenset(
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


def _merge_short_names(mentions: list[Mention]) -> list[Mention]:
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
