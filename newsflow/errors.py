"""newsflow's exceptions. The branch decides what happens to the item.

    NewsflowError
    ├── ConfigError          bad settings or files: stop at start-up, say what to fix
    ├── PermanentError       this item can never succeed: count, warn, dead-letter, go on
    │   ├── SchemaError      a message that is not a valid article record
    │   ├── FeedError        a feed that cannot be fetched or parsed (becomes its health reason);
    │   │   │                ``status``: the HTTP status when the server answered (4xx)
    │   │   └── RefusedError the SSRF guard or a size cap refused the feed
    │   ├── DocumentRejectedError  Elasticsearch refused one document (mapping, size)
    │   └── MessageTooLargeError   a record over the Kafka message limit
    ├── TransientError       may succeed later: back off, retry; never advance state/offsets;
    │   │                    ``retry_after``: seconds the other side asked for, when it did
    │   ├── FeedUnavailableError    a feed's server failed (5xx), asked to wait (429/503: its
    │   │   │                       ``status`` and ``retry_after``) or could not be reached
    │   │   └── FeedTimeoutError    no complete answer in time (connect, read or total)
    │   ├── BrokerUnavailableError  Kafka cannot be reached or did not acknowledge
    │   └── SearchUnavailableError  Elasticsearch cannot be reached or is overloaded
    ├── StackError           the local Kafka/Elasticsearch stack failed to start or stop
    └── KibanaImportError    Kibana could not be reached or refused the saved objects (or some);
                             ``url``, ``status`` (when Kibana answered), ``failed`` objects

Only adapters (fetch, publish, index, ...) translate library exceptions into these. What a
caller decides on rides as attributes (``status``, ``retry_after``), never as text to parse
back out of the message.
"""

from __future__ import annotations

__all__ = [
    "BrokerUnavailableError",
    "ConfigError",
    "DocumentRejectedError",
    "FeedError",
    "FeedTimeoutError",
    "FeedUnavailableError",
    "KibanaImportError",
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

    def __init__(self, reason: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.status = status  # the HTTP status, when the server's answer was the problem


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


class FeedUnavailableError(TransientError):
    """A feed's server failed (5xx), asked to wait (429/503) or could not be reached.

    ``status`` is the HTTP status when the server answered, ``retry_after`` its Retry-After
    in seconds when it gave one; the message is the feed's health reason.
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.url = url
        self.status = status


class FeedTimeoutError(FeedUnavailableError):
    """No complete answer in time: connect, read or the total per-fetch deadline."""


class BrokerUnavailableError(TransientError):
    """Kafka is unreachable or did not acknowledge in time."""


class SearchUnavailableError(TransientError):
    """Elasticsearch is unreachable, overloaded (429) or failing (5xx)."""


class StackError(NewsflowError):
    """The local stack could not be brought up or down."""


class KibanaImportError(NewsflowError):
    """Kibana refused the import of the saved objects, or some objects in it, or could not be
    reached. ``status`` is Kibana's HTTP status when it answered; ``failed`` names the refused
    objects (``type/id``) when it accepted the request but not every object."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None,
                 failed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.failed = failed
