"""The labelled corpus: pool items joined with their labels by id.

The labels live in this folder (``labels/``, keyed by pool id, no text); the items' text
lives in the shared pool file, which the publishers' terms keep out of this repository.

Every item is labelled twice, independently: ``labels/parts/`` is the first pass,
``labels/pass2/`` the second. Where the two passes differ, ``labels/adjudicated.jsonl``
holds the settled tags, decided by a third reader who saw only the item, the tags both passes
gave and the tags in dispute (not which pass said what). What the model learns from is the
settled label: the tags both passes agree on, plus the disputed tags the adjudication kept,
and, where a guide revision re-read an item (``labels/revision/``, ``revision.py``), the tags
its two readings agree on for the classes the revision settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from newsflow.errors import ConfigError
from processors.training.jsonl import load_jsonl
from processors.training.revision import Revision, load_revision, revise

__all__ = [
    "ADJUDICATED",
    "CHECK_PASS",
    "LABELS_DIR",
    "Dispute",
    "LabelPasses",
    "LabelledItem",
    "default_dev_path",
    "default_pool_path",
    "load_corpus",
    "load_jsonl",
    "load_labels",
    "load_passes",
    "load_settled_labels",
    "second_pass_files",
    "settle",
]

LABELS_DIR = Path(__file__).resolve().parent / "labels"
#: The settled tags of the items the two passes label differently (in ``labels/``).
ADJUDICATED = "adjudicated.jsonl"
#: The 200-item check pass (every 15th id), labelled before the full second pass existed.
CHECK_PASS = "second-pass.jsonl"
_REPO = Path(__file__).resolve().parents[2]


def default_pool_path() -> Path:
    return _REPO.parent / "shared" / "eval" / "topics-pool.jsonl"


def default_dev_path() -> Path:
    return _REPO.parent / "shared" / "eval" / "topics-dev.jsonl"


@dataclass(frozen=True)
class LabelledItem:
    id: str
    title: str
    text: str
    tags: frozenset[str]


def load_labels(
    paths: Iterable[Path], known_tags: Iterable[str], id_key: str = "id"
) -> dict[str, frozenset[str]]:
    """id -> tags from JSON-lines label files (the id under ``id_key``). An id labelled
    twice, or a tag the taxonomy does not know, is an error: silent label drift is how a
    corpus rots."""
    known = set(known_tags)
    labels: dict[str, frozenset[str]] = {}
    for path in paths:
        for record in load_jsonl(path):
            if id_key not in record:
                raise ConfigError(f"{path}: a label without {id_key!r}")
            item_id = str(record[id_key])
            tags = frozenset(str(t) for t in record.get("tags") or [])  # type: ignore[attr-defined]
            unknown = tags - known
            if unknown:
                raise ConfigError(f"{path}: {item_id} has unknown tags {sorted(unknown)}")
            if item_id in labels:
                raise ConfigError(f"{path}: {item_id} is labelled twice")
            labels[item_id] = tags
    return labels


def corpus_label_files(labels_dir: Path = LABELS_DIR) -> list[Path]:
    """The first pass's label files: ``labels/parts/*.jsonl``."""
    return sorted((labels_dir / "parts").glob("*.jsonl"))


def second_pass_files(labels_dir: Path = LABELS_DIR) -> list[Path]:
    """The second, independent pass's label files: ``labels/pass2/*.jsonl``."""
    return sorted((labels_dir / "pass2").glob("*.jsonl"))


@dataclass(frozen=True)
class Dispute:
    """An item the two passes label differently: what an adjudicator is shown."""

    id: str
    agreed: frozenset[str]  # tags both passes gave
    disputed: frozenset[str]  # tags only one pass gave


def disputes(
    first: dict[str, frozenset[str]], second: dict[str, frozenset[str]]
) -> list[Dispute]:
    """The items both passes labelled with different tag sets, in id order."""
    return [
        Dispute(item_id, first[item_id] & second[item_id], first[item_id] ^ second[item_id])
        for item_id in sorted(set(first) & set(second))
        if first[item_id] != second[item_id]
    ]


