"""Entities: NER mentions -> normalised, counted Entity records with every mention.

The core is ``extract_entities(text, mentions, gazetteer)``: it takes raw mentions (from
spaCy, or written by hand in tests) and applies, in this order, span clean-up
(processors.enrich.spans), label fixes from the gazetteer and curated lists (a place NER called
PRODUCT, an outlet it called PERSON, a person it called ORG), "of" chains ("Organisation for
Security and Cooperation" + "in Europe"), canonical names (titles stripped, countries named,
short names merged into the full name used elsewhere in the article), places and
organisations NER missed, one label per name across the article and every further occurrence
of a found name (processors.enrich.consistency), and finally grouping per (label, canonical).
Offsets index into ``text``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from newsflow.article import Entity
from newsflow.article import Mention as FieldMention
from processors.enrich.consistency import propagate, unify_labels
from processors.enrich.gazetteer import Gazetteer
from processors.enrich.mentions import Mention, mentions_from_doc
from processors.enrich.people import (
    FUNCTION_WORDS,
    complete_surnames,
    looks_like_person,
    merge_short_names,
    person,
)
from processors.enrich.phrases import Token, tokenize
from processors.enrich.spans import clean_span

__all__ = [
    "KEPT_LABELS",
    "EntityOptions",
    "Locate",
    "Mention",
    "count_entities",
    "extract_entities",
    "mentions_from_doc",
    "resolve_mentions",
]

# Numeric and temporal labels are not entities an analyst filters on.
KEPT_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "FAC", "PRODUCT", "LAW", "WORK_OF_ART"}
)
# Labels NER gets wrong for place names often enough that the gazetteer may overrule them.
_RELABEL_AS_PLACE = frozenset({"PRODUCT", "ORG", "FAC", "WORK_OF_ART", "EVENT", "LAW", "NORP"})

#: Maps a mention's offsets in the analysed text to (field, start, end) in the record.
Locate = Callable[[int, int], "tuple[str, int, int] | None"]


@dataclass(frozen=True)
class EntityOptions:
    """The article-level steps, switchable so that bench/ner can measure each one."""

    known_organisations: bool = True  # gazetteer organisations relabel spans and are added
    of_chains: bool = True  # "Ministry of Defence" + "of Ukraine" is one name
    unify_labels: bool = True  # one label per name across the article
    propagate: bool = True  # every further occurrence of a found name is a mention


DEFAULT_OPTIONS = EntityOptions()


def extract_entities(
    text: str,
    mentions: Iterable[Mention],
    gazetteer: Gazetteer,
    *,
    locate: Locate | None = None,
    options: EntityOptions = DEFAULT_OPTIONS,
    tokens: Sequence[Token] | None = None,
) -> list[Entity]:
    return count_entities(resolve_mentions(text, mentions, gazetteer, options, tokens), locate)


def resolve_mentions(
    text: str,
    mentions: Iterable[Mention],
    gazetteer: Gazetteer,
    options: EntityOptions = DEFAULT_OPTIONS,
    tokens: Sequence[Token] | None = None,
) -> list[Mention]:
    """Every mention, trimmed, relabelled and with its canonical name, in text order.
    ``tokens``: ``tokenize(text)`` when the caller has it (the tagger reads the same
    tokens), else the text is tokenised here."""
    gz = gazetteer
    resolved: list[Mention] = []
    for raw in mentions:
        if raw.label not in KEPT_LABELS:
            continue
        for start, end in clean_span(text, raw.start, raw.end):
            surface = text[start:end]
            mention = Mention(surface, raw.label, start, end, surface)
            fixed = _resolve(text, mention, gz, options)
            if fixed is not None:
                resolved.append(fixed)
    resolved.sort(key=lambda m: (m.start, m.end))
    if options.of_chains:
        resolved = _join_of_chains(text, resolved, gz)
    resolved.extend(_missed_names(text, resolved, gz, options, tokens))
    resolved.sort(key=lambda m: (m.start, m.end))
    resolved = complete_surnames(text, resolved, gz)
    resolved = merge_short_names(resolved)
    if options.unify_labels:
        resolved = unify_labels(resolved)
    if options.propagate:
        resolved = propagate(text, resolved, skip=lambda s: _common_word(s, gz))
    return resolved


def _whole_text(start: int, end: int) -> tuple[str, int, int]:
    return "text", start, end


def count_entities(mentions: Sequence[Mention], locate: Locate | None = None) -> list[Entity]:
    """One Entity per (label, canonical): the first mention's text and offsets, the count,
    and every mention located in its field (``locate``; by default field "text", the
    offsets into the analysed text itself)."""
    where = locate or _whole_text
    by_key: dict[tuple[str, str], Entity] = {}
    for m in mentions:
        key = (m.label, m.canonical)
        known = by_key.get(key)
        if known is None:
            known = by_key[key] = Entity(
                text=m.text,
                label=m.label,
                canonical=m.canonical,
                count=0,
                start=m.start,
                end=m.end,
                country_code=m.country_code,
            )
        known.count += 1
        located = where(m.start, m.end)
        if located is not None:
            field, start, end = located
            known.mentions.append(FieldMention(field=field, start=start, end=end))
    return sorted(by_key.values(), key=lambda e: e.start)


# -- steps ------------------------------------------------------------------------------------


def _resolve(text: str, m: Mention, gz: Gazetteer, options: EntityOptions) -> Mention | None:
    surface = m.text
    if surface in gz.outlets or surface in gz.military_orgs:
        return replace(m, label="ORG")
    if options.known_organisations and surface in gz.organisations:
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
        return replace(m, label=place.label, canonical=place.name, country_code=place.country_code)
    if m.label == "PERSON":
        return person(m, gz)
    if m.label == "ORG":
        if surface in gz.generic_words:
            return None
        if looks_like_person(text, m, gz):
            return person(replace(m, label="PERSON"), gz)
    return m


def _may_be_place(label: str, surface: str, kind: str, gz: Gazetteer) -> bool:
    if label in ("GPE", "LOC"):
        return True
    if kind == "subdivision":  # locates a place NER found; names no other span a place
        return False
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


def _missed_names(
    text: str,
    found: Sequence[Mention],
    gz: Gazetteer,
    options: EntityOptions,
    tokens: Sequence[Token] | None = None,
) -> list[Mention]:
    """Places, nationalities and (with the option) well-known organisations NER missed."""
    taken = bytearray(len(text))  # 1 where a mention already covers the character
    for m in found:
        taken[m.start : m.end] = b"\x01" * (m.end - m.start)
    if tokens is None:
        tokens = tokenize(text)
    added: list[Mention] = []

    def add(start: int, end: int, label: str, code: str | None, canonical: str | None) -> None:
        if any(taken[start:end]):
            return
        for s, e in clean_span(text, start, end):
            surface = text[s:e]
            name = canonical if canonical is not None else _singular(surface, gz)
            added.append(Mention(surface, label, s, e, name, code))
            taken[s:e] = b"\x01" * (e - s)

    for start, end, kind, payload in gz.missed_names(text, tokens):
        if kind == "place":
            add(start, end, payload.label, payload.country_code, payload.name)
        elif kind == "nationality":
            add(start, end, "NORP", payload, None)
        elif options.known_organisations:
            add(start, end, "ORG", None, payload)
    return added


_CHAIN_LINK = re.compile(r" (?:of|for|in) (?:the )?")
# Institutions named "<...> <word> of <place>" ("Union of Kurdistan", "Bank of Japan"); not
# company suffixes: "Kia Motor Corp of South Korea" is a company and where it is from.
_INSTITUTION_WORDS = frozenset(
    {
        "Union",
        "Council",
        "Ministry",
        "Department",
        "Bank",
        "University",
        "Institute",
        "Academy",
        "Court",
        "Party",
        "Front",
        "Movement",
        "Organisation",
        "Organization",
        "Federation",
        "League",
        "Congress",
        "Assembly",
        "Commission",
        "Committee",
        "Parliament",
        "Office",
        "Agency",
        "Authority",
        "Association",
        "Confederation",
        "Republic",
    }
)


def _join_of_chains(text: str, mentions: list[Mention], gz: Gazetteer) -> list[Mention]:
    """Institution names that NER cut at a preposition become one ORG again:
    "Patriotic Union of" + "Kurdistan", "Organisation for Security and Cooperation" +
    "in Europe", "Ministry of Defence" + "of Ukraine". Only for an ORG that ends in an
    institution word ("Union", "Council") followed by "of", or whose name has the
    "<Ministry|Organisation|...> of/for ..." shape."""
    joined: list[Mention] = []
    i = 0
    while i < len(mentions):
        m = mentions[i]
        nxt = mentions[i + 1] if i + 1 < len(mentions) else None
        if m.label == "ORG" and nxt is not None and nxt.label in ("GPE", "LOC", "ORG", "NORP"):
            gap = text[m.end : nxt.start]
            link = _CHAIN_LINK.fullmatch(gap)
            last = m.text.rsplit(None, 1)[-1]
            # "Patriotic Union" + "of Kurdistan": an institution word, then "of" a place.
            dangling = link is not None and " of " in gap and last in _INSTITUTION_WORDS
            # "Organisation for Security and Cooperation" + "in Europe": a name of the
            # "<institution word> of/for ..." shape; "... in Kyiv" (GPE) is where it is.
            of_name = (
                link is not None
                and (nxt.label != "GPE" or " in " not in gap)
                and _has_of_shape(m.text, gz)
            )
            if dangling or of_name:
                surface = text[m.start : nxt.end]
                joined.append(replace(m, text=surface, end=nxt.end, canonical=surface))
                i += 2
                continue
        joined.append(m)
        i += 1
    return joined


def _has_of_shape(name: str, gz: Gazetteer) -> bool:
    words = name.split()
    return any(w in gz.org_words and nxt in ("of", "for") for w, nxt in itertools.pairwise(words))


def _common_word(surface: str, gz: Gazetteer) -> bool:
    """Names that are also ordinary capitalised words: never propagated on their own."""
    return (
        surface in gz.stoplist
        or surface in FUNCTION_WORDS
        or surface in gz.titles
        or surface in gz.generic_words
        or surface.isdigit()
    )
