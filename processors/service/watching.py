"""The watch step of the ordered stage: every article is matched against the saved searches
(watches) before it is indexed, so that it is stored with ``watches`` set (one write per
article) and forwarded to ``news.watch.<name>`` for each of them
(processors.streams.routing.route_watches).

The whole batch goes to Elasticsearch in one request (a percolate query with every
document; processors/store/watches.py). While there are no watches nothing is sent: the
watch list is read at most every few seconds. Elasticsearch unavailable: the batch is held
and retried with backoff, as the index step does; a request Elasticsearch refuses for good
is logged and the batch goes on without watches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from newsflow.article import Article
from newsflow.errors import (
    ConfigError,
    DocumentRejectedError,
    NewsflowError,
    SearchUnavailableError,
    TransientError,
)
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import RunBlocking
from processors.service.retry import Once, Retrier
from processors.store.watches import matched_article_document

__all__ = ["WatchMatching", "WatchStep"]

logger = logging.getLogger(__name__)


class WatchMatching(Protocol):
    """What the step needs of processors.store.watch_index.WatchIndex (blocking calls)."""

    index: str

    def ensure_ready(self) -> None: ...

    def has_watches(self) -> bool: ...

    def match(self, documents: Sequence[Mapping[str, Any]]) -> list[list[str]]: ...


class WatchStep:
    def __init__(
        self,
        *,
        index: WatchMatching,
        run_io: RunBlocking,
        retrier: Retrier,
        metrics: ProcessorMetrics,
    ) -> None:
        self._index = index
        self._run_io = run_io
        self._retrier = retrier
        self._metrics = metrics
        self._prepare = Once(retrier, "elasticsearch",
                             f"creating the watches index {index.index}",
                             lambda: self._run_io(self._index.ensure_ready),
                             SearchUnavailableError)

    async def prepare(self) -> None:
        """The watches index in place (retried until Elasticsearch answers)."""
        await self._prepare()

    async def match(self, articles: list[Article]) -> list[Article]:
        """The articles in the same order, each with ``watches`` set to the names of the
        watches it matches (sorted; empty for none)."""
        await self.prepare()
        if not articles:
            return []
        t0 = time.monotonic()
        has_watches: bool = await self._retrier.until_done(
            "elasticsearch", "reading the watches",
            lambda: self._run_io(self._index.has_watches), SearchUnavailableError)
        if not has_watches:
            return [_with_watches(article, []) for article in articles]
        documents: list[dict[str, Any]] = []
        slots: list[int] = []
        for slot, article in enumerate(articles):
            try:
                # Only the fields watches read (the index step builds the full document).
                documents.append(matched_article_document(article))
            except DocumentRejectedError:
                continue  # the index step dead-letters it
            slots.append(slot)
        try:
            matches: list[list[str]] = await self._retrier.until_done(
                "elasticsearch",
                f"matching {len(documents)} articles against the watches",
                lambda: self._run_io(self._index.match, documents),
                SearchUnavailableError,
            )
        except (ConfigError, TransientError):
            raise
        except NewsflowError as exc:
            # Refused for good (not the documents: those are matched one by one then): the
            # articles go on without watches rather than stalling the stream.
            logger.error("articles not matched against the watches articles=%d reason=%s",
                         len(documents), exc)
            matches = [[] for _ in documents]
        names_of: dict[int, list[str]] = dict(zip(slots, matches, strict=True))
        self._metrics.hop_seconds.labels("watch").observe(time.monotonic() - t0)
        return [_with_watches(article, names_of.get(slot, []))
                for slot, article in enumerate(articles)]


def _with_watches(article: Article, names: list[str]) -> Article:
    if article.watches == names:
        return article
    return article.model_copy(update={"watches": names})
