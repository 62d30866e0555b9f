"""What the batch handler needs from the outside world, and what it passes around.

Protocols for the adapters (enricher, index, producer), the records in and out, the report,
and the backoff policy. Fakes in tests implement the same protocols.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from newsflow.article import Article
from newsflow.errors import BrokerUnavailableError
from processors.index import BulkOutcome, IndexRequest

__all__ = [
    "Backoff",
    "BatchReport",
    "Enriching",
    "Indexing",
    "OutMessage",
    "Producing",
    "Received",
    "RunBlocking",
    "SendOutcome",
]


class Enriching(Protocol):
    @property
    def taxonomy_version(self) -> str: ...

    def enrich(self, articles: Sequence[Article], now: datetime) -> list[Article]: ...

    def reload_taxonomy_if_changed(self) -> bool: ...


class Indexing(Protocol):
    def ensure_ready(self, now: datetime) -> str: ...

    def bulk_index(self, requests: Sequence[IndexRequest]) -> BulkOutcome: ...


@dataclass(frozen=True)
class OutMessage:
    """A message to produce: to the tag topic of ``tag``, or a dead letter when None."""

    tag: str | None
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class SendOutcome:
    """What one ``send_all`` left unacknowledged, to be sent again (in the order given).

    A message is left out only once the broker acknowledged it, so sending the rest again
    keeps at-least-once without repeating what is already on its topic."""

    unacknowledged: tuple[OutMessage, ...] = ()
    error: BrokerUnavailableError | None = None  # why the first of them failed


class Producing(Protocol):
    async def send_all(self, messages: Sequence[OutMessage]) -> SendOutcome:
        """Send every message and wait until each one is acknowledged or failed.

        Broker failures do not raise: they come back as ``unacknowledged`` with the error.
        A BrokerUnavailableError raised anyway means nothing is known to be acknowledged."""


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


class Backoff:
    """Exponential delays with jitter, capped; a server's Retry-After wins when longer."""

    def __init__(self, *, first_s: float = 0.5, max_s: float = 30.0, factor: float = 2.0) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self.factor = factor

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        base = min(self.max_s, self.first_s * self.factor ** max(attempt - 1, 0))
        jittered = base * random.uniform(0.5, 1.0)
        if retry_after is not None:
            jittered = max(jittered, min(retry_after, self.max_s))
        return jittered
