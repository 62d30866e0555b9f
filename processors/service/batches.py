"""The ordered stage: one batch of news.enriched records (one partition, so every worker
sees one order): stories, index, tag streams. The orchestrator.

BatchHandler takes its adapters as arguments (unit tests pass fakes) and runs the steps, each
in its own module:

    open the hand-over envelopes and decode (``decoding``: poison -> dead letter) ->
    watches (``ports.WatchStage``: the saved searches each article matches) -> stories
    (``ports.StoryStage``: story_id, dup_of, the story's sources, in arrival order) -> bulk
    index, retrying transient failures with backoff until Elasticsearch acknowledges
    (``indexing``: rejected documents -> dead letter) -> forward each tagged article to its
    tag topics and send the dead letters, awaiting the broker's acks (``forwarding``) -> the
    stories' own documents and snapshots.

It returns only when all of that is acknowledged; the Faust agent (processors.service.agents)
lets the stream advance only then. Per-item problems never raise. The enrich stage before it
is ``enrich_batches.EnrichBatchHandler``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from newsflow.article import Article
from processors.service.decoding import decode_batch, expand_envelopes, last_per_id
from processors.service.forwarding import ForwardStep
from processors.service.indexing import IndexStep
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import (
    BatchReport,
    Received,
    RunBlocking,
    StoryStage,
    WatchStage,
)
from processors.service.retry import Backoff, Retrier
from processors.store.deadletter import DeadLetter
from processors.store.ports import Indexing
from processors.streams.ports import Producing
from processors.streams.routing import Route

__all__ = ["BatchHandler"]


class BatchHandler:
    def __init__(
        self,
        *,
        index: Indexing,
        producer: Producing,
        alias: str,
        tag_prefix: str,
        run_io: RunBlocking,
        clock: Callable[[], datetime],
        stories: StoryStage | None = None,
        watches: WatchStage | None = None,
        watch_prefix: str = "news.watch.",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: Backoff | None = None,
        metrics: ProcessorMetrics | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        self._clock = clock
        self._stories = stories
        self._watches = watches
        self._metrics = metrics or ProcessorMetrics()
        retrier = Retrier(backoff or Backoff(), self._metrics, sleep)
        # Blocking ES calls run off the event loop, on their own executor (run_io).
        self._index = IndexStep(index=index, alias=alias, run_io=run_io, retrier=retrier,
                                metrics=self._metrics, clock=clock)
        self._forward = ForwardStep(producer=producer, tag_prefix=tag_prefix, retrier=retrier,
                                    metrics=self._metrics, max_message_bytes=max_message_bytes,
                                    watch_prefix=watch_prefix)

    async def prepare(self) -> None:
        """Index template and alias in place (retried until Elasticsearch answers)."""
        await self._index.prepare()
        if self._stories is not None:
            await self._stories.prepare()
        if self._watches is not None:
            await self._watches.prepare()

    async def handle(self, messages: Sequence[Received]) -> BatchReport:
        started = time.monotonic()
        batch = expand_envelopes(messages)
        report = BatchReport(received=len(batch))
        now = self._clock()

        decoded, letters = decode_batch(batch, now)
        if self._watches is not None and decoded:
            # Before the stories: the alerts that ride on them count watch keys too.
            matched = await self._watches.match([article for _, article in decoded])
            decoded = [(received, article) for (received, _), article
                       in zip(decoded, matched, strict=True)]
        if self._stories is not None:
            # Every decoded record in its order, repeats included: the engine answers a
            # repeat with the assignment it gave the first time.
            decoded = await self._stories.assign(decoded)
            report.stories = len(decoded)
        articles, report.duplicates = last_per_id(decoded)
        indexed = await self._index(articles, now, letters, report)
        routes = await self._forward(indexed, now, letters, report)
        if self._stories is not None:
            await self._stories.commit(report)

        report.indexed = len(indexed)
        report.dead_letters = len(letters)
        tag_routes = [route for route in routes if isinstance(route, Route)]
        report.tag_messages = len(tag_routes)
        report.watch_messages = len(routes) - len(tag_routes)
        for route in tag_routes:
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
