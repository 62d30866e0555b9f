"""The labelled corpus: pool items joined with their labels by id.

The labels live in this folder (``labels/``, keyed by pool id, no text); the items' text
lives in the shared pool file, which the publishers' terms keep out of this repository.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from newsflow.errors import ConfigError

__all__ = [
    "LABELS_DIR",
    "LabelledItem",
    "default_dev_path",
    "default_pool_path",
    "load_corpus",
    "load_jsonl",
    "load_labels",
]

LABELS_DIR = Path(__file__).resolve().parent / "labels"
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


def load_jsonl(path: Path) -> Iterator[dict[str, object]]:
    try:
        with path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{line_no}: not JSON: {exc.msg}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def load_labels(paths: Iterable[Path], known_tags: Iterable[str]) -> dict[str, frozenset[str]]:
    """id -> tags from JSON-lines label files. An id labelled twice, or a tag the taxonomy
    does not know, is an error: silent label drift is how a corpus rots."""
    known = set(known_tags)
    labels: dict[str, frozenset[str]] = {}
    for path in paths:
        for record in load_jsonl(path):
            item_id = str(record["id"])
            tags = frozenset(str(t) for t in record.get("tags") or [])  # type: ignore[attr-defined]
            unknown = tags - known
            if unknown:
                raise ConfigError(f"{path}: {item_id} has unknown tags {sorted(unknown)}")
            if item_id in labels:
                raise ConfigError(f"{path}: {item_id} is labelled twice")
            labels[item_id] = tags
    return labels


def corpus_label_files(labels_dir: Path = LABELS_DIR) -> list[Path]:
    """The first-pass label files: ``labels/parts/*.jsonl`` (the second pass is only for
    measuring agreement)."""
    return sorted((labels_dir / "parts").glob("*.jsonl"))


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
