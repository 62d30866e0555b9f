"""The ordered stage's spike detector (processors/alerts): every article, in the order of the
enriched topic, right after its story, so that a syndicated copy counts nothing.

It rides on the story step (processors.service.storying): the same offsets, the same catch-up
after a restart or a move, one snapshot for both. Alerts are stored in Elasticsearch with
their id (create: a repeat is refused) and only the new ones go to the alerts topic, so a
replay, or a second worker that went over the same records, raises nothing twice.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from newsflow.article import Article
from processors.alerts import Alert, AlertInput, SpikeDetector

__all__ = ["AlertRaiser", "join_state", "split_state"]

# The entities an article counts on as tag|entity keys: its most mentioned ones. Feeds name
# a handful; a long article names dozens in passing, which would only add noise keys.
ENTITIES_PER_ARTICLE = 8

_MAGIC = b"newsflow-ordered-state/1\n"


class AlertRaiser:
    def __init__(self, detector: SpikeDetector | None = None, *,
                 restore: Callable[[bytes], SpikeDetector] = SpikeDetector.restore) -> None:
        self.detector = detector or SpikeDetector()
        self._restore = restore

    def observe(self, article: Article) -> list[Alert]:
        return self.detector.observe(alert_input(article))

    def snapshot(self) -> bytes:
        return self.detector.snapshot()

    def load(self, blob: bytes) -> None:
        self.detector = self._restore(blob)

    def reset(self) -> None:
        """A fresh detector (its state is being rebuilt from the topic)."""
        self.detector = SpikeDetector(self.detector.config)


def alert_input(article: Article) -> AlertInput:
    ranked = sorted(article.entities, key=lambda e: (-e.count, e.start))
    names = list(dict.fromkeys(e.canonical or e.text for e in ranked))[:ENTITIES_PER_ARTICLE]
    return AlertInput(
        id=article.id, source=article.source, published_at=article.published_at,
        tags=tuple(article.tag_names), entities=tuple(names), dup_of=article.dup_of,
        extra_keys=tuple(f"watch:{name}" for name in article.watches),
    )


def join_state(stories: bytes, alerts: bytes | None) -> bytes:
    """One snapshot for the ordered stage: the story engine's, then the detector's."""
    if alerts is None:
        return stories
    return _MAGIC + struct.pack(">Q", len(stories)) + stories + alerts


def split_state(blob: bytes) -> tuple[bytes, bytes | None]:
    """The story engine's and the detector's snapshots (None: a stories-only snapshot)."""
    if not blob.startswith(_MAGIC):
        return blob, None
    head = len(_MAGIC)
    (size,) = struct.unpack(">Q", blob[head:head + 8])
    start = head + 8
    return blob[start:start + size], blob[start + size:]
