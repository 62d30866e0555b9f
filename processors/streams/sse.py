"""Tag streams over Server-Sent Events: resumable positions and the Kafka reader behind them.

Every event's ``id`` is the stream position *after* that event: the next offset of every
partition of the tag topic, e.g. ``0:42`` (one partition) or ``0:42,1:17``. A client that
reconnects with ``Last-Event-ID`` (browsers' EventSource do this by themselves) continues
exactly after the last event it received: no gap, no repeat, whatever happened meanwhile.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from newsflow.article import Article
from newsflow.errors import BrokerUnavailableError
from newsflow.settings import KafkaSettings
from newsflow_adapters.topics import ensure_topics
from processors.streams.routing import tag_topic_name
from processors.streams.subscribe import decode_record, partitions_of

__all__ = [
    "StreamEvent",
    "TagStreamReader",
    "decode_position",
    "encode_position",
    "sse_comment",
    "sse_event",
]

logger = logging.getLogger(__name__)


def encode_position(positions: Mapping[int, int]) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))


def decode_position(text: str) -> dict[int, int]:
    """Inverse of encode_position; ValueError for anything else."""
    positions: dict[int, int] = {}
    for part in text.strip().split(","):
        partition, sep, offset = part.partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise ValueError(f"not a stream position: {text!r} (expected like 0:42,1:17)")
        positions[int(partition)] = int(offset)
    return positions


def sse_event(event_id: str, data: Mapping[str, Any], event: str = "article") -> str:
    # One line of JSON: data must not contain a raw newline (json.dumps escapes them).
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def sse_comment(text: str) -> str:
    return f": {text}\n\n"


@dataclass(frozen=True)
class StreamEvent:
    partition: int
    offset: int
    article: Article | None
    position: str  # the stream position after this event (the SSE id)
    error: str | None = None


class TagStreamReader:
    """Reads one tag topic from explicit positions (no consumer group, nothing committed).
    ``topic`` reads that topic instead of the tag's (a watch's ``news.watch.<name>``)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        tag: str,
        *,
        positions: Mapping[int, int] | None = None,
        start: str = "latest",
        since: datetime | None = None,
        topic: str | None = None,
    ) -> None:
        self.topic = topic or tag_topic_name(kafka.tag_topic_prefix, tag)
        self._kafka = kafka
        self._wanted = dict(positions or {})
        self._start = start
        self._since = since
        self._consumer: Any = None
        self.positions: dict[int, int] = {}

    def open(self) -> None:
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError

        ensure_topics(self._kafka, [self.topic], self._kafka.tag_partitions)
        try:
            consumer = KafkaConsumer(**self._kafka.client_config(), group_id=None,
                                     enable_auto_commit=False, client_id="newsflow-sse")
            tps = {p: TopicPartition(self.topic, p)
                   for p in sorted(partitions_of(consumer, self.topic))}
            consumer.assign(list(tps.values()))
            ends = consumer.end_offsets(list(tps.values()))
            begins = consumer.beginning_offsets(list(tps.values()))
            times = {}
            if self._since is not None:
                wanted_ms = int(self._since.timestamp() * 1000)
                times = consumer.offsets_for_times({tp: wanted_ms for tp in tps.values()})
            for p, tp in tps.items():
                if p in self._wanted:
                    # Clamp into what Kafka still has (retention may have deleted older).
                    offset = min(max(self._wanted[p], begins[tp]), ends[tp])
                elif self._wanted:
                    offset = begins[tp]  # a partition added since the client's last event
                elif self._since is not None:
                    hit = times.get(tp)
                    offset = hit.offset if hit is not None else ends[tp]
                elif self._start == "beginning":
                    offset = begins[tp]
                else:
                    offset = ends[tp]
                consumer.seek(tp, offset)
                self.positions[p] = offset
        except KafkaError as exc:
            raise BrokerUnavailableError(f"reading {self.topic} failed: {exc}") from exc
        self._consumer = consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
            self._consumer = None

    def poll(self, timeout_s: float, max_records: int | None = None) -> list[StreamEvent]:
        from kafka.errors import KafkaError

        try:
            batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000),
                                          max_records=max_records)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"reading {self.topic} failed: {exc}") from exc
        events: list[StreamEvent] = []
        for records in batches.values():
            for record in records:
                self.positions[record.partition] = record.offset + 1
                article, error = decode_record(record)
                if error is not None:
                    logger.warning("undecodable message on tag stream at=%s[%d]@%d reason=%s",
                                   record.topic, record.partition, record.offset, error)
                events.append(StreamEvent(record.partition, record.offset, article,
                                          encode_position(self.positions), error))
        return events
