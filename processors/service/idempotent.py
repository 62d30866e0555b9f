"""A faust.App whose producer is idempotent (Kafka's enable.idempotence).

Faust turns idempotence on only for exactly-once processing. With at-least-once, aiokafka
retries a produce request inside the client when a broker drops the connection before
answering; a request the broker had already written is then written twice, so a tag stream
or the hand-over topic gets a copy that no redelivery explains (seen after a broker
SIGKILL: the article indexed once, its tag messages twice). With idempotence the broker
drops those retries by producer id and sequence number. It needs acks=all, which the tag
streams use anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer

__all__ = ["IdempotentApp"]


class IdempotentProducer(Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class IdempotentApp(faust.App):
    def _new_producer(self) -> IdempotentProducer:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)
