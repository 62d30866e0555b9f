"""The enrich stage: one batch of news.articles records -> entities and tags -> the enriched
topic, until Kafka acknowledged each. It runs on every worker, a partition each.

    decode (poison -> dead letter) -> enrich off the event loop (``enriching``) -> the
    batch's articles in hand-over envelopes on ``news.enriched`` (one partition; one message
    for about a hundred articles, ``streams.envelope``) and the batch's dead letters,
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
from processors.streams.envelope import DEFAULT_ENVELOPE_BYTES, pack
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
        handed = self._records(enriched, enricher.taxonomy_version, now, letters)
        messages = self._envelopes(handed)
        messages += [
            OutMessage(None, letter.key, encode_dead_letter(letter, self._max_message_bytes))
            for letter in letters
        ]
        t0 = time.monotonic()
        if messages:
            await self._send.send(messages, report)
        self._metrics.hop_seconds.labels("hand-over").observe(time.monotonic() - t0)

        report.enriched = len(handed)
        report.dead_letters = len(letters)
        m = self._metrics
        m.articles.labels("enriched").inc(report.enriched)
        m.articles.labels("duplicate").inc(report.duplicates)
        m.articles.labels("dead_letter").inc(len(letters))
        for letter in letters:
            m.dead_letters.labels(letter.stage).inc()
        m.batch_seconds.observe(time.monotonic() - started)
        return report

    def _envelopes(self, records: list[tuple[str, bytes]]) -> list[OutMessage]:
        """The batch's records in as few messages as fit; each keyed by its first article."""
        cap = DEFAULT_ENVELOPE_BYTES
        if self._max_message_bytes is not None:
            cap = min(cap, self._max_message_bytes)
        return [OutMessage(None, records[packed.first][0].encode(), packed.value, enriched=True)
                for packed in pack([value for _, value in records], cap)]

    def _records(
        self,
        enriched: list[tuple[Received, Article]],
        taxonomy_version: str,
        now: datetime,
        letters: list[DeadLetter],
    ) -> list[tuple[str, bytes]]:
        """(id, encoded record) per article; one too large for Kafka becomes a dead letter."""
        records: list[tuple[str, bytes]] = []
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
            records.append((article.id, value))
        return records
