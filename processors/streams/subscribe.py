"""Subscribing to tag streams (``news.tag.<tag>``) with kafka-python.

Two modes:

- **without a group**: the subscriber assigns itself every partition of the tag topics and
  starts at the end (new articles only), at the beginning (``from_beginning``), or at the
  first message written at/after ``since``. Nothing is committed.
- **with a group** (``group``): Kafka's group protocol, auto-commit off. The offset of each
  message is committed right after the caller handled it (the CLI: printed it), so a
  subscriber stopped and started again resumes after the last article it emitted: no gap, no
  repeat (a kill -9 between emitting and committing can repeat that one message). A group
  without committed offsets starts at the end, or at the beginning with ``from_beginning``;
  ``since`` moves the group to that time on every start.

``since`` uses the tag message's Kafka timestamp, i.e. when the worker forwarded the
article (shortly after indexing), not ``published_at``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from newsflow.article import Article, decode_article
from newsflow.errors import BrokerUnavailableError, ConfigError, SchemaError
from newsflow.settings import KafkaSettings
from newsflow_adapters.topics import ensure_topics
from processors.streams.routing import tag_topic_name

__all__ = ["Delivery", "TagSubscriber", "decode_record", "partitions_of"]

logger = logging.getLogger(__name__)


def partitions_of(consumer: Any, topic: str, timeout_s: float = 30) -> set[int]:
    """The topic's partitions; waits for the metadata of a topic created just now."""
    deadline = time.monotonic() + timeout_s
    while True:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        if time.monotonic() > deadline:
            raise BrokerUnavailableError(f"no partitions found for topic {topic}")
        time.sleep(0.2)


def decode_record(record: Any) -> tuple[Article | None, str | None]:
    """The article a tag-stream record carries, or None and why it is not one."""
    try:
        return decode_article(record.value or b""), None
    except SchemaError as exc:
        return None, str(exc)


@dataclass(frozen=True)
class Delivery:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    article: Article | None
    error: str | None = None

    @property
    def position(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class TagSubscriber:
    """Iterate over the articles arriving on one or more tag topics, and on ``topics``
    given by name (the watch streams ``news.watch.<name>``)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        tags: Sequence[str],
        *,
        group: str | None = None,
        from_beginning: bool = False,
        since: datetime | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        if not tags and not topics:
            raise ConfigError("subscribe needs at least one tag or topic")
        try:
            self.topics = [tag_topic_name(kafka.tag_topic_prefix, tag) for tag in tags]
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        self.topics += [topic for topic in dict.fromkeys(topics) if topic not in self.topics]
        self._kafka = kafka
        self._group = group
        self._from_beginning = from_beginning
        self._since = since
        self._consumer: Any = None

    def __enter__(self) -> TagSubscriber:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError

        ensure_topics(self._kafka, self.topics, self._kafka.tag_partitions)
        try:
            consumer = KafkaConsumer(
                **self._kafka.client_config(),
                group_id=self._group,
                enable_auto_commit=False,
                auto_offset_reset="earliest" if self._from_beginning else "latest",
                client_id="newsflow-subscribe",
            )
        except KafkaError as exc:
            raise BrokerUnavailableError(f"cannot reach Kafka at "
                                         f"{self._kafka.bootstrap_servers}: {exc}") from exc
        self._consumer = consumer
        since = self._since

        def seek_since(partitions: Sequence[TopicPartition]) -> None:
            if since is None or not partitions:
                return
            wanted = {tp: int(since.timestamp() * 1000) for tp in partitions}
            found = consumer.offsets_for_times(wanted)
            ends = consumer.end_offsets(list(partitions))
            for tp in partitions:
                hit = found.get(tp)
                consumer.seek(tp, hit.offset if hit is not None else ends[tp])

        if self._group:
            class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
                def on_partitions_revoked(self, revoked: Any) -> None:
                    pass

                def on_partitions_assigned(self, assigned: Any) -> None:
                    logger.info("partitions assigned %s",
                                ",".join(f"{tp.topic}[{tp.partition}]" for tp in assigned))
                    seek_since(list(assigned))

            consumer.subscribe(self.topics, listener=Listener())
            logger.info("subscribed topics=%s group=%s", ",".join(self.topics), self._group)
        else:
            partitions = [TopicPartition(topic, p) for topic in self.topics
                          for p in sorted(partitions_of(consumer, topic))]
            consumer.assign(partitions)
            if since is not None:
                seek_since(partitions)
            elif self._from_beginning:
                consumer.seek_to_beginning(*partitions)
            else:
                consumer.seek_to_end(*partitions)
                for tp in partitions:  # resolve now, so that later arrivals are not skipped
                    consumer.position(tp)
            logger.info("subscribed topics=%s start=%s", ",".join(self.topics),
                        since.isoformat() if since else
                        "beginning" if self._from_beginning else "end")

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
            self._consumer = None

    def poll(self, timeout_s: float, max_records: int | None = None) -> list[Delivery]:
        from kafka.errors import KafkaError

        try:
            batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000),
                                          max_records=max_records)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"polling Kafka failed: {exc}") from exc
        deliveries: list[Delivery] = []
        for records in batches.values():
            for record in records:
                article, error = decode_record(record)
                deliveries.append(Delivery(record.topic, record.partition, record.offset,
                                           record.timestamp, article, error))
        # Kept in partition order: committing a later offset first would skip the earlier.
        return deliveries

    def commit(self, delivery: Delivery) -> None:
        """Remember ``delivery`` as handled (groups only)."""
        if not self._group:
            return
        from kafka import TopicPartition
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata

        tp = TopicPartition(delivery.topic, delivery.partition)
        try:
            self._consumer.commit({tp: OffsetAndMetadata(delivery.offset + 1, "", -1)})
        except KafkaError as exc:
            raise BrokerUnavailableError(f"committing {delivery.position} failed: {exc}") \
                from exc

    def deliveries(
        self,
        *,
        max_messages: int | None = None,
        idle_timeout_s: float | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        poll_s: float = 0.5,
    ) -> Iterator[Delivery]:
        """Yield deliveries until ``max_messages``, ``idle_timeout_s`` without any, or
        ``should_stop()``. The caller commits each one once it handled it (``commit``)."""
        emitted = 0
        last_arrival = time.monotonic()
        while not should_stop():
            remaining = None if max_messages is None else max_messages - emitted
            if remaining is not None and remaining <= 0:
                return
            batch = self.poll(poll_s, max_records=remaining)
            if not batch:
                if idle_timeout_s is not None and \
                        time.monotonic() - last_arrival >= idle_timeout_s:
                    return
                continue
            last_arrival = time.monotonic()
            for index, delivery in enumerate(batch):
                if should_stop():
                    self._rewind(batch[index:])
                    return
                yield delivery
                emitted += 1

    def _rewind(self, undelivered: Sequence[Delivery]) -> None:
        """Seek back to the first undelivered message of each partition (no group commit
        went past them, but a later poll in this process must see them again)."""
        from kafka import TopicPartition

        first: dict[tuple[str, int], int] = {}
        for d in undelivered:
            first.setdefault((d.topic, d.partition), d.offset)
        for (topic, partition), offset in first.items():
            self._consumer.seek(TopicPartition(topic, partition), offset)
