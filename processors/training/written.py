"""Written items of the hard classes: training data for them, and a check set held out.

The pool is 2023 news from 41 outlets, and the dev set is 159 items; the classes issue 12
names (basing and access, alliance commitments, defence industry, one-way supply phrased
"agreed", visits named in stories about something else, cross-border strikes outside a war
theatre, non-military senses of the cues, ...) are rare in both. ``written/*/items/*.jsonl``
holds short feed items written for those classes, positives and near-miss negatives, by
writers who read only the taxonomy page and ``LABELLING.md`` (never the pool, the dev set,
the rules or the model): ``{"sid", "title", "text", "tags", "class"}``, the tags being the
writer's reading by the guide and ``class`` the hard case the item was written for.
``written/*/readings/*.jsonl`` holds a blind second reading of every item by other
labellers, who saw only the title and text: ``{"sid", "tags"}``. Only the items both
readings tag alike are used; one the two readers tag differently is not clear-cut enough
(``newsflow tagger agreement`` counts them).

Two halves, by writer:

- ``written/develop/`` (fifteen writers, a-j and p-t) is **trained on**, with the corpus,
  and may be read for errors while the rules are worked on. Until session 15 it was only a
  check; with 1,458 items from ten writers, training on it raised the held-out writers'
  items by 0.034 macro-F1 and cross-validation on the corpus and the dev set did not fall
  (bench/RESULTS.md, "tagger", session 15);
- ``written/check/`` (five other writers, k-o) is **held out**: never trained on and never
  read for errors. It says whether what was learned from the develop half holds on items
  by writers the model has not seen. Writers of different halves sometimes wrote up the
  same real event; a check item that ``near_duplicates`` finds in the develop half was
  dropped before it was scored, so the check does not reward remembering an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from newsflow.errors import ConfigError
from processors.training.corpus import LabelledItem, load_labels
from processors.training.jsonl import load_jsonl

__all__ = [
    "HELD_OUT_HALF",
    "TRAINED_HALF",
    "WRITTEN_DIR",
    "WRITTEN_HALVES",
    "WrittenItems",
    "load_written",
    "near_duplicates",
]

WRITTEN_DIR = Path(__file__).resolve().parent / "written"
#: The halves, each its own folder under WRITTEN_DIR.
TRAINED_HALF = "develop"  # trained on with the corpus; may be read for errors
HELD_OUT_HALF = "check"  # never trained on, never read: scored only
WRITTEN_HALVES = (TRAINED_HALF, HELD_OUT_HALF)


@dataclass(frozen=True)
class WrittenItems:
    """Every written item, the writer's and the blind reader's tags, and the files read."""

    items: list[LabelledItem]  # the writer's tags
    readings: dict[str, frozenset[str]]  # sid -> the blind reader's tags
    classes: dict[str, str]  # sid -> the hard case the writer meant it for
    files: list[Path]

    @property
    def writer(self) -> dict[str, frozenset[str]]:
        return {item.id: item.tags for item in self.items}

    def agreed(self) -> list[LabelledItem]:
        """What is scored: the items both readings tag alike, in file order."""
        return [item for item in self.items if self.readings[item.id] == item.tags]


def load_written(directory: Path, known_tags: Iterable[str]) -> WrittenItems:
    """The written items and their blind readings. No folder: no items. An unknown tag, a
    repeated sid, an item without a blind reading or a reading of no item is an error: every
    item scored has been read twice."""
    tags = list(known_tags)
    item_files = sorted((directory / "items").glob("*.jsonl"))
    reading_files = sorted((directory / "readings").glob("*.jsonl"))
    # The writers' tags are labels like any other: load_labels refuses an unknown tag or
    # a sid written twice. The items' text and class come from the same records.
    writer = load_labels(item_files, tags, id_key="sid")
    items: list[LabelledItem] = []
    classes: dict[str, str] = {}
    for path in item_files:
        for number, record in enumerate(load_jsonl(path), 1):
            sid, title = str(record["sid"]), str(record.get("title") or "")
            if not title:
                raise ConfigError(f"{path.name} line {number}: {sid} has no title")
            classes[sid] = str(record.get("class") or "")
            items.append(LabelledItem(sid, title, str(record.get("text") or ""), writer[sid]))
    readings = load_labels(reading_files, tags, id_key="sid")
    unread = [item.id for item in items if item.id not in readings]
    if unread:
        raise ConfigError(
            f"{len(unread)} written items have no blind reading in written/readings/, "
            f"e.g. {unread[0]}"
        )
    stray = set(readings) - set(classes)
    if stray:
        raise ConfigError(f"{len(stray)} readings name no written item, e.g. {min(stray)}")
    return WrittenItems(items, readings, classes, item_files + reading_files)


#: Title and text sharing this much (rapidfuzz's token-set ratio, 0-100) are taken for the
#: same event written twice. From 74 up, nearly every pair between the halves was the same
#: event in other words ("Security Council ends / lifts arms embargo on Somali government");
#: the few that were not were events of one kind in one place ("... stops in Western
#: Australia"), and dropping those too costs the check little: the cut errs on the side of
#: a clean check.
SAME_EVENT = 74.0


def near_duplicates(
    items: Iterable[LabelledItem], others: Iterable[LabelledItem], cutoff: float = SAME_EVENT
) -> list[str]:
    """The ids of ``items`` whose title and text tell the same event as one of ``others``."""
    pool = [f"{o.title} {o.text}" for o in others]
    return [
        item.id for item in items
        if pool and process.extractOne(f"{item.title} {item.text}", pool,
                                       scorer=fuzz.token_set_ratio, score_cutoff=cutoff)
    ]
