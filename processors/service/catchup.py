"""Read a stretch of the enriched topic again, to bring the story engine up to where the
ordered stage resumes (after a restart, or when its partition comes back from another
worker). Blocking (kafka-python): run it off the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from newsflow.errors import BrokerUnavailableError
from newsflow.settings import KafkaSettings

__all__ = ["read_range"]


def read_range(
    kafka: KafkaSettings, topic: str, start: int, end: int, *, timeout_s: float = 120.0
) -> Iterator[tuple[int, bytes | None]]:
    """(offset, value) of partition 0 of ``topic`` from ``start`` (or the oldest record
    still kept, if later) up to, not including, ``end``."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    if end <= start:
        return
    tp = TopicPartition(topic, 0)
    try:
        consumer = KafkaConsumer(**kafka.client_config(), enable_auto_commit=False,
                                 group_id=None, client_id="newsflow-stories-catchup")
    except KafkaError as exc:
        raise BrokerUnavailableError(f"catching up on {topic}: {exc}") from exc
    try:
        consumer.assign([tp])
        oldest = consumer.beginning_offsets([tp])[tp]
        position = max(start, oldest)
        consumer.seek(tp, position)
        deadline = time.monotonic() + timeout_s
        while position < end:
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(
                    f"catching up on {topic}: stuck at offset {position} of {end}")
            for records in consumer.poll(timeout_ms=500, max_records=2000).values():
                for record in records:
                    if record.offset >= end:
                        return
                    position = record.offset + 1
                    deadline = time.monotonic() + timeout_s
                    yield record.offset, record.value
    except KafkaError as exc:
        raise BrokerUnavailableError(f"catching up on {topic}: {exc}") from exc
    finally:
        consumer.close()
