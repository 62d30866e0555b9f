"""The Kafka producing adapter of the worker: tag streams and dead letters, through Faust.

``send_all`` hands every message to the producer, then waits until each send is settled:
acknowledged by the broker (the app produces with acks=all) or failed. It returns the
messages that were not acknowledged, so that the agent sends only those again: a retry after
an outage never repeats a message Kafka already has. It never returns while a send is still
in flight, since resending such a message would duplicate it once the first copy lands.

``broker_reachable`` tells the worker whether the producer's client holds (or can open) a
connection to a broker, for its "waiting for Kafka" line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from newsflow.errors import BrokerUnavailableError
from processors.ports import OutMessage, SendOutcome

if TYPE_CHECKING:
    import faust

    from processors.topics import Topics

__all__ = ["TopicProducer", "broker_reachable", "unacknowledged"]

logger = logging.getLogger(__name__)

# How often to say that acknowledgements are still outstanding.
_ACK_REPORT_EVERY_S = 15.0


class TopicProducer:
    def __init__(self, topics: Topics, *, ack_report_every_s: float = _ACK_REPORT_EVERY_S) -> None:
        self._topics = topics
        self._declared: set[str] = set()
        self._ack_report_every_s = ack_report_every_s

    async def _topic(self, tag: str | None) -> Any:
        topic = self._topics.deadletter if tag is None else self._topics.tag_topic(tag)
        name = topic.get_topic_name()
        if name not in self._declared:
            # Creates the topic with our partition count if it does not exist yet.
            await topic.maybe_declare()
            self._declared.add(name)
            logger.info("topic ready topic=%s", name)
        return topic

    async def send_all(self, messages: Sequence[OutMessage]) -> SendOutcome:
        acks: list[asyncio.Future[Any]] = []
        refused: Exception | None = None
        for message in messages:
            try:
                topic = await self._topic(message.tag)
                acks.append(asyncio.ensure_future(
                    await topic.send(key=message.key, value=message.value)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # declare or enqueue failed: this one and the rest wait
                refused = exc
                break
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


async def broker_reachable(app: faust.App) -> bool | None:
    """Whether the producer's Kafka client has, or can open, a connection to a broker.

    None when it cannot tell (producer not started). There is no public connection state in
    aiokafka (aio-libs/aiokafka#1073); ``client.ready(node)`` returns at once while a
    connection is up and otherwise tries to open one, as the client itself would."""
    # Faust keeps its aiokafka producer private; Faust's own topic creation uses its client.
    producer = getattr(app.producer, "_producer", None)
    client = getattr(producer, "client", None)
    if client is None:
        return None
    nodes = [broker.nodeId for broker in client.cluster.brokers()]
    for node in nodes:
        if await client.ready(node):
            return True
    return False
