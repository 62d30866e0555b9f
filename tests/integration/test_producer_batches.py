"""The kafka-python producers (the poller's Publisher, retag's TagStreamProducer) against the
real Kafka: they take the configured batch size, and retag's sends articles up to
``max_message_bytes`` (its client's 1 MiB default request size refused larger ones)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ingest.publish import Publisher
from newsflow.settings import KafkaSettings
from processors.streams.ports import OutMessage
from processors.streams.produce import TagStreamProducer
from tests.integration.processors_support import Names, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    yield n
    n.cleanup()


def test_the_publisher_batches_with_the_configured_size(names: Names) -> None:
    kafka = KafkaSettings(articles_topic=names.articles,
                          producer_batch_bytes=300_000)
    with Publisher(kafka) as publisher:
        assert publisher._producer.config["batch_size"] == 300_000


def test_retag_sends_an_article_over_a_mebibyte(names: Names) -> None:
    kafka = KafkaSettings(tag_topic_prefix=names.tag_prefix)
    big = b"x" * (2 * 1024 * 1024)
    with TagStreamProducer(kafka, timeout_s=30) as producer:
        assert producer._producer.config["batch_size"] == kafka.producer_batch_bytes
        outcome = asyncio.run(producer.send_all([OutMessage("sanctions", b"k", big)]))
    assert outcome.unacknowledged == () and outcome.error is None
    assert read_topic(names.tag_topic("sanctions"), expect=1) == [big]
