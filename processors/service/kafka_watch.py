"""The worker's own words about Kafka: "waiting for Kafka" while no broker answers, and
"Kafka is back" after, with the Kafka client's log lines the outage had held back
(newsflow.logs.RepeatFilter collapses those while it lasts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from newsflow.logs import Outage, flush_repeats

__all__ = ["KafkaWatch"]

logger = logging.getLogger(__name__)


class KafkaWatch:
    """Says, in the worker's words, that it waits for Kafka and when Kafka is back.

    ``probe`` answers whether a broker is reachable (None: cannot tell yet); ``check`` runs
    it (a probe slower than ``timeout_s`` counts as unreachable) and logs at the first failed
    check, then every ``every_s`` while the outage lasts, and once when a check succeeds
    again, with the Kafka client's log lines the outage had held back. ``on_check`` gets
    every definite answer (the worker sets its ``kafka_reachable`` gauge with it)."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[bool | None]],
        bootstrap_servers: str,
        *,
        every_s: float = 15.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_check: Callable[[bool], None] = lambda _reachable: None,
    ) -> None:
        self._probe = probe
        self._on_check = on_check  # e.g. the kafka_reachable gauge
        # Host:port only: a stray user:password@ prefix is never logged.
        self.servers = ",".join(
            part.strip().rsplit("@", 1)[-1] for part in bootstrap_servers.split(",")
            if part.strip()
        )
        self._outage = Outage(every_s)
        self._timeout_s = timeout_s
        self._clock = clock

    async def run(self, every_s: float) -> None:
        """Check every ``every_s`` until cancelled (a loop, not a Faust timer: a slow probe
        would make the timer warn that it overlaps)."""
        while True:
            await asyncio.sleep(every_s)
            await self.check()

    async def check(self) -> None:
        try:
            reachable = await asyncio.wait_for(self._probe(), self._timeout_s)
        except TimeoutError:
            reachable = False
        if reachable is None:
            return
        self._on_check(reachable)
        report = self._outage.check(reachable, self._clock())
        if report is None:
            return
        if report.down:
            logger.warning(
                "waiting for Kafka bootstrap_servers=%s down_s=%.0f: no broker reachable; "
                "consuming and producing stalled, offsets not committed",
                self.servers,
                report.seconds,
            )
        else:
            held = flush_repeats()
            logger.info(
                "Kafka is back bootstrap_servers=%s down_s=%.1f client_log_lines_not_shown=%d",
                self.servers,
                report.seconds,
                held,
            )
