"""Kafka topics that must exist before a consumer subscribes (kafka-python admin client).

A consumer group subscribed to a topic that does not exist yet gets no partitions and only
notices the topic at its next metadata refresh (minutes later); creating the topics first,
with our partition counts, avoids that and Kafka's auto-created single partition.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from newsflow.errors import BrokerUnavailableError
from newsflow.settings import KafkaSettings

__all__ = ["ensure_topics"]

logger = logging.getLogger(__name__)


def ensure_topics(kafka: KafkaSettings, topics: Sequence[str], partitions: int) -> None:
    """Create those of ``topics`` that do not exist yet (idempotent)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(**kafka.client_config())
    except KafkaError as exc:
        raise BrokerUnavailableError(f"cannot reach Kafka at {kafka.bootstrap_servers}: "
                                     f"{exc}") from exc
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            try:
                admin.create_topics({t: {"num_partitions": partitions,
                                         "replication_factor": kafka.replication_factor}
                                     for t in missing})
                logger.info("topics created topics=%s partitions=%d replication=%d",
                            ",".join(missing), partitions, kafka.replication_factor)
            except TopicAlreadyExistsError:
                pass
    except KafkaError as exc:
        raise BrokerUnavailableError(f"creating topics failed: {exc}") from exc
    finally:
        admin.close()
