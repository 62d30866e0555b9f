"""Wiring for ``newsflow poll``: build the adapters from settings and run the poller.

- ``once``: poll every enabled feed once and return the summary (Kafka unreachable ->
  BrokerUnavailableError before anything is fetched); ends by ``poller.cycle_deadline_s``,
  reporting the feeds it did not reach as deferred.
- continuous: poll on schedule until SIGTERM/SIGINT; in a Kafka consumer group (unless
  ``standalone``) so that several pollers split the feeds; the feed list file is re-read
  when it changes.
- ``dry_run``: articles printed as JSON lines, no broker, and feed state kept in a temporary
  directory (a dry run must not mark articles as seen that were never published).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ingest.feeds import FeedSpec, load_feed_list
from ingest.fetch import Fetcher
from ingest.metrics import IngestMetrics
from ingest.parsepool import ParserPool
from ingest.poller import Poller
from ingest.publish import DryRunPublisher, Publisher, Sink
from ingest.reconcile import Recovery
from ingest.state import StateStore
from ingest.summary import CycleSummary
from newsflow.settings import Settings

__all__ = ["PollOptions", "poll"]

log = logging.getLogger(__name__)


@dataclass
class PollOptions:
    feeds_file: Path
    once: bool = False
    dry_run: bool = False
    standalone: bool = False
    out: IO[str] | None = None  # where dry-run records go (stdout by default)


class _FeedFile:
    """The feed list file, re-read when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = self._stat()
        self.specs = load_feed_list(path)

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def reload(self) -> list[FeedSpec] | None:
        mtime = self._stat()
        if mtime == self._mtime:
            return None
        self._mtime = mtime
        try:
            self.specs = load_feed_list(self.path)
        except Exception as exc:  # a bad edit must not stop the poller: keep the old list
            log.error("feed list not reloaded file=%s error=%s", self.path, exc)
            return None
        log.info("feed list reloaded file=%s feeds=%s", self.path, len(self.specs))
        return self.specs


async def poll(
    settings: Settings,
    options: PollOptions,
    on_summary: Callable[[CycleSummary], None],
) -> CycleSummary | None:
    """Run the poller as the options say; returns the summary of a ``once`` run."""
    feed_file = _FeedFile(options.feeds_file)
    ps = settings.poller
    async with AsyncExitStack() as stack:
        sync = stack.enter_context(ExitStack())
        recovery: Recovery | None = None
        if options.dry_run:
            state_dir = Path(sync.enter_context(tempfile.TemporaryDirectory(prefix="newsflow-")))
            sink: Sink = DryRunPublisher(options.out)
        else:
            state_dir = ps.state_dir
            publisher = sync.enter_context(Publisher(settings.kafka))
            sink, recovery = publisher, publisher.produced_since
        store = StateStore(state_dir)
        metrics = IngestMetrics()
        if ps.metrics_port and not options.dry_run:
            metrics.serve(ps.metrics_port)
        workers = ps.parse_workers
        if workers is None and (options.once or options.dry_run) and len(feed_file.specs) < 8:
            workers = 0  # a handful of feeds is not worth starting processes for
        parser = await stack.enter_async_context(ParserPool(
            workers, timeout_s=ps.parse_timeout_s, memory_mb=ps.parse_memory_mb,
            future_tolerance_s=ps.future_tolerance_s, fast=ps.fast_parser,
        ))
        fetcher = await stack.enter_async_context(Fetcher(ps))
        poller = Poller(ps, feed_file.specs, fetcher=fetcher, parser=parser, sink=sink,
                        store=store, metrics=metrics, recovery=recovery)
        if options.once or options.dry_run:
            summary = await poller.run_once(deadline_s=ps.cycle_deadline_s)
            on_summary(summary)
            return summary
        stop = asyncio.Event()
        _stop_on_signals(stop)
        if options.standalone:
            await poller.run_forever(stop, on_summary, feed_file.reload)
            return None
        from ingest.membership import GroupMembership

        poller.set_ownership(lambda _fid: False)  # nothing until the group assigns a share
        membership = GroupMembership(settings.kafka, ps, poller, asyncio.get_running_loop())
        async with membership:
            await poller.run_forever(stop, on_summary, feed_file.reload)
    return None


def _stop_on_signals(stop: asyncio.Event, signals: Iterable[int] = (signal.SIGTERM,
                                                                      signal.SIGINT)) -> None:
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
