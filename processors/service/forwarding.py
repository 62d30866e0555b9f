"""The forward step of a batch: each indexed article to the tag streams of its tags, and the
batch's dead letters to news.deadletter, until Kafka acknowledged every message.

A retry sends only the messages Kafka did not acknowledge. A tag-stream copy too large for one
Kafka message becomes a dead letter instead (the article is indexed, not forwarded), so that a
send that cannot work never stalls the stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime

from newsflow.article import Article
from newsflow.errors import BrokerUnavailableError, MessageTooLargeError
from processors.service.decoding import dead_letter
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport, Received
from processors.service.retry import Retrier
from processors.store.deadletter import DeadLetter, encode_dead_letter
from processors.streams.ports import OutMessage, Producing
from processors.streams.routing import Route, WatchRoute, route_articles, route_watches

__all__ = ["ForwardStep"]

logger = logging.getLogger(__name__)


class ForwardStep:
    def __init__(
        self,
        *,
        producer: Producing,
        tag_prefix: str,
        retrier: Retrier,
        metrics: ProcessorMetrics,
        max_message_bytes: int | None = None,
        watch_prefix: str = "news.watch.",
    ) -> None:
        self._watch_prefix = watch_prefix
        self._producer = producer
        self._tag_prefix = tag_prefix
        self._retrier = retrier
        self._metrics = metrics
        self._max_message_bytes = max_message_bytes

    async def __call__(
        self,
        indexed: Sequence[tuple[Received, Article]],
        now: datetime,
        letters: list[DeadLetter],
        report: BatchReport,
    ) -> list[Route | WatchRoute]:
        """Send the routes of ``indexed`` (tag and watch streams) and every letter; returns
        the routes sent."""
        articles = [article for _, article in indexed]
        tag_routes, skipped = route_articles(articles, self._tag_prefix)
        for article_id, tag in skipped:
            logger.warning("tag cannot name a topic, not forwarded id=%s tag=%s", article_id, tag)
        encoded = {route.article_id: route.value for route in tag_routes}
        routes: list[Route | WatchRoute] = [
            *tag_routes, *route_watches(articles, self._watch_prefix, encoded)]
        received_of = {article.id: received for received, article in indexed}
        routes = self._fitting(routes, received_of, now, letters)
        messages = [route.message() for route in routes]
        messages += [
            OutMessage(None, letter.key, encode_dead_letter(letter, self._max_message_bytes))
            for letter in letters
        ]
        t0 = time.monotonic()
        await self.send(messages, report)
        self._metrics.hop_seconds.labels("forward").observe(time.monotonic() - t0)
        return routes

    def _fitting(
        self,
        routes: list[Route | WatchRoute],
        received_of: dict[str, Received],
        now: datetime,
        letters: list[DeadLetter],
    ) -> list[Route | WatchRoute]:
        """Routes that fit in one Kafka message; the others' articles become dead letters."""
        fitting: list[Route | WatchRoute] = []
        refused: set[str] = set()
        limit = self._max_message_bytes
        for route in routes:
            if route.fits(limit):
                fitting.append(route)
                continue
            if route.article_id in refused:
                continue
            refused.add(route.article_id)
            logger.warning("article too large for its tag streams id=%s bytes=%d limit=%s",
                           route.article_id, len(route.value), limit)
            too_large = MessageTooLargeError(
                f"enriched article is {len(route.value)} bytes, over the "
                f"{limit}-byte message limit of the tag streams; "
                "it is indexed but not forwarded"
            )
            letters.append(
                dead_letter(received_of[route.article_id], "route", too_large, now,
                            route.article_id)
            )
        return fitting

    async def send(self, messages: list[OutMessage], report: BatchReport) -> None:
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
            await self._retrier.until_done(
                "kafka",
                lambda: f"acknowledgement of {len(pending)} of {len(messages)} messages "
                "(only these are sent again)",
                send,
                BrokerUnavailableError,
                report,
            )
