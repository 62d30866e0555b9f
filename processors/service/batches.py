"""One batch of news.articles records: decode, enrich, index, forward. The orchestrator.

BatchHandler takes its adapters as arguments (unit tests pass fakes) and runs the steps, each
in its own module:

    decode (``decoding``: poison -> dead letter) -> enrich off the event loop (``enriching``)
    -> bulk index, retrying transient failures with backoff until Elasticsearch acknowledges
    (``indexing``: rejected documents -> dead letter) -> forward each tagged article to its tag
    topics and send the dead letters, awaiting the broker's acks (``forwarding``).

It returns only when all of that is acknowledged; the Faust agent (processors.service.agents)
lets the stream advance only then. Per-item problems never raise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from newsflow.article import Article
from processors.service.decoding import decode_batch, last_per_id
from processors.service.enriching import EnrichStep
from processors.service.forwarding import ForwardStep
from processors.service.indexing import IndexStep
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport, Enriching, Received, RunBlocking
from processors.service.retry import Backoff, Retrier
from processors.store.deadletter import DeadLetter
from processors.store.ports import Indexing
from processors.streams.ports import Producing

__all__ = ["BatchHandler"]


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
        self._clock = clock
        self._metrics = metrics or ProcessorMetrics()
        retrier = Retrier(backoff or Backoff(), self._metrics, sleep)
        # CPU-heavy enrichment and blocking ES calls run off the event loop, each on its
        # own executor (run_cpu, run_io).
        self._enrich = EnrichStep(run_cpu=run_cpu, metrics=self._metrics,
                                  taxonomy_check_interval_s=taxonomy_check_interval_s)
        self._index = IndexStep(index=index, alias=alias, run_io=run_io, retrier=retrier,
                                metrics=self._metrics, clock=clock)
        self._forward = ForwardStep(producer=producer, tag_prefix=tag_prefix, retrier=retrier,
                                    metrics=self._metrics, max_message_bytes=max_message_bytes)

    async def prepare(self) -> None:
        """Index template and alias in place (retried until Elasticsearch answers)."""
        await self._index.prepare()

    async def handle(self, batch: Sequence[Received]) -> BatchReport:
        started = time.monotonic()
        report = BatchReport(received=len(batch))
        now = self._clock()

        decoded, letters = decode_batch(batch, now)
        enricher = await self._enricher()
        enriched = await self._enrich(enricher, decoded, now, letters)
        enriched, report.duplicates = last_per_id(enriched)
        indexed = await self._index(enriched, enricher.taxonomy_version, now, letters, report)
        routes = await self._forward(indexed, now, letters, report)

        report.indexed = len(indexed)
        report.dead_letters = len(letters)
        report.tag_messages = len(routes)
        for route in routes:
            report.tags[route.tag] = report.tags.get(route.tag, 0) + 1
        self._count(report, [article for _, article in indexed], letters, now)
        self._metrics.batch_seconds.observe(time.monotonic() - started)
        return report

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
