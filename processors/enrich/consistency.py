"""One article, one reading per name: document-level label consistency and every occurrence.

NER labels each occurrence from its own few words of context, so one name gets different
labels within one article ("Wang" PERSON once, ORG five times) and some of its occurrences
none at all. Within an article a name almost always means one thing, so:

- ``unify_labels``: each surface string takes the label most of its occurrences have (a tie
  keeps each occurrence's own); a one-word name that is the first or last word of exactly
  one person named in full in the article is that person.
- ``propagate``: every further occurrence of a found surface string, and of the surname of a
  person named in full, becomes a mention with that entity's label and canonical name.

Pure; measured on CoNLL-2003 (bench/ner, processors/README.md "Entities").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from processors.enrich.mentions import Mention

__all__ = ["propagate", "unify_labels"]

_PERSON = "PERSON"
# Labels a surname's other occurrences may carry when NER misread them (not places: a
# country or city that shares a name with a person in the same article stays a place).
_SURNAME_RELABEL = frozenset({"ORG", "PRODUCT", "WORK_OF_ART", "EVENT", "FAC", "NORP", "LAW"})


def _surnames(mentions: Sequence[Mention], *, first_too: bool = False) -> dict[str, str]:
    """Last word (with ``first_too`` also the first: "Wang" of "Wang Dan", family name
    first) -> full name, for words that belong to exactly one person named here."""
    owners: dict[str, set[str]] = {}
    for m in mentions:
        if m.label == _PERSON and " " in m.canonical:
            words = m.canonical.split()
            for word in {words[0], words[-1]} if first_too else {words[-1]}:
                owners.setdefault(word, set()).add(m.canonical)
    return {word: next(iter(names)) for word, names in owners.items() if len(names) == 1}


def unify_labels(mentions: Sequence[Mention]) -> list[Mention]:
    # A name NER found on its own and labelled ORG may be a given name or a family name
    # written first; propagation (which adds unlabelled words) trusts surnames only.
    surnames = _surnames(mentions, first_too=True)
    fixed: list[Mention] = []
    for m in mentions:
        full = surnames.get(m.text)
        if full is not None and m.label in _SURNAME_RELABEL:
            m = replace(m, label=_PERSON, canonical=full, country_code=None)
        fixed.append(m)
    votes: dict[str, Counter[str]] = {}
    first: dict[tuple[str, str], Mention] = {}
    for m in fixed:
        votes.setdefault(m.text, Counter())[m.label] += 1
        first.setdefault((m.text, m.label), m)
    unified: list[Mention] = []
    for m in fixed:
        counts = votes[m.text]
        label, n = counts.most_common(1)[0]
        if label != m.label and n > counts[m.label]:
            model = first[(m.text, label)]
            m = replace(m, label=label, canonical=model.canonical, country_code=model.country_code)
        unified.append(m)
    return unified


def _whole_word(text: str, start: int, end: int) -> bool:
    """Not part of a longer word: "Iran" not inside "Iranian", "New York" not inside
    "New York-based"."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before in "-_" or after.isalnum() or after in "-_")


def propagate(
    text: str, mentions: Sequence[Mention], *, skip: Callable[[str], bool]
) -> list[Mention]:
    """``mentions`` plus the occurrences NER missed of the names it found (and of the
    surnames of people it found in full). ``skip(surface)`` vetoes names that are also
    ordinary words ("May", "Bill")."""
    models: dict[str, Mention] = {}
    for m in mentions:
        models.setdefault(m.text, m)
    for word, full in _surnames(mentions).items():
        if word not in models:
            models[word] = Mention(word, _PERSON, 0, 0, canonical=full)
    names = [s for s in models if len(s) > 1 and not skip(s)]
    if not names:
        return list(mentions)
    taken = bytearray(len(text))
    for m in mentions:
        taken[m.start : m.end] = b"\x01" * (m.end - m.start)
    added: list[Mention] = []
    # Longest first, so that "New York" is taken before "York". str.find, not one regex:
    # each article's names differ, and compiling an alternation per article costs more
    # than the search.
    for name in sorted(names, key=len, reverse=True):
        start = text.find(name)
        while start >= 0:
            end = start + len(name)
            if _whole_word(text, start, end) and not any(taken[start:end]):
                added.append(replace(models[name], start=start, end=end))
                taken[start:end] = b"\x01" * (end - start)
            start = text.find(name, end)
    if not added:
        return list(mentions)
    return sorted([*mentions, *added], key=lambda m: (m.start, m.end))
