"""processors.streams.produce.fetch_metadata against the real Kafka and the pinned aiokafka:
the metadata of many topics a producer does not know yet arrives in one request, where
asking topic by topic (what sends made one after the other do) makes one request each."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from newsflow.settings import KafkaSettings
from newsflow_adapters.topics import ensure_topics
from processors.streams.produce import fetch_metadata
from tests.integration.processors_support import KAFKA, Names

pytestmark = pytest.mark.integration


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    yield n
    n.cleanup()


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
