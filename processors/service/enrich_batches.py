"""The enrich stage: one batch of news.articles records -> entities and tags -> the enriched
topic, until Kafka acknowledged each. It runs on every worker, a partition each.

    decode (poison -> dead letter) -> enrich off the event loop (``enriching``) -> one
    message per article on ``news.enriched`` (one partition) and the batch's dead letters,
    awaiting the broker's acks (``forwarding.ForwardStep.send``)

The ordered stage (``batches.BatchHandler``) takes it from there: stories, index, tag
streams. Splitting here keeps the CPU-heavy NLP parallel across workers while everything
that needs one order of all articles (stories, alerts) sees the same order on any worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from newsflow.article import Article, encode_article
from newsflow.errors import MessageTooLargeError
from processors.service.decoding import dead_letter, decode_batch, last_per_id
from processors.service.enriching import EnrichStep
from processors.service.forwarding import ForwardStep
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport, Enriching, Received, RunBlocking
from processors.service.retry import Backoff, Retrier
from processors.store.deadletter import DeadLetter, encode_dead_letter
from processors.streams.ports import OutMessage, Producing

__all__ = ["EnrichBatchHandler"]

logger = logging.getLogger(__name__)


class EnrichBatchHandler:
    def __init__(
        self,
        *,
        enricher: Callable[[], Awaitable[Enriching]],
        producer: Producing,
        tag_prefix: str,
        run_cpu: RunBlocking,
        clock: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: Backoff | None = None,
        metrics: ProcessorMetrics | None = None,
        taxonomy_check_interval_s: float = 10.0,
        max_message_bytes: int | None = None,
    ) -> None:
        self._enricher = enricher
        self._clock = clock
        self._metrics = metrics or ProcessorMetrics()
        self._max_message_bytes = max_message_bytes
        retrier = Retrier(backoff or Backoff(), self._metrics, sleep)
        self._enrich = EnrichStep(run_cpu=run_cpu, metrics=self._metrics,
                                  taxonomy_check_interval_s=taxonomy_check_interval_s)
        self._send = ForwardStep(producer=producer, tag_prefix=tag_prefix, retrier=retrier,
                                 metrics=self._metrics, max_message_bytes=max_message_bytes)

    async def handle(self, batch: Sequence[Received]) -> BatchReport:
        started = time.monotonic()
        report = BatchReport(received=len(batch))
        now = self._clock()

        decoded, letters = decode_batch(batch, now)
        enricher = await self._enricher()
        enriched = await self._enrich(enricher, decoded, now, letters)
        enriched, report.duplicates = last_per_id(enriched)
        messages = self._messages(enriched, enricher.taxonomy_version, now, letters)
        messages += [
            OutMessage(None, letter.key, encode_dead_letter(letter, self._max_message_bytes))
            for letter in letters
        ]
        t0 = time.monotonic()
        if messages:
            await self._send.send(messages, report)
        self._metrics.hop_seconds.labels("hand-over").observe(time.monotonic() - t0)

        report.enriched = len(messages) - len(letters)
        report.dead_letters = len(letters)
        m = self._metrics
        m.articles.labels("enriched").inc(report.enriched)
        m.articles.labels("duplicate").inc(report.duplicates)
        m.articles.labels("dead_letter").inc(len(letters))
        for letter in letters:
            m.dead_letters.labels(letter.stage).inc()
        m.batch_seconds.observe(time.monotonic() - started)
        return report

    def _messages(
        self,
        enriched: list[tuple[Received, Article]],
        taxonomy_version: str,
        now: datetime,
        letters: list[DeadLetter],
    ) -> list[OutMessage]:
        """One message per article; one too large for Kafka becomes a dead letter."""
        messages: list[OutMessage] = []
        limit = self._max_message_bytes
        for received, article in enriched:
            value = encode_article(article.model_copy(
                update={"taxonomy_version": taxonomy_version}))
            if limit is not None and len(value) > limit:
                logger.warning("enriched article too large id=%s bytes=%d limit=%d",
                               article.id, len(value), limit)
                letters.append(dead_letter(received, "enrich", MessageTooLargeError(
                    f"enriched article is {len(value)} bytes, over the {limit}-byte message "
                    "limit; not indexed"), now, article.id))
                continue
            messages.append(OutMessage(None, article.id.encode(), value, enriched=True))
        return messages