def settle(
    first: dict[str, frozenset[str]],
    second: dict[str, frozenset[str]],
    adjudicated: dict[str, frozenset[str]],
) -> dict[str, frozenset[str]]:
    """id -> the label the model learns from.

    An item both passes agree on keeps their tags; an item labelled once keeps its one
    label; a disputed item takes its adjudicated tags. An adjudication may only decide the
    disputed tags (it keeps every agreed tag and adds none that no pass gave), and one that
    is missing, or that settles an item no pass disputes, is an error: a stale or partial
    adjudication must not pass silently."""
    extra = set(second) - set(first)
    if extra:
        raise ConfigError(
            f"{len(extra)} ids of the second pass have no first-pass label, e.g. {min(extra)}"
        )
    open_disputes = {d.id: d for d in disputes(first, second)}
    stale = set(adjudicated) - set(open_disputes)
    if stale:
        raise ConfigError(
            f"{len(stale)} adjudicated ids are not disputed by the two passes, e.g. "
            f"{min(stale)}"
        )
    settled = dict(first)
    unsettled: list[str] = []
    for item_id, dispute in open_disputes.items():
        decided = adjudicated.get(item_id)
        if decided is None:
            unsettled.append(item_id)
            continue
        if not dispute.agreed <= decided <= dispute.agreed | dispute.disputed:
            raise ConfigError(
                f"the adjudication of {item_id} changes a tag the two passes agree on"
            )
        settled[item_id] = decided
    if unsettled:
        raise ConfigError(
            f"{len(unsettled)} items the two passes label differently are not adjudicated "
            f"(labels/{ADJUDICATED}), e.g. {unsettled[0]}: `newsflow tagger disputes` lists "
            "them"
        )
    return settled


@dataclass(frozen=True)
class LabelPasses:
    """A label folder read once: the two passes, the adjudication, the files they came from."""

    first: dict[str, frozenset[str]]
    second: dict[str, frozenset[str]]  # empty: a folder with only a first pass
    adjudication: dict[str, frozenset[str]] | None  # None: no labels/adjudicated.jsonl yet
    files: list[Path]
    revision: Revision | None = None  # labels/revision/: items re-read under a guide revision

    def disputes(self) -> list[Dispute]:
        return disputes(self.first, self.second)

    def settled(self) -> dict[str, frozenset[str]]:
        """What the model learns from: the passes as settled (``settle``; a first pass alone
        is read as it is), then what the guide revision's two readings agree on
        (``revision.revise``)."""
        settled = (settle(self.first, self.second, self.adjudication or {}) if self.second
                   else self.first)
        return revise(settled, self.revision) if self.revision else settled


def load_passes(labels_dir: Path, known_tags: Iterable[str]) -> LabelPasses:
    tags = list(known_tags)
    first_files = corpus_label_files(labels_dir)
    second_files = second_pass_files(labels_dir)
    adjudicated_path = labels_dir / ADJUDICATED
    adjudicated_files = [adjudicated_path] if adjudicated_path.is_file() else []
    revision = load_revision(labels_dir, tags)
    return LabelPasses(
        first=load_labels(first_files, tags),
        second=load_labels(second_files, tags),
        adjudication=load_labels(adjudicated_files, tags) if adjudicated_files else None,
        files=first_files + second_files + adjudicated_files
        + (revision.files if revision else []),
        revision=revision,
    )


def load_settled_labels(
    labels_dir: Path, known_tags: Iterable[str]
) -> tuple[dict[str, frozenset[str]], list[Path]]:
    """The corpus's labels as the model learns them (``settle``) and the files they come
    from. A label folder with only a first pass (``parts/``) is read as it is."""
    passes = load_passes(labels_dir, known_tags)
    return passes.settled(), passes.files


def load_corpus(
    pool_path: Path, labels: dict[str, frozenset[str]]
) -> list[LabelledItem]:
    """Labelled pool items in pool order; a labelled id missing from the pool is an error."""
    items: list[LabelledItem] = []
    for record in load_jsonl(pool_path):
        item_id = str(record["id"])
        if item_id in labels:
            items.append(
                LabelledItem(
                    item_id, str(record.get("title") or ""), str(record.get("text") or ""),
                    labels[item_id],
                )
            )
    missing = set(labels) - {i.id for i in items}
    if missing:
        raise ConfigError(
            f"{len(missing)} labelled ids are not in {pool_path}, e.g. {min(missing)}"
        )
    return items


def load_dev(path: Path) -> list[LabelledItem]:
    return [
        LabelledItem(
            str(r["id"]), str(r.get("title") or ""), str(r.get("text") or ""),
            frozenset(str(t) for t in r.get("tags") or []),  # type: ignore[attr-defined]
        )
        for r in load_jsonl(path)
    ]
