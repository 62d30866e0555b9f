"""The Kafka producing adapter of the worker: tag streams and dead letters, through Faust.

``send_all`` returns only when the broker acknowledged every message (the app produces with
acks=all), so the agent can let the stream advance. Kafka errors become
BrokerUnavailableError; the agent retries the whole set (duplicates on a tag stream are
possible after such a retry; the article id in the key lets consumers drop them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from newsflow.errors import BrokerUnavailableError
from processors.ports import OutMessage

if TYPE_CHECKING:
    from processors.topics import Topics

__all__ = ["TopicProducer"]

logger = logging.getLogger(__name__)

# How often to say that acknowledgements are still outstanding.
_ACK_REPORT_EVERY_S = 15.0


class TopicProducer:
    def __init__(self, topics: Topics) -> None:
        self._topics = topics
        self._declared: set[str] = set()

    async def _topic(self, tag: str | None) -> Any:
        topic = self._topics.deadletter if tag is None else self._topics.tag_topic(tag)
        name = topic.get_topic_name()
        if name not in self._declared:
            # Creates the topic with our partition count if it does not exist yet.
            await topic.maybe_declare()
            self._declared.add(name)
            logger.info("topic ready topic=%s", name)
        return topic

    async def send_all(self, messages: Sequence[OutMessage]) -> None:
        if not messages:
            return
        try:
            pending: list[asyncio.Future[Any]] = []
            for message in messages:
                topic = await self._topic(message.tag)
                fut = await topic.send(key=message.key, value=message.value)
                pending.append(asyncio.ensure_future(fut))
            while True:
                done, not_done = await asyncio.wait(pending, timeout=_ACK_REPORT_EVERY_S)
                for fut in done:
                    fut.result()  # raises the send's error
                if not not_done:
                    return
                logger.warning(
                    "waiting for Kafka to acknowledge messages=%d of %d",
                    len(not_done),
                    len(messages),
                )
                pending = list(not_done)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise BrokerUnavailableError(f"producing to Kafka failed: {exc!r}") from exc
