"""Kafka adapter: produce article records, report exactly which ones the broker acknowledged.

kafka-python's producer with acks=all and idempotence (retries inside one producer session
never duplicate), keyed by article id (so one story always lands on one partition, and the
key is the Elasticsearch _id downstream). ``publish`` waits for the acknowledgements without
blocking the event loop: the producer's callbacks resolve asyncio futures.

A ``DryRunPublisher`` prints the records as JSON lines instead and acknowledges everything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any, Protocol

from newsflow.article import Article, encode_article
from newsflow.errors import BrokerUnavailableError
from newsflow.settings import KafkaSettings
from newsflow_adapters.topics import ensure_topics

__all__ = ["DryRunPublisher", "PublishResult", "Publisher", "Sink"]

log = logging.getLogger(__name__)


@dataclass
class PublishResult:
    acked: list[str] = field(default_factory=list)  # article ids the broker acknowledged
    failed: dict[str, str] = field(default_factory=dict)  # article id -> reason

    @property
    def complete(self) -> bool:
        return not self.failed


class Sink(Protocol):
    """What the poller needs from a publisher (the real one, the dry run, or a test fake)."""

    async def publish(self, articles: Sequence[Article]) -> PublishResult: ...


class _Acks:
    """The outcomes of one publish's records, set by kafka-python's sender thread.

    The event loop is woken once, when the last outcome is in, rather than once per record
    (a ``call_soon_threadsafe`` each: a write to the loop's self-pipe, a wake-up, a future
    and gather's bookkeeping per article). ``expect`` each record, ``seal`` after the last.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()  # settle runs on the sender thread
        self.outcomes: list[BaseException | None] = []  # None: acknowledged
        self._pending = 0
        self._sealed = False
        self.done: asyncio.Future[None] = loop.create_future()

    def expect(self) -> int:
        with self._lock:
            self.outcomes.append(None)
            self._pending += 1
            return len(self.outcomes) - 1

    def settle(self, index: int, outcome: BaseException | None) -> None:
        with self._lock:
            self.outcomes[index] = outcome
            self._pending -= 1
            last = self._sealed and self._pending == 0
        if last:
            self._loop.call_soon_threadsafe(self._finish)

    def seal(self) -> None:
        """No more records (called on the loop): done once all of them are settled."""
        with self._lock:
            self._sealed = True
            last = self._pending == 0
        if last:
            self._finish()

    def _finish(self) -> None:
        if not self.done.done():  # not after publish gave up waiting
            self.done.set_result(None)


class Publisher:
    """``with Publisher(settings.kafka) as p: await p.publish(articles)``."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        topic: str | None = None,
        client_id: str = "newsflow-poller",
        timeout_s: float = 30.0,
    ) -> None:
        self._kafka = kafka
        self.topic = topic or kafka.articles_topic
        self._client_id = client_id
        self._timeout_s = timeout_s
        self._producer: Any = None

    def __enter__(self) -> Publisher:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        try:
            self._producer = KafkaProducer(
                **self._kafka.producer_config(),  # acks=all, idempotent, batch and request size
                client_id=self._client_id,
                linger_ms=20,  # batches across the feeds polled at the same moment
                max_block_ms=int(self._timeout_s * 1000),
                request_timeout_ms=int(self._timeout_s * 1000),
                delivery_timeout_ms=int(self._timeout_s * 1000) + 20_000,
                bootstrap_timeout_ms=10_000,
            )
        except KafkaError as exc:
            raise BrokerUnavailableError(
                f"Kafka unreachable at {self._kafka.bootstrap_servers}: {exc}"
            ) from exc
        ensure_topics(self._kafka, [self.topic], self._kafka.articles_partitions,
                      client_id=f"{self._client_id}-admin")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, timeout_s: float = 10.0) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=timeout_s)
            finally:
                self._producer = None

    async def publish(self, articles: Sequence[Article]) -> PublishResult:
        """Produce ``articles``; return which ids were acknowledged and which failed why."""
        if not articles:
            return PublishResult()
        if self._producer is None:
            raise RuntimeError("use Publisher as a context manager")
        from kafka.errors import KafkaError

        loop = asyncio.get_running_loop()
        acks = _Acks(loop)
        sent_ids: list[str] = []
        result = PublishResult()
        for article in articles:
            try:
                sent = self._producer.send(self.topic, key=article.id.encode("ascii"),
                                           value=encode_article(article))
            except KafkaError as exc:
                result.failed[article.id] = f"{type(exc).__name__}: {exc}"
                continue
            index = acks.expect()
            sent_ids.append(article.id)
            sent.add_callback(lambda _md, i=index: acks.settle(i, None))
            sent.add_errback(lambda exc, i=index: acks.settle(i, exc))
        if sent_ids:
            acks.seal()
            try:
                await asyncio.wait_for(acks.done, timeout=self._timeout_s + 30.0)
            except TimeoutError as exc:
                raise BrokerUnavailableError(
                    f"Kafka did not acknowledge {len(sent_ids)} articles in time"
                ) from exc
            for ident, outcome in zip(sent_ids, acks.outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    result.failed[ident] = f"{type(outcome).__name__}: {outcome}"
                else:
                    result.acked.append(ident)
        if result.failed and not result.acked:
            first = next(iter(result.failed.values()))
            raise BrokerUnavailableError(
                f"Kafka acknowledged none of {len(articles)} articles: {first}"
            )
        return result


    def produced_since(self, since: float, feed_urls: set[str]) -> dict[str, set[str]]:
        """Article ids produced for these feeds at or after ``since`` (epoch seconds).

        The recovery read after a crash between Kafka's acknowledgement and the state save:
        it finds the articles that did reach the topic (broker timestamps are the
        producer's send times), so that they are not produced a second time.
        """
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError

        found: dict[str, set[str]] = {}
        try:
            consumer = KafkaConsumer(**self._kafka.client_config(), group_id=None,
                                     enable_auto_commit=False,
                                     client_id=f"{self._client_id}-recovery")
        except KafkaError as exc:
            raise BrokerUnavailableError(
                f"Kafka unreachable for the recovery read: {exc}") from exc
        try:
            parts = [TopicPartition(self.topic, p)
                     for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
            if not parts:
                return found
            consumer.assign(parts)
            starts = consumer.offsets_for_times({tp: int(since * 1000) for tp in parts})
            ends = consumer.end_offsets(parts)
            todo = {}
            for tp in parts:
                start = starts.get(tp)
                if start is not None and start.offset < ends[tp]:
                    consumer.seek(tp, start.offset)
                    todo[tp] = ends[tp]
            consumer.pause(*[tp for tp in parts if tp not in todo])
            while todo:
                batch = consumer.poll(timeout_ms=1000)
                for tp, records in batch.items():
                    for record in records:
                        if record.offset >= todo.get(tp, 0):
                            continue
                        feed_url = _feed_url_of(record.value)
                        if feed_url in feed_urls and record.key:
                            found.setdefault(feed_url, set()).add(record.key.decode("ascii"))
                for tp in list(todo):
                    if consumer.position(tp) >= todo[tp]:
                        del todo[tp]
                        consumer.pause(tp)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"recovery read of {self.topic} failed: {exc}") from exc
        finally:
            consumer.close()
        return found


def _feed_url_of(value: bytes | None) -> str | None:
    if not value:
        return None
    try:
        data = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    url = data.get("feed_url") if isinstance(data, dict) else None
    return url if isinstance(url, str) else None


class DryRunPublisher:
    """Prints each record as one JSON line and acknowledges it; no broker involved."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout
        self.count = 0

    async def publish(self, articles: Sequence[Article]) -> PublishResult:
        for article in articles:
            self._stream.write(encode_article(article).decode("utf-8") + "\n")
        self._stream.flush()
        self.count += len(articles)
        return PublishResult(acked=[a.id for a in articles])
