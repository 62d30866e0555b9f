"""TagStreamProducer (retag's producer) against the real Kafka: tag messages and dead letters
land on their topics, which it creates on first use (dead letters with one partition, tag
topics with ``kafka.tag_partitions``); an empty batch sends nothing; it sends articles up to
``max_message_bytes`` (its client's 1 MiB default request size refused larger ones). It and
the poller's Publisher take ``KafkaSettings.producer_config`` (batch size, idempotence)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ingest.publish import Publisher
from newsflow.settings import KafkaSettings
from processors.streams.ports import OutMessage
from processors.streams.produce import TagStreamProducer
from tests.integration.processors_support import Names, read_topic
from tests.integration.test_topics import describe

pytestmark = pytest.mark.integration


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    yield n
    n.cleanup()


def test_sends_to_tag_topics_and_dead_letters_it_creates(names: Names) -> None:
    kafka = KafkaSettings(tag_topic_prefix=names.tag_prefix,
                          deadletter_topic=names.deadletter, tag_partitions=3)
    messages = [OutMessage("sanctions", b"a", b"1"), OutMessage(None, b"b", b"2"),
                OutMessage("sanctions", b"c", b"3")]
    with TagStreamProducer(kafka, timeout_s=30) as producer:
        assert asyncio.run(producer.send_all([])).unacknowledged == ()
        outcome = asyncio.run(producer.send_all(messages))
    assert outcome.unacknowledged == () and outcome.error is None
    assert sorted(read_topic(names.tag_topic("sanctions"), expect=2)) == [b"1", b"3"]
    assert read_topic(names.deadletter, expect=1) == [b"2"]
    assert describe(names.tag_topic("sanctions"))[0] == 3
    assert describe(names.deadletter)[0] == 1


def test_retag_sends_an_article_over_a_mebibyte(names: Names) -> None:
    kafka = KafkaSettings(tag_topic_prefix=names.tag_prefix)
    big = b"x" * (2 * 1024 * 1024)
    with TagStreamProducer(kafka, timeout_s=30) as producer:
        assert producer._producer.config["batch_size"] == kafka.producer_batch_bytes
        assert producer._producer.config["enable_idempotence"]  # as the poller's: no repeats
        outcome = asyncio.run(producer.send_all([OutMessage("sanctions", b"k", big)]))
    assert outcome.unacknowledged == () and outcome.error is None
    assert read_topic(names.tag_topic("sanctions"), expect=1) == [big]


def test_the_publisher_batches_with_the_configured_size(names: Names) -> None:
    kafka = KafkaSettings(articles_topic=names.articles, producer_batch_bytes=300_000)
    with Publisher(kafka) as publisher:
        assert publisher._producer.config["batch_size"] == 300_000
