"""Run parse_articles off the event loop: in worker processes, each parse bounded.

Parsing is CPU-bound (feedparser is pure Python), so a pool of processes uses every core
while the event loop keeps fetching. Each worker limits its address space (RLIMIT_AS) and
each parse has a wall-clock alarm: a hostile body that slips past the cap and the DTD
defence costs one FeedError, not the poller. A worker that dies (out of memory, a crash in
C code) costs the same, and the pool is rebuilt.

The alarm's handler is Python: it runs only when control comes back to the interpreter.
feedparser-rs (``fast=True``) parses a whole body in one native call, so each parse also
re-arms a CPU-time limit (RLIMIT_CPU) a little above the alarm: a parse stuck in native
code gets SIGXCPU, which ends the worker (a dead worker, handled as above). In Rust, an
allocation over RLIMIT_AS aborts the process rather than raising MemoryError: the same.

``known_ids`` (a feed state's seen ids) travel to the worker as a tuple, the cheapest to
pickle; the worker makes a set of them. Each 1,000 ids cost ~0.1-0.15 ms in this process
and as much in the worker (measured), which is why the poller sends only the newest 500
(ingest/feedpoll.py ``recent_seen``) rather than all of the up to ~2,000 a state holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import signal
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta
from types import FrameType, TracebackType

from ingest.normalize import FeedContext
from ingest.parse import ParsedFeed, parse_articles
from newsflow.errors import FeedError

__all__ = ["ParserPool", "cpu_backstop"]

log = logging.getLogger(__name__)


class _ParseTimeoutError(Exception):
    pass


def _limit_worker(memory_mb: int) -> None:
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        # Where this is not permitted, the alarm still bounds the time.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _ParseTimeoutError


def cpu_backstop(timeout_s: float) -> None:
    """Let this process use at most ~2 x timeout_s more CPU seconds before SIGXCPU ends it.

    A backstop for native code the alarm cannot interrupt; re-armed before every parse.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + 2 * timeout_s) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or soft <= hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _parse_job(
    body: bytes, headers: dict[str, str], feed: FeedContext, seen_at: datetime,
    tolerance_s: float, timeout_s: float, fast: bool = False,
    known_ids: tuple[str, ...] = (),
) -> ParsedFeed:
    cpu_backstop(timeout_s)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return parse_articles(body, headers, feed, seen_at, timedelta(seconds=tolerance_s),
                              fast=fast, known_ids=frozenset(known_ids))
    except _ParseTimeoutError:
        raise FeedError(f"parsing took longer than {timeout_s:g} s (aborted)",
                        url=feed.feed_url) from None
    except MemoryError:
        raise FeedError("parsing exceeded the parser's memory limit (aborted)",
                        url=feed.feed_url) from None
    except RecursionError:
        raise FeedError("document nested too deeply to parse", url=feed.feed_url) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class ParserPool:
    """``async with ParserPool(workers=2) as pool: await pool.parse(...)``.

    ``workers=0`` parses in a thread of this process (no isolation; for small runs and
    tests). ``fast``: feedparser-rs first, feedparser where its answer is doubtful
    (``poller.fast_parser``).
    """

    def __init__(
        self, workers: int | None = None, *, timeout_s: float = 30.0, memory_mb: int = 2048,
        future_tolerance_s: float = 3600.0, fast: bool = True,
    ) -> None:
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.future_tolerance_s = future_tolerance_s
        self.fast = fast
        self._executor: Executor | None = None

    def _start(self) -> Executor | None:
        if self.workers <= 0:
            return None
        # forkserver: the poller runs Kafka client threads, and fork() with threads is unsafe.
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context,
            initializer=_limit_worker, initargs=(self.memory_mb,),
        )

    async def __aenter__(self) -> ParserPool:
        self._executor = self._start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def parse(
        self, body: bytes, headers: Mapping[str, str], feed: FeedContext, seen_at: datetime,
        *, known_ids: AbstractSet[str] = frozenset(),
    ) -> ParsedFeed:
        """Parse in a worker; entries whose id is in ``known_ids`` are only counted
        (``ParsedFeed.known``), not normalised (see ingest/parse.py)."""
        loop = asyncio.get_running_loop()
        if self._executor is None:
            # Same process: the set itself will do (only looked up, never iterated).
            return await loop.run_in_executor(
                None, parse_articles, body, dict(headers), feed, seen_at,
                timedelta(seconds=self.future_tolerance_s), self.fast, known_ids,
            )
        executor = self._executor
        try:
            return await loop.run_in_executor(
                executor, _parse_job, body, dict(headers), feed, seen_at,
                self.future_tolerance_s, self.timeout_s, self.fast, tuple(known_ids),
            )
        except BrokenProcessPool as exc:
            if self._executor is executor:  # the first to notice rebuilds it
                log.warning("parser process died, restarting the pool url=%s", feed.feed_url)
                self._executor = self._start()
                executor.shutdown(wait=False, cancel_futures=True)
            raise FeedError("the parser process died on this body (memory or crash)",
                            url=feed.feed_url) from exc
