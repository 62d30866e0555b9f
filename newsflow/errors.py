"""newsflow's exceptions. The branch decides what happens to the item.

    NewsflowError
    ├── ConfigError          bad settings or files: stop at start-up, say what to fix
    ├── PermanentError       this item can never succeed: count, warn, dead-letter, go on
    │   ├── SchemaError      a message that is not a valid article record
    │   ├── FeedError        a feed that cannot be fetched or parsed (becomes its health reason)
    │   │   └── RefusedError the SSRF guard or a size cap refused the feed
    │   ├── DocumentRejectedError  Elasticsearch refused one document (mapping, size)
    │   └── MessageTooLargeError   a record over the Kafka message limit
    ├── TransientError       may succeed later: back off, retry; never advance state/offsets
    │   ├── BrokerUnavailableError  Kafka cannot be reached or did not acknowledge
    │   └── SearchUnavailableError  Elasticsearch cannot be reached or is overloaded
    └── StackError           the local Kafka/Elasticsearch stack failed to start or stop

Only adapters (fetch, publish, index, ...) translate library exceptions into these.
"""

from __future__ import annotations

__all__ = [
    "BrokerUnavailableError",
    "ConfigError",
    "DocumentRejectedError",
    "FeedError",
    "MessageTooLargeError",
    "NewsflowError",
    "PermanentError",
    "RefusedError",
    "SchemaError",
    "SearchUnavailableError",
    "StackError",
    "TransientError",
]


class NewsflowError(Exception):
    """Root of every error newsflow raises on purpose."""


class ConfigError(NewsflowError):
    """Settings, feed list or taxonomy are wrong; the message says what to fix."""


class PermanentError(NewsflowError):
    """Retrying this item cannot help."""


class SchemaError(PermanentError):
    """A message is not a valid article record."""


class FeedError(PermanentError):
    """A feed could not be fetched or parsed; ``reason`` becomes its health reason."""

    def __init__(self, reason: str, *, url: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url


class RefusedError(FeedError):
    """The fetcher refused the address or the body (SSRF guard, size cap)."""


class DocumentRejectedError(PermanentError):
    """Elasticsearch refused a document for good (mapping conflict, too large, ...)."""

    def __init__(self, reason: str, *, doc_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.doc_id = doc_id


class MessageTooLargeError(PermanentError):
    """A record is larger than the Kafka message limit (kafka.max_message_bytes)."""


class TransientError(NewsflowError):
    """Might work later. ``retry_after`` is a hint in seconds, when the server gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BrokerUnavailableError(TransientError):
    """Kafka is unreachable or did not acknowledge in time."""


class SearchUnavailableError(TransientError):
    """Elasticsearch is unreachable, overloaded (429) or failing (5xx)."""


class StackError(NewsflowError):
    """The local stack could not be brought up or down."""
