"""What the worker's batch handler needs besides the ports of the folders, and what it
passes around: the enricher protocol, the records in and the report out.

The index and the producer have their ports with their folders (``store.ports.Indexing``,
``streams.ports.Producing``). Fakes in tests implement the same protocols.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from newsflow.article import Article

__all__ = ["BatchReport", "Enriching", "Received", "RunBlocking", "StoryStage", "WatchStage"]


class Enriching(Protocol):
    @property
    def taxonomy_version(self) -> str: ...

    def enrich(self, articles: Sequence[Article], now: datetime) -> list[Article]: ...

    def reload_taxonomy_if_changed(self) -> bool: ...


RunBlocking = Callable[..., Awaitable[Any]]


class StoryStage(Protocol):
    """The ordered stage's story step (processors.service.storying)."""

    async def prepare(self) -> None:
        """Its Elasticsearch index in place."""

    async def assign(
        self, items: list[tuple[Received, Article]]
    ) -> list[tuple[Received, Article]]:
        """Each article with story_id, dup_of, story_sources and story_new_tags set, in
        order; the state is rebuilt first when the records do not follow the last ones."""

    async def commit(self, report: BatchReport) -> None:
        """After the batch is indexed and forwarded: the stories' documents, and a snapshot
        of the engine when one is due."""


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # The record's place inside a hand-over envelope (processors.streams.envelope); None for
    # a message that is one record.
    index: int | None = None

    @property
    def position(self) -> str:
        at = f"{self.topic}[{self.partition}]@{self.offset}"
        return at if self.index is None else f"{at}#{self.index}"


@dataclass
class BatchReport:
    """What one batch of either stage did (the enrich stage fills ``enriched``, the ordered
    stage ``indexed``, ``tag_messages`` and ``stories``)."""

    received: int = 0
    enriched: int = 0
    indexed: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    tag_messages: int = 0
    retries: int = 0
    tags: dict[str, int] = field(default_factory=dict)
    stories: int = 0  # articles given a story
    alerts: int = 0  # new spike alerts raised
    watch_messages: int = 0  # articles sent to watch streams


class WatchStage(Protocol):
    """The ordered stage's watch step (processors.service.watching)."""

    async def prepare(self) -> None:
        """Its Elasticsearch index in place."""

    async def match(self, articles: list[Article]) -> list[Article]:
        """The articles in the same order, each with ``watches`` set."""
