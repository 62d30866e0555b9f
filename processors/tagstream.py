"""Producing to tag streams outside the worker (``newsflow retag``), with kafka-python.

``send_all`` returns once the broker acknowledged every message (acks=all) or raises
BrokerUnavailableError.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from newsflow.errors import BrokerUnavailableError
from newsflow.settings import KafkaSettings
from newsflow.topics import ensure_topics
from processors.routing import Route

__all__ = ["TagStreamProducer"]


class TagStreamProducer:
    def __init__(self, kafka: KafkaSettings, *, timeout_s: float = 60) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._producer: Any = None
        self._ready_topics: set[str] = set()

    def __enter__(self) -> TagStreamProducer:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        try:
            self._producer = KafkaProducer(**self._kafka.client_config(), acks="all",
                                           client_id="newsflow-retag")
        except KafkaError as exc:
            raise BrokerUnavailableError(f"cannot reach Kafka at "
                                         f"{self._kafka.bootstrap_servers}: {exc}") from exc
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self._timeout_s)
            self._producer = None

    def send_all(self, routes: Sequence[Route]) -> int:
        from kafka.errors import KafkaError

        if not routes:
            return 0
        new_topics = sorted({r.topic for r in routes} - self._ready_topics)
        if new_topics:
            ensure_topics(self._kafka, new_topics, self._kafka.tag_partitions)
            self._ready_topics.update(new_topics)
        try:
            futures = [self._producer.send(r.topic, key=r.key, value=r.value) for r in routes]
            for future in futures:
                future.get(timeout=self._timeout_s)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"producing to tag streams failed: {exc}") from exc
        return len(futures)
