"""The index step of a batch: one document per article into the monthly backing index of its
``published_at``, bulk-indexed until Elasticsearch took or refused every one.

Transient failures (the whole request, or single items Elasticsearch asks to retry) are
retried with backoff, sending again only what is left; documents Elasticsearch refuses (and
an ``_id`` too long to send) become dead letters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from newsflow.article import Article
from newsflow.errors import DocumentRejectedError, SearchUnavailableError
from processors.service.decoding import dead_letter
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport, Received, RunBlocking
from processors.service.retry import Once, Retrier
from processors.store.deadletter import DeadLetter
from processors.store.documents import article_document, backing_index
from processors.store.ports import BulkOutcome, Indexing, IndexRequest

__all__ = ["IndexStep"]

logger = logging.getLogger(__name__)

_Item = tuple[Received, Article]


class IndexStep:
    def __init__(
        self,
        *,
        index: Indexing,
        alias: str,
        run_io: RunBlocking,
        retrier: Retrier,
        metrics: ProcessorMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._index = index
        self._alias = alias
        # Blocking ES calls run off the event loop, on their own executor, so that a slow
        # bulk does not queue behind the model or vice versa.
        self._run_io = run_io
        self._retrier = retrier
        self._metrics = metrics
        self._clock = clock
        self._prepare = Once(retrier, "elasticsearch", "putting the index template and alias",
                             lambda: self._run_io(self._index.ensure_ready, self._clock()),
                             SearchUnavailableError)

    async def prepare(self) -> None:
        """Index template and alias in place (retried until Elasticsearch answers)."""
        await self._prepare()

    async def __call__(
        self,
        enriched: Sequence[_Item],
        now: datetime,
        letters: list[DeadLetter],
        report: BatchReport,
    ) -> list[_Item]:
        """The articles Elasticsearch acknowledged (``indexed_at`` set), with their records."""
        requests, contexts = self._documents(enriched, now, letters)
        await self.prepare()
        t0 = time.monotonic()
        indexed_ids = await self._index_all(requests, contexts, now, letters, report)
        self._metrics.hop_seconds.labels("index").observe(time.monotonic() - t0)
        return [contexts[doc_id] for doc_id in indexed_ids]

    def _documents(
        self,
        enriched: Sequence[_Item],
        now: datetime,
        letters: list[DeadLetter],
    ) -> tuple[list[IndexRequest], dict[str, _Item]]:
        requests: list[IndexRequest] = []
        contexts: dict[str, _Item] = {}
        for received, article in enriched:
            article = article.model_copy(update={"indexed_at": now})
            try:
                # The version the enrich stage tagged it with (retag compares it).
                document = article_document(
                    article, taxonomy_version=article.taxonomy_version, indexed_at=now
                )
            except DocumentRejectedError as exc:
                letters.append(dead_letter(received, "index", exc, now, article.id))
                logger.warning(
                    "article dead-lettered id=%s at=%s stage=index reason=%s",
                    article.id[:64],
                    received.position,
                    exc,
                )
                continue
            index = backing_index(self._alias, article.published_at)
            requests.append(IndexRequest(article.id, index, document))
            contexts[article.id] = (received, article)
        return requests, contexts

    async def _index_all(
        self,
        requests: list[IndexRequest],
        contexts: dict[str, _Item],
        now: datetime,
        letters: list[DeadLetter],
        report: BatchReport,
    ) -> list[str]:
        """Until Elasticsearch took or refused every document; a retry sends only those it
        asked to retry (or all of them when the whole request failed)."""
        indexed: list[str] = []
        pending = requests

        async def bulk() -> None:
            nonlocal pending
            outcome: BulkOutcome = await self._run_io(self._index.bulk_index, pending)
            indexed.extend(outcome.indexed)
            for failure in outcome.rejected:
                received, article = contexts[failure.doc_id]
                rejected = DocumentRejectedError(
                    f"Elasticsearch rejected the document: {failure.describe()}",
                    doc_id=article.id,
                )
                letters.append(dead_letter(received, "index", rejected, now, article.id))
                logger.warning(
                    "article dead-lettered id=%s at=%s stage=index reason=%s",
                    article.id,
                    received.position,
                    failure.describe()[:300],
                )
            pending = outcome.still_pending(pending)
            if pending:
                raise SearchUnavailableError(
                    f"it asked to retry {len(pending)}: {outcome.retryable[0].describe()}"
                )

        if requests:
            await self._retrier.until_done(
                "elasticsearch",
                lambda: f"bulk of {len(pending)} documents",
                bulk,
                SearchUnavailableError,
                report,
            )
        return indexed
