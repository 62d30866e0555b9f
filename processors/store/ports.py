"""What the Elasticsearch side offers its callers: the bulk request and its outcome, and the
index protocol the worker's batch handler needs. Pure: no client, no I/O.

``store.index.ArticleIndex`` implements ``Indexing``; unit tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = ["BulkOutcome", "IndexRequest", "Indexing", "ItemFailure"]


@dataclass(frozen=True)
class IndexRequest:
    doc_id: str
    index: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class ItemFailure:
    doc_id: str
    status: int
    error_type: str
    reason: str

    def describe(self) -> str:
        return f"{self.status} {self.error_type}: {self.reason}"


@dataclass
class BulkOutcome:
    indexed: list[str] = field(default_factory=list)
    rejected: list[ItemFailure] = field(default_factory=list)
    retryable: list[ItemFailure] = field(default_factory=list)

    def merge(self, other: BulkOutcome) -> None:
        self.indexed.extend(other.indexed)
        self.rejected.extend(other.rejected)
        self.retryable.extend(other.retryable)

    def still_pending(self, sent: Sequence[IndexRequest]) -> list[IndexRequest]:
        """Those of ``sent`` that Elasticsearch asked to send again (429/5xx per item)."""
        retry_ids = {failure.doc_id for failure in self.retryable}
        return [request for request in sent if request.doc_id in retry_ids]


class Indexing(Protocol):
    def ensure_ready(self, now: datetime) -> str: ...

    def bulk_index(self, requests: Sequence[IndexRequest]) -> BulkOutcome: ...
