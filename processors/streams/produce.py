"""The producers of the tag streams (and dead letters): one interface, two clients.

Both implement ``processors.streams.ports.Producing``: ``send_all(messages)`` returns once
every message is acknowledged by the broker (acks=all) or failed, and hands back the ones
that were not acknowledged, so that a caller sends only those again: a retry after an outage
never repeats a message Kafka already has.

- ``TopicProducer``: the worker's, through its Faust app. It hands every message to the
  producer, then waits until each send is settled; it never returns while a send is still in
  flight, since resending such a message would duplicate it once the first copy lands.
  It declares each topic once through its Faust Topic, then sends with the app's producer
  (``Producer.send``: the same aiokafka client, acks and idempotence) rather than
  ``Topic.send``, whose per-message machinery (a FutureMessage, codecs, sensors and
  callbacks) cost 96-100 µs of CPU per 2 KB message against 22-25 µs (one broker, 100
  topics, 6,000 messages; bench/RESULTS.md, session 11). The values are bytes already and
  the key partitions as before (the client's default partitioner). What Topic.send would
  change besides its bookkeeping is off in this app, and tests/unit/deploy checks it stays
  so: publish-on-commit attachments (sends deferred to the commit) and exactly-once
  (``maybe_start_producer`` would hand back a transaction manager).
- ``TagStreamProducer``: for a process without a Faust app (``newsflow retag``), with its own
  kafka-python client. kafka-python blocks, so each ``send_all`` runs on a worker thread.

``broker_reachable`` tells the worker whether the Faust producer's client holds (or can open)
a connection to a broker, for its "waiting for Kafka" line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from newsflow.errors import BrokerUnavailableError
from newsflow.settings import KafkaSettings
from newsflow_adapters.topics import ensure_topics
from processors.streams.ports import OutMessage, SendOutcome
from processors.streams.routing import tag_topic_name

if TYPE_CHECKING:
    import faust

__all__ = [
    "AppTopics",
    "TagStreamProducer",
    "TopicProducer",
    "aiokafka_producer",
    "broker_reachable",
    "fetch_metadata",
    "unacknowledged",
]

logger = logging.getLogger(__name__)

# How often to say that acknowledgements are still outstanding.
_ACK_REPORT_EVERY_S = 15.0


class AppTopics(Protocol):
    """The Faust topics TopicProducer sends to (the worker's ``service.topics.Topics``)."""

    @property
    def deadletter(self) -> Any: ...

    @property
    def enriched(self) -> Any: ...

    def tag_topic(self, tag: str) -> Any: ...

    def named(self, name: str) -> Any: ...

    async def producer(self) -> Any:
        """The app's started Faust producer (``faust.types.ProducerT``)."""
        ...

    async def fetch_metadata(self, names: Sequence[str]) -> None:
        """Have the producer's client fetch the metadata of these topics, together."""
        ...


class TopicProducer:
    def __init__(
        self, topics: AppTopics, *, ack_report_every_s: float = _ACK_REPORT_EVERY_S
    ) -> None:
        self._topics = topics
        self._declared: set[str] = set()
        self._ack_report_every_s = ack_report_every_s

    def _topic(self, message: OutMessage) -> Any:
        if message.topic is not None:
            return self._topics.named(message.topic)
        if message.enriched:
            return self._topics.enriched
        if message.tag is None:
            return self._topics.deadletter
        return self._topics.tag_topic(message.tag)

    async def _declare(self, topics: Sequence[Any]) -> None:
        """Declare those of ``topics`` not declared yet, all at once (each is created with
        our partition count if it does not exist), then have the producer's client fetch
        their metadata in one request.

        One at a time, as the sends came, a batch naming many new topics (the first after a
        start, with a hundred watches) waited for two round trips per topic in a row: a
        CreateTopics and a metadata request. 100 topics took ~0.4 s and ~0.2 s of the
        broker's CPU (bench/RESULTS.md, session 26)."""
        new: dict[str, Any] = {}
        for topic in topics:
            name = topic.get_topic_name()
            if name not in self._declared:
                new.setdefault(name, topic)
        if not new:
            return
        outcomes = await asyncio.gather(*(topic.maybe_declare() for topic in new.values()),
                                        return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise failures[0]
        await self._topics.fetch_metadata(list(new))
        self._declared.update(new)
        for name in new:
            logger.info("topic ready topic=%s", name)

    async def send_all(self, messages: Sequence[OutMessage]) -> SendOutcome:
        acks: list[asyncio.Future[Any]] = []
        refused: Exception | None = None
        try:
            # Starting the producer or declaring the topics can fail like a send: the same
            # handling (nothing was handed to the producer yet, so everything waits).
            producer = await self._topics.producer()
            topics = [self._topic(message) for message in messages]
            await self._declare(topics)
            for message, topic in zip(messages, topics, strict=True):
                # Keyed partitioning, no timestamp (the broker's), no headers: as Topic.send.
                acks.append(asyncio.ensure_future(await producer.send(
                    topic.get_topic_name(), message.key, message.value, None, None, None)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # declare or enqueue failed: this one and the rest wait
            refused = exc
        await self._settle(acks, len(messages))
        remaining, failure = unacknowledged(messages, acks)
        if not remaining:
            return SendOutcome()
        cause = failure or refused
        return SendOutcome(
            tuple(remaining),
            BrokerUnavailableError(f"producing to Kafka failed: {cause!r}"),
        )

    async def _settle(self, acks: list[asyncio.Future[Any]], total: int) -> None:
        """Until every send is acknowledged or failed (Faust's producer retries a send
        itself until its request timeout, so this can outlast an outage)."""
        pending = set(acks)
        while pending:
            _done, pending = await asyncio.wait(pending, timeout=self._ack_report_every_s)
            if pending:
                logger.warning(
                    "waiting for Kafka to acknowledge messages=%d of %d", len(pending), total
                )


def unacknowledged(
    messages: Sequence[OutMessage], acks: Sequence[asyncio.Future[Any]]
) -> tuple[list[OutMessage], BaseException | None]:
    """The messages to send again, in order, and the first send error.

    ``acks[i]`` is the send future of ``messages[i]``; messages past the end of ``acks`` were
    never handed to the producer. A message stays unless its future resolved successfully:
    failed, cancelled or (misuse) still pending all count as not acknowledged."""
    remaining: list[OutMessage] = []
    first_error: BaseException | None = None
    for i, message in enumerate(messages):
        fut = acks[i] if i < len(acks) else None
        if fut is not None and fut.done() and not fut.cancelled():
            error = fut.exception()
            if error is None:
                continue
            first_error = first_error or error
        remaining.append(message)
    return remaining, first_error


def aiokafka_producer(faust_producer: Any) -> Any | None:
    """The aiokafka producer inside a Faust producer; None before it started. Faust keeps it
    private; Faust's own topic creation uses its client the same way."""
    return getattr(faust_producer, "_producer", None)


async def fetch_metadata(producer: Any, names: Sequence[str]) -> None:
    """Have an aiokafka producer's client fetch these topics' metadata in one request.

    A send to a topic the client does not know waits for its metadata first; sends made one
    after the other (to keep their order) would wait for one metadata request each. aiokafka's
    ``partitions_for`` waits for a topic's metadata; called for all of them at once, the waits
    share one request (tests/integration/test_tag_stream_producer.py)."""
    await asyncio.gather(*(producer.partitions_for(name) for name in names))


async def broker_reachable(app: faust.App) -> bool | None:
    """Whether the producer's Kafka client has, or can open, a connection to a broker.

    None when it cannot tell (producer not started). There is no public connection state in
    aiokafka (aio-libs/aiokafka#1073); ``client.ready(node)`` returns at once while a
    connection is up and otherwise tries to open one, as the client itself would."""
    client = getattr(aiokafka_producer(app.producer), "client", None)
    if client is None:
        return None
    nodes = [broker.nodeId for broker in client.cluster.brokers()]
    for node in nodes:
        if await client.ready(node):
            return True
    return False




class TagStreamProducer:
    """Tag streams and dead letters with its own kafka-python client; a context manager.
    Topics are created on first use with ``newsflow_adapters.topics.ensure_topics``."""

    def __init__(self, kafka: KafkaSettings, *, timeout_s: float = 60) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._producer: Any = None
        self._ready_topics: set[str] = set()

    def __enter__(self) -> TagStreamProducer:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        try:
            self._producer = KafkaProducer(**self._kafka.producer_config(),
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

    async def send_all(self, messages: Sequence[OutMessage]) -> SendOutcome:
        return await asyncio.to_thread(self._send_all, list(messages))

    def _topic(self, message: OutMessage) -> str:
        if message.topic is not None:
            return message.topic
        if message.enriched:  # only the worker's enrich stage sends these
            raise ValueError("TagStreamProducer sends tag streams and dead letters only")
        if message.tag is None:
            return self._kafka.deadletter_topic
        return tag_topic_name(self._kafka.tag_topic_prefix, message.tag)

    def _ensure_topics(self, topics: set[str]) -> None:
        new = topics - self._ready_topics
        dead = {t for t in new if t == self._kafka.deadletter_topic}
        if dead:  # one partition, as the worker declares it
            ensure_topics(self._kafka, sorted(dead), 1)
        if new - dead:
            ensure_topics(self._kafka, sorted(new - dead), self._kafka.tag_partitions)
        self._ready_topics |= new

    def _send_all(self, messages: list[OutMessage]) -> SendOutcome:
        from kafka.errors import KafkaError

        if not messages:
            return SendOutcome()
        topics = [self._topic(m) for m in messages]
        self._ensure_topics(set(topics))
        futures: list[Any] = []
        failure: Exception | None = None
        for topic, message in zip(topics, messages, strict=True):
            try:
                futures.append(self._producer.send(topic, key=message.key, value=message.value))
            except KafkaError as exc:  # not enqueued: this one and the rest wait
                failure = exc
                break
        remaining: list[OutMessage] = []
        for i, message in enumerate(messages):
            if i < len(futures):
                try:
                    futures[i].get(timeout=self._timeout_s)
                    continue
                except KafkaError as exc:
                    failure = failure or exc
            remaining.append(message)
        if not remaining:
            return SendOutcome()
        return SendOutcome(
            tuple(remaining),
            BrokerUnavailableError(f"producing to tag streams failed: {failure!r}"),
        )
