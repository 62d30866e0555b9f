"""A guide revision: corpus items re-read under readings the guide settled after the corpus
was labelled.

When the guide settles a class of case it had left open (LABELLING.md, "Readings settled by
the guide revision"), the corpus items that class touches are found and read twice,
independently, under the new reading: ``labels/revision/first.jsonl`` (the readers who
searched the whole pool for the class) and ``labels/revision/second.jsonl`` (blind readers
of the items found, shuffled). When a reading is reworded after the items were read, the
items under it are read again by two fresh readers, whose readings replace both lines. Each
line is ``{"id", "readings", "tags"}``: the reading ids the item falls under and its tags by
the whole guide.

A revision changes only what its readings decide: for an item both readings hold, a tag one
of the item's readings concerns (``READINGS``) takes the value both readings give it; where
the two readings differ on it, or the tag is one no reading of the item concerns, the settled
label stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from newsflow.errors import ConfigError
from processors.training.jsonl import load_jsonl

__all__ = ["READINGS", "REVISION_DIR", "Reading", "Revision", "load_revision", "revise"]

#: The folder under ``labels/`` a revision's two readings live in.
REVISION_DIR = "revision"

#: Each reading of the guide revision (LABELLING.md, by its id) -> the tags it decides.
READINGS: dict[str, frozenset[str]] = {
    reading: frozenset(tags.split())
    for reading, tags in {
        "join-debate": "military-cooperation",
        "alliance-exit": "military-cooperation nuclear-weapons",
        "port-call": "military-cooperation",
        "intel-one-way": "military-cooperation military-aid",
        "licensed-production": "military-cooperation",
        "invited-troops": "military-cooperation territorial-incursion",
        "own-production": "military-cooperation drone-warfare russia-ukraine-war",
        "peacetime-transfer": "military-aid",
        "defence-credit": "military-aid",
        "police": "military-aid military-cooperation",
        "training-mission": "military-aid military-cooperation",
        "donated-in-combat": "military-aid",
        "frozen-assets": "sanctions military-aid",
        "side-clause-drill": "military-exercise",
        "warning-deployment": "military-exercise military-cooperation",
        "adiz-counts": "military-exercise taiwan-strait",
        "war-games": "military-exercise",
        "stray-strike": "territorial-incursion",
        "attempted-crossing": "territorial-incursion",
        "sanctions-relief": "sanctions",
        "nuclear-sanctions": "sanctions nuclear-weapons",
        "cancelled-visit": "diplomatic-visit",
        "ministerial-conference": "diplomatic-visit",
        "who-leads": "diplomatic-visit",
        "signing-abroad": "diplomatic-visit",
        "war-damage-aid": "russia-ukraine-war military-aid",
        "taiwan-own-military": "taiwan-strait",
    }.items()
}


@dataclass(frozen=True)
class Reading:
    """One reader's reading of one item under the revised guide."""

    readings: frozenset[str]  # the revision's readings the reader found the item under
    tags: frozenset[str]  # the item's tags by the whole guide

    @property
    def decides(self) -> frozenset[str]:
        """The tags this reading's classes decide."""
        return frozenset().union(*(READINGS[r] for r in self.readings))


@dataclass(frozen=True)
class Revision:
    first: dict[str, Reading]
    second: dict[str, Reading]
    files: list[Path]

    def tag_sets(self) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        """Both readings' tag sets, for the agreement report."""
        return ({i: r.tags for i, r in self.first.items()},
                {i: r.tags for i, r in self.second.items()})


def load_readings(path: Path, known_tags: Iterable[str]) -> dict[str, Reading]:
    known = set(known_tags)
    readings: dict[str, Reading] = {}
    for line, record in enumerate(load_jsonl(path), start=1):
        item_id = str(record.get("id") or "")
        names = frozenset(str(r) for r in record.get("readings") or [])  # type: ignore[attr-defined]
        tags = frozenset(str(t) for t in record.get("tags") or [])  # type: ignore[attr-defined]
        unknown = (names - set(READINGS)) | (tags - known)
        if not item_id or unknown:
            raise ConfigError(
                f"{path}:{line}: " + (f"unknown reading or tag {sorted(unknown)}" if unknown
                                      else "a line without an id")
            )
        if item_id in readings:
            raise ConfigError(f"{path}:{line}: {item_id} is read twice")
        readings[item_id] = Reading(names, tags)
    return readings


def load_revision(labels_dir: Path, known_tags: Iterable[str]) -> Revision | None:
    """The revision's two readings, or None when the label folder has none."""
    folder = labels_dir / REVISION_DIR
    first, second = folder / "first.jsonl", folder / "second.jsonl"
    if not first.is_file() and not second.is_file():
        return None
    if not (first.is_file() and second.is_file()):
        raise ConfigError(f"{folder} needs both first.jsonl and second.jsonl")
    tags = list(known_tags)
    return Revision(load_readings(first, tags), load_readings(second, tags), [first, second])


def revise(
    settled: Mapping[str, frozenset[str]], revision: Revision
) -> dict[str, frozenset[str]]:
    """``settled`` with the tags both readings of the revision agree on changed, for the
    tags the item's readings (either reader's) decide."""
    unknown = (set(revision.first) | set(revision.second)) - set(settled)
    if unknown:
        raise ConfigError(
            f"{len(unknown)} ids of the guide revision are not labelled corpus items, e.g. "
            f"{min(unknown)}"
        )
    revised = dict(settled)
    for item_id in sorted(set(revision.first) & set(revision.second)):
        first, second = revision.first[item_id], revision.second[item_id]
        tags = set(settled[item_id])
        for tag in first.decides | second.decides:
            if (tag in first.tags) == (tag in second.tags):
                if tag in first.tags:
                    tags.add(tag)
                else:
                    tags.discard(tag)
        revised[item_id] = frozenset(tags)
    return revised
