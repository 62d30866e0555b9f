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

__all__ = ["BatchReport", "Enriching", "Received", "RunBlocking"]


class Enriching(Protocol):
    @property
    def taxonomy_version(self) -> str: ...

    def enrich(self, articles: Sequence[Article], now: datetime) -> list[Article]: ...

    def reload_taxonomy_if_changed(self) -> bool: ...


RunBlocking = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def position(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass
class BatchReport:
    received: int = 0
    indexed: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    tag_messages: int = 0
    retries: int = 0
    tags: dict[str, int] = field(default_factory=dict)
