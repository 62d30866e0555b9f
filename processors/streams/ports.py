"""The one producer interface of the tag streams, and the messages it sends. Pure.

Both producers implement ``Producing``: the worker's, through its Faust app
(``produce.TopicProducer``), and the one ``newsflow retag`` opens with its own client
(``produce.TagStreamProducer``). A message names its tag (``None``: a dead letter), or is
an enriched article on its way to the ordered stage (``enriched``); the producer knows the
topic names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from newsflow.errors import BrokerUnavailableError

__all__ = ["OutMessage", "Producing", "SendOutcome"]


@dataclass(frozen=True)
class OutMessage:
    """A message to produce: to ``topic`` when given, else to the tag topic of ``tag``, a
    dead letter when None, or to the enriched topic when ``enriched``."""

    tag: str | None
    key: bytes | None
    value: bytes
    enriched: bool = False
    # An explicit topic (a watch stream, the alerts topic) instead of the tag's.
    topic: str | None = None


@dataclass(frozen=True)
class SendOutcome:
    """What one ``send_all`` left unacknowledged, to be sent again (in the order given).

    A message is left out only once the broker acknowledged it, so sending the rest again
    keeps at-least-once without repeating what is already on its topic."""

    unacknowledged: tuple[OutMessage, ...] = ()
    error: BrokerUnavailableError | None = None  # why the first of them failed


class Producing(Protocol):
    async def send_all(self, messages: Sequence[OutMessage]) -> SendOutcome:
        """Send every message and wait until each one is acknowledged or failed.

        Broker failures do not raise: they come back as ``unacknowledged`` with the error.
        A BrokerUnavailableError raised anyway means nothing is known to be acknowledged."""
