"""TagStreamProducer (retag's producer) against the real Kafka: tag messages and dead letters
land on their topics, which it creates on first use (dead letters with one partition, tag
topics with ``kafka.tag_partitions``); an empty batch sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

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
