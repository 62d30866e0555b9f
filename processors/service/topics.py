"""Every topic the processors use, declared once, names from settings.

Values are raw bytes (schema-versioned Article JSON, decoded by newsflow.article), never a
faust.Record: the kernel and ingest must not import Faust, and a Record would add a
``__faust`` key to each message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from newsflow.settings import KafkaSettings
from processors.streams.produce import aiokafka_producer, fetch_metadata
from processors.streams.routing import tag_topic_name

if TYPE_CHECKING:
    import faust

__all__ = ["Topics"]


class Topics:
    def __init__(self, app: faust.App, kafka: KafkaSettings) -> None:
        self._app = app
        self._kafka = kafka
        self.articles = app.topic(
            kafka.articles_topic,
            key_type=bytes,
            value_type=bytes,
            partitions=kafka.articles_partitions,
        )
        self.deadletter = app.topic(
            kafka.deadletter_topic, key_type=bytes, value_type=bytes, partitions=1
        )
        # One partition: the ordered stage (stories, index, tag streams) sees one order,
        # whichever worker owns it (docs/stories.md).
        self.enriched = app.topic(
            kafka.enriched_topic, key_type=bytes, value_type=bytes, partitions=1
        )
        self._tag_topics: dict[str, faust.TopicT] = {}
        self._named: dict[str, faust.TopicT] = {}

    async def producer(self) -> faust.types.ProducerT:
        """The app's producer, started if it was not (what every topic's send goes
        through; processors.streams.produce sends with it directly)."""
        producer: faust.types.ProducerT = await self._app.maybe_start_producer()
        return producer

    async def fetch_metadata(self, names: Sequence[str]) -> None:
        """Have the producer's client fetch these topics' metadata in one request
        (``produce.fetch_metadata``); without a started aiokafka producer, the sends fetch it
        as before."""
        producer = aiokafka_producer(await self.producer())
        if producer is not None:
            await fetch_metadata(producer, names)

    def named(self, name: str) -> faust.TopicT:
        """A topic by its name (watch streams, alerts), with the tag streams' partitions."""
        topic = self._named.get(name)
        if topic is None:
            topic = self._app.topic(name, key_type=bytes, value_type=bytes,
                                    partitions=self._kafka.tag_partitions)
            self._named[name] = topic
        return topic

    def tag_topic(self, tag: str) -> faust.TopicT:
        """``news.tag.<tag>``, one Topic object per tag for the life of the app."""
        topic = self._tag_topics.get(tag)
        if topic is None:
            topic = self._app.topic(
                tag_topic_name(self._kafka.tag_topic_prefix, tag),
                key_type=bytes,
                value_type=bytes,
                partitions=self._kafka.tag_partitions,
            )
            self._tag_topics[tag] = topic
        return topic
