"""Kafka topics that must exist before anyone produces or subscribes (kafka-python admin).

The one place both sides create topics: the poller (news.articles, its assignment topic)
and the worker, retag, subscribe and the SSE streams (news.articles, tag topics). A consumer
group subscribed to a topic that does not exist yet gets no partitions and only notices the
topic at its next metadata refresh (minutes later); creating the topics first, with our
partition counts and the configured replication, avoids that and Kafka's auto-created single
partition.

CreateTopics answers once the controller has committed the topics; the broker's metadata cache
applies them a moment later (KRaft), so a client asking at once may find no partitions or no
leader. ensure_topics returns only when the metadata shows every topic it created with a
leader for each partition.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from newsflow.errors import BrokerUnavailableError
from newsflow.settings import KafkaSettings

__all__ = ["ensure_topics"]

# How long a created topic may take to show in the broker's metadata (usually milliseconds).
METADATA_WAIT_MS = 10_000

logger = logging.getLogger(__name__)


def ensure_topics(
    kafka: KafkaSettings,
    topics: Sequence[str],
    partitions: int,
    *,
    configs: Mapping[str, str] | None = None,
    client_id: str | None = None,
) -> None:
    """Create those of ``topics`` that do not exist yet (idempotent), with ``partitions``,
    ``kafka.replication_factor`` and the topic ``configs`` (e.g. retention.ms), and wait until
    the broker's metadata shows them with a leader for every partition."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    extra = {"client_id": client_id} if client_id else {}
    try:
        admin = KafkaAdminClient(**kafka.client_config(), **extra)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"cannot reach Kafka at {kafka.bootstrap_servers}: "
                                     f"{exc}") from exc
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            try:
                admin.create_topics({t: {"num_partitions": partitions,
                                         "replication_factor": kafka.replication_factor,
                                         **({"configs": dict(configs)} if configs else {})}
                                     for t in missing})
                logger.info("topics created topics=%s partitions=%d replication=%d",
                            ",".join(missing), partitions, kafka.replication_factor)
            except TopicAlreadyExistsError:
                pass  # someone else created it between list and create: it is there
            admin.wait_for_topics(missing, timeout_ms=METADATA_WAIT_MS)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"creating topics failed: {exc}") from exc
    finally:
        admin.close()
