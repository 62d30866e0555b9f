"""The faust.App, built from settings. Nothing else lives here.

Built by a function rather than at import time: settings are loaded once by the CLI and passed
down, and tests build apps with their own topic names and group id. Agents are registered
explicitly by processors.service.agents.register_agents (no autodiscovery).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsflow.settings import Settings

if TYPE_CHECKING:
    import faust

__all__ = ["broker_urls", "build_app"]


def broker_urls(bootstrap_servers: str) -> list[str]:
    """``host1:9092,host2:9092`` -> Faust's ``["kafka://host1:9092", ...]``."""
    return [f"kafka://{part.strip()}" for part in bootstrap_servers.split(",") if part.strip()]


def build_app(settings: Settings) -> faust.App:
    import faust

    from processors.service.idempotent import IdempotentApp
    from processors.streams.partitioner import partition_for

    kafka = settings.kafka
    processors = settings.processors
    credentials = None
    if kafka.sasl_mechanism and kafka.sasl_username and kafka.sasl_password:
        credentials = faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            mechanism=kafka.sasl_mechanism,
        )
    return IdempotentApp(
        processors.app_id,  # also the consumer group id
        broker=broker_urls(kafka.bootstrap_servers),
        broker_credentials=credentials,
        store="memory://",  # no tables yet; a durable store comes with the first table
        autodiscover=False,
        datadir=str(processors.data_dir / processors.app_id),
        # Values are schema-versioned JSON decoded by newsflow.article, not faust.Record.
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=kafka.articles_partitions,
        topic_replication_factor=kafka.replication_factor,
        # A new group starts from the oldest article, never skips what is already there.
        consumer_auto_offset_reset="earliest",
        # acks=all for tag streams and dead letters: the batch is acked only after these.
        producer_acks=-1,
        producer_max_request_size=kafka.max_message_bytes,
        # Not aiokafka's 16 KiB: a full batch makes the next send to its partition wait for
        # the broker (settings.KafkaSettings.producer_batch_bytes).
        producer_max_batch_size=kafka.producer_batch_bytes,
        # The default rule, without hashing keys for one-partition topics (the streams).
        producer_partitioner=partition_for,
        # Do not wait for in-flight events on shutdown or rebalance: a held batch (see
        # agents) may wait for Elasticsearch indefinitely, and SIGTERM must still stop the
        # worker. The held batch is simply not committed and is delivered again.
        stream_wait_empty=False,
        # A worker that dies without leaving keeps its partitions this long; heartbeats must
        # come well within it (Kafka's rule of thumb: a third).
        broker_session_timeout=processors.session_timeout_s,
        broker_heartbeat_interval=min(3.0, processors.session_timeout_s / 3),
        # 0 disables Faust's web server (tests run several workers side by side).
        web_enabled=bool(processors.web_port),
        web_port=processors.web_port or 6066,
        web_bind=processors.web_host,
        web_in_thread=False,
    )
