"""TagStreamProducer (retag's producer) against the real Kafka: tag messages and dead letters
land on their topics, which it creates on first use (dead letters with one partition, tag
topics with ``kafka.tag_partitions``); an empty batch sends nothing; it sends articles up to
``max_message_bytes`` (its client's 1 MiB default request size refused larger ones). It and
the poller's Publisher take ``KafkaSettings.producer_config`` (batch size, idempotence).
The worker's aiokafka producer: ``produce.fetch_metadata`` gets the metadata of many topics
the client does not know yet in one request, where asking topic by topic (what sends made
one after the other do) makes one request each."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from ingest.publish import Publisher
from newsflow.settings import KafkaSettings
from newsflow_adapters.topics import ensure_topics
from processors.streams.ports import OutMessage
from processors.streams.produce import TagStreamProducer, fetch_metadata
from tests.integration.processors_support import KAFKA, Names, read_topic
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


async def metadata_requests(topics: list[str], ask: Any) -> tuple[int, list[Any]]:
    """How many metadata requests a fresh producer's client makes while ``ask(producer,
    topics)`` runs, and each topic's partitions afterwards."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        client = producer.client
        made = 0
        update = client._metadata_update  # the one place aiokafka sends a MetadataRequest

        async def counted(*args: Any) -> Any:
            nonlocal made
            made += 1
            return await update(*args)

        client._metadata_update = counted
        await ask(producer, topics)
        return made, [client.cluster.partitions_for_topic(t) for t in topics]
    finally:
        await producer.stop()


async def one_by_one(producer: AIOKafkaProducer, topics: list[str]) -> None:
    for topic in topics:
        await producer.partitions_for(topic)


def test_the_metadata_of_many_new_topics_comes_in_one_request(names: Names) -> None:
    together = [names.tag_topic(f"t{n}") for n in range(20)]
    apart = [names.tag_topic(f"u{n}") for n in range(20)]
    ensure_topics(KafkaSettings(bootstrap_servers=KAFKA), together + apart, 2)

    made, partitions = asyncio.run(metadata_requests(together, fetch_metadata))
    assert partitions == [{0, 1}] * 20
    assert made <= 2  # one; a second only if a topic joined while the first was out

    made, partitions = asyncio.run(metadata_requests(apart, one_by_one))
    assert partitions == [{0, 1}] * 20
    assert made >= 20  # what fetch_metadata saves
