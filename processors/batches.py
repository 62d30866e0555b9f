"""One batch of news.articles records: decode, enrich, index, forward. The orchestrator.

BatchHandler takes its adapters as arguments (unit tests pass fakes):

    decode (poison -> dead letter) -> enrich off the event loop -> bulk index, retrying
    transient failures with backoff until Elasticsearch acknowledges (rejected documents ->
    dead letter) -> forward each tagged article to its tag topics and send the dead letters,
    awaiting the broker's acks.

It returns only when all of that is acknowledged; the Faust agent (processors.agents) lets
the stream advance only then. Per-item problems never raise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from newsflow.article import Article, decode_article
from newsflow.errors import (
    BrokerUnavailableError,
    DocumentRejectedError,
    MessageTooLargeError,
    SchemaError,
    SearchUnavailableError,
)
from processors.deadletter import DeadLetter, encode_dead_letter
from processors.documents import article_document, backing_index
from processors.index import BulkOutcome, IndexRequest
from processors.metrics import ProcessorMetrics
from processors.ports import (
    Backoff,
    BatchReport,
    Enriching,
    Indexing,
    OutMessage,
    Producing,
    Received,
    RunBlocking,
)
from processors.routing import Route, route_articles

__all__ = ["BatchHandler"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


# -- the batch handler (the orchestrator) -------------------------------------------------


class BatchHandler:
    def __init__(
        self,
        *,
        enricher: Callable[[], Awaitable[Enriching]],
        index: Indexing,
        producer: Producing,
        alias: str,
        tag_prefix: str,
        run_cpu: RunBlocking,
        run_io: RunBlocking,
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: Backoff | None = None,
        metrics: ProcessorMetrics | None = None,
        taxonomy_check_interval_s: float = 10.0,
        max_message_bytes: int | None = None,
    ) -> None:
        self._enricher = enricher
        self._index = index
        self._producer = producer
        self._alias = alias
        self._tag_prefix = tag_prefix
        self._max_message_bytes = max_message_bytes
        # CPU-heavy enrichment and blocking ES calls run off the event loop, each on its
        # own executor so that a slow bulk does not queue behind the model or vice versa.
        self._run_cpu = run_cpu
        self._run_io = run_io
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff or Backoff()
        self._metrics = metrics or ProcessorMetrics()
        self._taxonomy_check_interval_s = taxonomy_check_interval_s
        self._taxonomy_checked_at = time.monotonic()
        self._index_ready = False
        self._prepare_lock = asyncio.Lock()

    async def prepare(self) -> None:
        """Index template and alias in place (retried until Elasticsearch answers)."""
        async with self._prepare_lock:
            if self._index_ready:
                return
            await self._retry(
                "elasticsearch",
                "putting the index template and alias",
                lambda: self._run_io(self._index.ensure_ready, self._clock()),
                SearchUnavailableError,
            )
            self._index_ready = True

    async def handle(self, batch: Sequence[Received]) -> BatchReport:
        started = time.monotonic()
        report = BatchReport(received=len(batch))
        now = self._clock()
        letters: list[DeadLetter] = []

        decoded = self._decode(batch, now, letters)
        enricher = await self._enricher()
        await self._maybe_reload_taxonomy(enricher)
        enriched = await self._enrich(enricher, decoded, now, letters)
        enriched, report.duplicates = _last_per_id(enriched)
        requests, contexts = self._documents(enriched, enricher.taxonomy_version, now, letters)

        await self.prepare()
        t0 = time.monotonic()
        indexed_ids = await self._index_all(requests, contexts, now, letters, report)
        self._metrics.hop_seconds.labels("index").observe(time.monotonic() - t0)
        indexed = [contexts[doc_id][1] for doc_id in indexed_ids]

        routes, skipped = route_articles(indexed, self._tag_prefix)
        for article_id, tag in skipped:
            logger.warning("tag cannot name a topic, not forwarded id=%s tag=%s", article_id, tag)
        routes = self._fitting_routes(routes, contexts, now, letters)
        messages = [OutMessage(r.tag, r.key, r.value) for r in routes]
        messages += [
            OutMessage(None, letter.key, encode_dead_letter(letter, self._max_message_bytes))
            for letter in letters
        ]
        t0 = time.monotonic()
        await self._forward(messages, report)
        self._metrics.hop_seconds.labels("forward").observe(time.monotonic() - t0)

        report.indexed = len(indexed)
        report.dead_letters = len(letters)
        report.tag_messages = len(routes)
        for route in routes:
            report.tags[route.tag] = report.tags.get(route.tag, 0) + 1
        self._count(report, indexed, letters, now)
        self._metrics.batch_seconds.observe(time.monotonic() - started)
        return report

    # -- steps --------------------------------------------------------------------------

    def _decode(
        self, batch: Sequence[Received], now: datetime, letters: list[DeadLetter]
    ) -> list[tuple[Received, Article]]:
        decoded: list[tuple[Received, Article]] = []
        for received in batch:
            try:
                if not received.value:
                    raise SchemaError("empty message (no value)")
                article = decode_article(received.value)
            except SchemaError as exc:
                letters.append(_letter(received, "decode", exc, now))
                logger.warning(
                    "undecodable message dead-lettered at=%s reason=%s", received.position, exc
                )
                continue
            logger.debug("article received id=%s at=%s", article.id, received.position)
            decoded.append((received, article))
        return decoded

    async def _maybe_reload_taxonomy(self, enricher: Enriching) -> None:
        if time.monotonic() - self._taxonomy_checked_at < self._taxonomy_check_interval_s:
            return
        self._taxonomy_checked_at = time.monotonic()
        try:
            if await self._run_cpu(enricher.reload_taxonomy_if_changed):
                logger.info("taxonomy reloaded version=%s", enricher.taxonomy_version)
        except Exception as exc:  # a broken edit must not stop indexing: keep the old one
            logger.warning(
                "taxonomy reload failed, keeping version=%s reason=%s",
                enricher.taxonomy_version,
                exc,
            )

    async def _enrich(
        self,
        enricher: Enriching,
        decoded: list[tuple[Received, Article]],
        now: datetime,
        letters: list[DeadLetter],
    ) -> list[tuple[Received, Article]]:
        if not decoded:
            return []
        t0 = time.monotonic()
        articles = [article for _, article in decoded]
        try:
            enriched = await self._run_cpu(enricher.enrich, articles, now)
            if len(enriched) != len(articles):
                raise RuntimeError(f"enrich returned {len(enriched)} of {len(articles)}")
            result = [(r, a) for (r, _), a in zip(decoded, enriched, strict=True)]
        except Exception as exc:
            # Find the article that breaks the enricher; the others go on.
            logger.warning("enriching the batch failed, retrying one by one reason=%r", exc)
            result = []
            for received, article in decoded:
                try:
                    (one,) = await self._run_cpu(enricher.enrich, [article], now)
                except Exception as item_exc:  # one item: becomes a counted dead letter
                    letters.append(_letter(received, "enrich", item_exc, now, article.id))
                    logger.warning(
                        "article dead-lettered id=%s at=%s stage=enrich reason=%r",
                        article.id,
                        received.position,
                        item_exc,
                    )
                    continue
                result.append((received, one))
        self._metrics.hop_seconds.labels("enrich").observe(time.monotonic() - t0)
        return result

    def _documents(
        self,
        enriched: list[tuple[Received, Article]],
        taxonomy_version: str,
        now: datetime,
        letters: list[DeadLetter],
    ) -> tuple[list[IndexRequest], dict[str, tuple[Received, Article]]]:
        requests: list[IndexRequest] = []
        contexts: dict[str, tuple[Received, Article]] = {}
        for received, article in enriched:
            article = article.model_copy(update={"indexed_at": now})
            try:
                document = article_document(
                    article, taxonomy_version=taxonomy_version, indexed_at=now
                )
            except DocumentRejectedError as exc:
                letters.append(_letter(received, "index", exc, now, article.id))
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

    def _fitting_routes(
        self,
        routes: list[Route],
        contexts: dict[str, tuple[Received, Article]],
        now: datetime,
        letters: list[DeadLetter],
    ) -> list[Route]:
        """Routes that fit in one Kafka message. An enriched article can outgrow the limit
        (entities and evidence are added to it); it is indexed, but its tag-stream copy
        becomes a dead letter instead of stalling the stream on a send that cannot work."""
        fitting: list[Route] = []
        refused: set[str] = set()
        for route in routes:
            if not _too_large(route, self._max_message_bytes):
                fitting.append(route)
                continue
            if route.article_id in refused:
                continue
            refused.add(route.article_id)
            received, _article = contexts[route.article_id]
            logger.warning("article too large for its tag streams id=%s bytes=%d limit=%s",
                           route.article_id, len(route.value), self._max_message_bytes)
            too_large = MessageTooLargeError(
                f"enriched article is {len(route.value)} bytes, over the "
                f"{self._max_message_bytes}-byte message limit of the tag streams; "
                "it is indexed but not forwarded"
            )
            letters.append(_letter(received, "route", too_large, now, route.article_id))
        return fitting

    async def _index_all(
        self,
        requests: list[IndexRequest],
        contexts: dict[str, tuple[Received, Article]],
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
                letters.append(_letter(received, "index", rejected, now, article.id))
                logger.warning(
                    "article dead-lettered id=%s at=%s stage=index reason=%s",
                    article.id,
                    received.position,
                    failure.describe()[:300],
                )
            retry_ids = {failure.doc_id for failure in outcome.retryable}
            pending = [r for r in pending if r.doc_id in retry_ids]
            if pending:
                raise SearchUnavailableError(
                    f"it asked to retry {len(pending)}: {outcome.retryable[0].describe()}"
                )

        if requests:
            await self._retry(
                "elasticsearch",
                lambda: f"bulk of {len(pending)} documents",
                bulk,
                SearchUnavailableError,
                report,
            )
        return indexed

    async def _forward(self, messages: list[OutMessage], report: BatchReport) -> None:
        """Until Kafka acknowledged every message; a retry sends only those it did not."""
        pending: Sequence[OutMessage] = messages

        async def send() -> None:
            nonlocal pending
            outcome = await self._producer.send_all(pending)
            # A BrokerUnavailableError raised by send_all leaves them all pending.
            if outcome.unacknowledged:
                pending = outcome.unacknowledged
                raise outcome.error or BrokerUnavailableError("not acknowledged")

        if messages:
            await self._retry(
                "kafka",
                lambda: f"acknowledgement of {len(pending)} of {len(messages)} tag/dead-letter "
                "messages (only these are sent again)",
                send,
                BrokerUnavailableError,
                report,
            )

    async def _retry(
        self,
        target: str,
        what: str | Callable[[], str],
        call: Callable[[], Awaitable[T]],
        transient: type[Exception],
        report: BatchReport | None = None,
    ) -> T:
        """``call`` until it does not raise ``transient``, backing off in between. The one
        retry loop of the handler: ``what`` (text, or a function when the call narrows what
        is left to do) describes what is waited for."""
        attempt = 0
        doing = ""
        while True:
            try:
                result = await call()
            except transient as exc:
                attempt += 1
                doing = what if isinstance(what, str) else what()
                await self._wait(target, doing, exc, attempt, report)
                continue
            if attempt:
                self._metrics.waiting.labels(target).set(0)
                logger.info("%s answered after retries=%d: %s", target, attempt, doing)
            return result

    async def _wait(
        self, target: str, what: str, exc: Exception, attempt: int, report: BatchReport | None
    ) -> None:
        retry_after = getattr(exc, "retry_after", None)
        delay = self._backoff.delay(attempt, retry_after)
        self._metrics.waiting.labels(target).set(1)
        self._metrics.retries.labels(target).inc()
        if report is not None:
            report.retries += 1
        logger.warning(
            "waiting for %s: %s failed (%s); batch held, offsets not committed; retry %d in %.1fs",
            target,
            what,
            exc,
            attempt,
            delay,
        )
        await self._sleep(delay)

    def _count(
        self,
        report: BatchReport,
        indexed: list[Article],
        letters: list[DeadLetter],
        now: datetime,
    ) -> None:
        m = self._metrics
        m.articles.labels("indexed").inc(len(indexed))
        m.articles.labels("duplicate").inc(report.duplicates)
        m.articles.labels("dead_letter").inc(len(letters))
        for letter in letters:
            m.dead_letters.labels(letter.stage).inc()
        for tag, n in report.tags.items():
            m.tag_messages.labels(tag).inc(n)
        for article in indexed:
            m.seen_to_indexed_seconds.observe(max((now - article.seen_at).total_seconds(), 0))


def _letter(
    received: Received,
    stage: str,
    exc: Exception,
    now: datetime,
    article_id: str | None = None,
) -> DeadLetter:
    return DeadLetter(
        reason=str(exc) or repr(exc),
        stage=stage,
        error=type(exc).__name__,
        topic=received.topic,
        partition=received.partition,
        offset=received.offset,
        key=received.key,
        original=received.value,
        failed_at=now,
        article_id=article_id,
    )


def _too_large(route: Route, limit: int | None) -> bool:
    return limit is not None and len(route.key) + len(route.value) > limit


def _last_per_id(
    items: list[tuple[Received, Article]],
) -> tuple[list[tuple[Received, Article]], int]:
    """The same article twice in one batch is indexed and forwarded once (the later copy)."""
    latest: dict[str, tuple[Received, Article]] = {}
    for received, article in items:
        latest.pop(article.id, None)
        latest[article.id] = (received, article)
    return list(latest.values()), len(items) - len(latest)
