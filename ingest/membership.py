"""Scale-out: pollers split the feeds through a Kafka consumer group.

Every poller joins the consumer group ``poller.group_id`` on the assignment topic (no
messages flow on it; it exists for its partitions). Kafka's group coordinator assigns each
member a share of the partitions, and a feed belongs to the partition its id hashes to.
When a member joins, leaves or stops heart-beating (``session_timeout_s`` after a crash),
the coordinator rebalances and the survivors take the feeds over. Kafka guarantees that
every member has run ``on_partitions_revoked`` before any member gets new partitions; the
poller releases revoked feeds there (cancelling polls still fetching, letting polls that
are publishing finish and save their state), so two pollers never poll a feed at once.
A feed taken over is scheduled from the state its previous owner saved (shared state
directory), so it is not polled again before its time either.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ingest.poller import Poller
from newsflow.settings import KafkaSettings, PollerSettings
from newsflow_adapters.topics import ensure_topics

__all__ = ["GroupMembership", "partition_of"]

log = logging.getLogger(__name__)


def partition_of(feed_id: str, partitions: int) -> int:
    """The assignment partition a feed belongs to (feed ids are hex digests)."""
    return int(feed_id[:8], 16) % partitions


class GroupMembership:
    """Keeps the poller's ownership in line with the group's assignment.

    ``async with GroupMembership(kafka, poller_settings, poller, loop): ...`` joins on
    enter and leaves on exit (a clean leave rebalances at once; a crash after the session
    timeout).
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        settings: PollerSettings,
        poller: Poller,
        loop: asyncio.AbstractEventLoop,
        *,
        on_change: Callable[[set[int]], None] | None = None,
    ) -> None:
        self._kafka = kafka
        self._settings = settings
        self._poller = poller
        self._loop = loop
        self._on_change = on_change
        self._partitions: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Any = None

    @property
    def partitions(self) -> set[int]:
        return set(self._partitions)

    async def __aenter__(self) -> GroupMembership:
        await self._loop.run_in_executor(None, self._start)
        return self

    def _start(self) -> None:
        # Assignments are only meaningful for the group's current generation: an hour's
        # retention is plenty.
        ensure_topics(self._kafka, [self._settings.assignment_topic],
                      self._settings.assignment_partitions,
                      configs={"retention.ms": "3600000"}, client_id="newsflow-poller-admin")
        # Nothing is owned until the group says so.
        self._loop.call_soon_threadsafe(self._poller.set_ownership, lambda _fid: False)
        self._consumer = self._make_consumer()
        self._thread = threading.Thread(target=self._run, name="poller-membership",
                                        daemon=True)
        self._thread.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            # Joined off the loop: the thread may still need the loop to release feeds.
            await self._loop.run_in_executor(None, self._thread.join, 30)

    def _make_consumer(self) -> Any:
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        membership = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            def on_partitions_revoked(self, revoked: Any) -> None:
                membership._revoked({tp.partition for tp in revoked})

            def on_partitions_assigned(self, assigned: Any) -> None:
                membership._assigned({tp.partition for tp in assigned})

        session_ms = int(self._settings.session_timeout_s * 1000)
        consumer = KafkaConsumer(
            **self._kafka.client_config(),
            group_id=self._settings.group_id,
            client_id="newsflow-poller",
            enable_auto_commit=False,
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(500, session_ms // 4),
            max_poll_interval_ms=max(60_000, session_ms * 3),
        )
        consumer.subscribe([self._settings.assignment_topic], listener=Listener())
        return consumer

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._consumer.poll(timeout_ms=500)
        except Exception:
            log.exception("poller group membership failed; this poller stops polling")
            self._revoked(set(self._partitions))
        finally:
            self._consumer.close()  # leaves the group: the others rebalance at once

    def _feeds_in(self, partitions: set[int]) -> set[str]:
        count = self._settings.assignment_partitions
        return {spec.id for spec in self._poller.feeds
                if partition_of(spec.id, count) in partitions}

    def _revoked(self, partitions: set[int]) -> None:
        if not partitions:
            return
        self._partitions -= partitions
        owned = set(self._partitions)
        count = self._settings.assignment_partitions
        released = self._feeds_in(partitions)
        log.info("partitions revoked partitions=%s feeds=%s", len(partitions), len(released))

        async def release() -> None:
            self._poller.set_ownership(lambda fid: partition_of(fid, count) in owned)
            await self._poller.release(released, timeout_s=self._settings.session_timeout_s / 2)

        try:
            asyncio.run_coroutine_threadsafe(release(), self._loop).result(
                timeout=self._settings.session_timeout_s)
        except Exception as exc:  # the loop is closing, or a poll would not finish
            log.warning("feeds not released cleanly error=%s", exc)

    def _assigned(self, partitions: set[int]) -> None:
        self._partitions = set(partitions)
        owned = set(partitions)
        count = self._settings.assignment_partitions
        log.info("partitions assigned partitions=%s feeds=%s", len(owned),
                 len(self._feeds_in(owned)))
        self._loop.call_soon_threadsafe(
            self._poller.set_ownership, lambda fid: partition_of(fid, count) in owned)
        if self._on_change is not None:
            self._on_change(owned)

