"""The poller: schedule -> fetch -> parse -> normalise -> dedup -> publish -> advance state.

One feed's poll (``poll_feed``):
1. load its state (the state directory is the truth; another poller may have polled it);
2. conditional GET; a 304 advances only the schedule;
3. parse and normalise in the parser pool; drop the ids the feed state has seen (the pool
   is given them, and only counts those entries instead of normalising them);
4. publish the new articles and wait for Kafka's acknowledgement;
5. only then save the state: validators, seen ids, schedule, health.
A crash before 5 leaves the old state, so the next poll offers the same articles again.
If Kafka is unreachable the state is left as it was and BrokerUnavailableError propagates.

Politeness: feeds are grouped by host into lanes; a lane polls one feed at a time (per-host
concurrency 1) and waits ``min_host_gap_s`` after each request (longer after a Retry-After).
A global semaphore bounds the fetches in flight.

The orchestrator takes its adapters (fetcher, parser pool, sink, state store) as arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from ingest.feeds import FeedSpec
from ingest.fetch import FetchResult
from ingest.metrics import IngestMetrics
from ingest.normalize import FeedContext
from ingest.parse import ParsedFeed
from ingest.publish import PublishResult, Sink
from ingest.schedule import Policy, after_failure, after_success, recovered
from ingest.state import FeedState, StateStore
from newsflow.errors import BrokerUnavailableError, FeedError, TransientError
from newsflow.settings import PollerSettings

__all__ = ["CycleSummary", "FeedOutcome", "Poller", "recent_seen"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class FetchPort(Protocol):
    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    allow_private: bool = False) -> FetchResult: ...


# (since epoch s, feed urls) -> {feed url: article ids found on the topic}; blocking.
Recovery = Callable[[float, set[str]], dict[str, set[str]]]
RECOVERY_MARGIN_S = 5.0  # producer clocks vs. the marker's clock

# How many of a feed's seen ids go with each parse, so that the parser only counts those
# entries instead of normalising them. Sending them is not free (the parser pool pickles
# them to its process: ~0.1-0.15 ms per 1,000 ids on each side, measured, and the state may
# hold ~2,000), and only the newest matter: a feed lists its newest items, and state.seen
# keeps ids in the order they were first seen (new ids are added last, pruning keeps the
# order), so the ids a feed lists again are the last ones. 500 covers feeds of up to ~500
# items. An older id that a feed lists again is normalised and then dropped here as a
# duplicate, as before: slower, never wrong.
KNOWN_IDS_SENT = 500


def recent_seen(seen: dict[str, int], limit: int = KNOWN_IDS_SENT) -> AbstractSet[str]:
    """The ``limit`` most recently first-seen ids of a feed state's ``seen`` (no copy when
    that is all of them)."""
    if len(seen) <= limit:
        return seen.keys()
    return frozenset(itertools.islice(reversed(seen), limit))


class ParsePort(Protocol):
    async def parse(self, body: bytes, headers: dict[str, str], feed: FeedContext,
                    seen_at: datetime, *, known_ids: AbstractSet[str] = ...) -> ParsedFeed: ...


@dataclass
class FeedOutcome:
    url: str
    status: str  # new | unchanged | not_modified | error | skipped
    new: int = 0
    duplicates: int = 0
    reason: str | None = None
    retry_after: float | None = None
    next_poll_at: float | None = None
    disabled: bool = False


@dataclass
class CycleSummary:
    feeds_polled: int = 0
    new_articles: int = 0
    not_modified: int = 0
    unchanged: int = 0
    errors: int = 0
    duplicates: int = 0
    disabled: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error_feeds: dict[str, str] = field(default_factory=dict)

    def add(self, outcome: FeedOutcome) -> None:
        self.feeds_polled += 1
        self.new_articles += outcome.new
        self.duplicates += outcome.duplicates
        if outcome.status == "not_modified":
            self.not_modified += 1
        elif outcome.status == "unchanged":
            self.unchanged += 1
        elif outcome.status == "error":
            self.errors += 1
            self.error_feeds[outcome.url] = outcome.reason or "error"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round((self.finished_at or time.time()) - self.started_at, 3)
        return data

    def line(self) -> str:
        seconds = (self.finished_at or time.time()) - self.started_at
        return (f"polled {self.feeds_polled} feeds in {seconds:.1f} s: "
                f"{self.new_articles} new articles, {self.not_modified} not modified (304), "
                f"{self.unchanged} unchanged, {self.errors} errors"
                + (f", {self.disabled} disabled" if self.disabled else ""))


def policy_for(spec: FeedSpec, settings: PollerSettings) -> Policy:
    low = spec.min_interval_s or settings.min_interval_s
    high = max(low, spec.max_interval_s or settings.max_interval_s)
    return Policy(min_interval_s=low, max_interval_s=high,
                  default_interval_s=min(high, max(low, settings.default_interval_s)),
                  max_failures=settings.max_consecutive_failures)


class _Lane:
    """The feeds of one host, polled one at a time with a gap between requests."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.heap: list[tuple[float, int, str]] = []
        self.free_at = 0.0
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class Poller:
    def __init__(
        self,
        settings: PollerSettings,
        feeds: Iterable[FeedSpec],
        *,
        fetcher: FetchPort,
        parser: ParsePort,
        sink: Sink,
        store: StateStore,
        metrics: IngestMetrics | None = None,
        recovery: Recovery | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.parser = parser
        self.sink = sink
        self.store = store
        self.metrics = metrics or IngestMetrics()
        self.recovery = recovery
        self.clock = clock
        self._feeds: dict[str, FeedSpec] = {}
        self._owned: Callable[[str], bool] = lambda _fid: True
        self._sem = asyncio.Semaphore(max(1, settings.concurrency))
        self._lanes: dict[str, _Lane] = {}
        # feed id -> generation; heap entries of an older generation are stale.
        self._active: dict[str, int] = {}
        self._inflight: dict[str, asyncio.Task[FeedOutcome]] = {}
        self._publishing: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._io_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="feed-state")
        self._seq = itertools.count()
        self._summary = CycleSummary()
        self._stopping = False
        self._continuous = False
        self.set_feeds(feeds)

    # -- feed set ------------------------------------------------------------------------

    @property
    def feeds(self) -> list[FeedSpec]:
        return list(self._feeds.values())

    def set_feeds(self, feeds: Iterable[FeedSpec]) -> None:
        self._feeds = {spec.id: spec for spec in feeds}
        self._reconcile()

    def set_ownership(self, owns: Callable[[str], bool]) -> None:
        """Which feed ids this poller polls (all by default; a group assigns a share)."""
        self._owned = owns
        self._reconcile()

    async def release(self, feed_ids: Iterable[str], timeout_s: float = 60.0) -> None:
        """Stop polling these feeds and wait until none of them is in flight.

        Called when the group takes feeds away, before another poller may start on them.
        """
        ids = set(feed_ids)
        for fid in ids:
            self._active.pop(fid, None)
        pending = [task for fid, task in self._inflight.items() if fid in ids]
        for fid, task in self._inflight.items():
            if fid in ids and fid not in self._publishing:
                task.cancel()  # still fetching or parsing: nothing was produced yet
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    def _wanted(self) -> set[str]:
        return {fid for fid, spec in self._feeds.items() if spec.enabled and self._owned(fid)}

    def _reconcile(self) -> None:
        """Bring lanes in line with the wanted feeds (only while running continuously)."""
        if not self._continuous:
            return
        wanted = self._wanted()
        for fid in list(self._active):
            if fid not in wanted:
                del self._active[fid]
        interrupted: list[tuple[FeedSpec, int]] = []
        for fid in wanted - self._active.keys():
            spec = self._feeds[fid]
            state = self.store.load(fid, spec.url)
            if state.disabled_reason:
                continue
            self._active[fid] = gen = next(self._seq)
            if state.publishing_since is not None:
                interrupted.append((spec, gen))
            else:
                self._schedule(spec, state.next_poll_at, gen)
        if interrupted:
            task = asyncio.get_running_loop().create_task(self._recover_then_schedule(interrupted))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        for lane in self._lanes.values():
            lane.wake.set()

    # -- one feed ------------------------------------------------------------------------

    async def poll_feed(self, spec: FeedSpec) -> FeedOutcome:
        """Poll one feed now. Raises BrokerUnavailableError (state untouched) if Kafka is.

        The poll runs as its own task so that ``release`` can cancel it while it is still
        fetching or parsing (never once it has started publishing).
        """
        task = asyncio.get_running_loop().create_task(self._poll(spec))
        self._inflight[spec.id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._inflight.pop(spec.id, None)
            else:  # the caller was cancelled: the poll goes on and cleans up after itself
                task.add_done_callback(functools.partial(self._forget_inflight, spec.id))

    def _forget_inflight(self, feed_id: str, _task: object) -> None:
        self._inflight.pop(feed_id, None)

    async def _poll(self, spec: FeedSpec) -> FeedOutcome:
        m = self.metrics
        state = await self._io(self.store.load, spec.id, spec.url)
        policy = policy_for(spec, self.settings)
        now = self.clock()
        if state.next_poll_at:
            m.lateness.observe(max(0.0, now - state.next_poll_at))
        try:
            result = await self.fetcher.fetch(
                spec.url, etag=state.etag, last_modified=state.last_modified,
                allow_private=spec.allow_private,
            )
        except TransientError as exc:
            status = "timeout" if "timeout" in str(exc) else "transient"
            if str(exc).startswith("HTTP "):
                status = str(exc).split()[1].rstrip(",")
            m.fetches.labels(status).inc()
            return await self._failed(spec, state, policy, str(exc), exc.retry_after)
        except FeedError as exc:
            m.fetches.labels("refused" if "refused" in exc.reason or "cap" in exc.reason
                             else _status_label(exc.reason)).inc()
            return await self._failed(spec, state, policy, exc.reason)
        m.fetches.labels(str(result.status)).inc()
        m.fetch_seconds.observe(result.elapsed_s)
        m.bytes.inc(result.wire_bytes)
        if result.not_modified:
            m.not_modified.inc()
            after_success(state, self.clock(), policy, status=304)
            await self._io(self.store.save, spec.id, state)
            log.debug("not modified url=%s", spec.url)
            return FeedOutcome(spec.url, "not_modified", next_poll_at=state.next_poll_at)
        seen_at = datetime.fromtimestamp(now, UTC)
        context = FeedContext(feed_url=spec.url, labels=spec.labels, language=spec.language)
        started = time.monotonic()
        try:
            # The seen ids go along so that entries already published are only counted
            # (parsed.known), not normalised: most of a re-listed feed, on every poll.
            parsed = await self.parser.parse(result.body, result.headers, context, seen_at,
                                             known_ids=recent_seen(state.seen))
        except FeedError as exc:
            m.parse_errors.labels("fatal").inc()
            return await self._failed(spec, state, policy, exc.reason, status=result.status)
        m.parse_seconds.observe(time.monotonic() - started)
        if parsed.problem:
            m.parse_errors.labels("recovered").inc()
            log.debug("recovered parse problem url=%s problem=%s", spec.url, parsed.problem)
        fresh: dict[str, Any] = {}
        for article in parsed.articles:
            # state.seen is checked again: the parser was given only the newest ids.
            if article.id not in state.seen and article.id not in fresh:
                fresh[article.id] = article
        # Duplicates as before the parser skipped known entries: every entry whose id was
        # seen (each repeat too), plus repeats within this document.
        duplicates = len(parsed.known) + len(parsed.articles) - len(fresh)
        m.articles.labels("duplicate").inc(duplicates)
        m.articles.labels("skipped").inc(parsed.skipped)
        started = time.monotonic()
        self._publishing.add(spec.id)
        try:
            # From here on the poll is not cancelled: it ends by saving what Kafka acked.
            if fresh:
                state.publishing_since = now
                await self._io(self.store.save, spec.id, state)
            published = await self.sink.publish(list(fresh.values()))  # raises: state kept
            m.publish_seconds.observe(time.monotonic() - started)
            return await self._published(spec, state, policy, result, parsed, published,
                                         duplicates)
        finally:
            self._publishing.discard(spec.id)

    async def _published(self, spec: FeedSpec, state: FeedState, policy: Policy,
                   result: FetchResult, parsed: ParsedFeed, published: PublishResult,
                   duplicates: int) -> FeedOutcome:
        m = self.metrics
        m.articles.labels("produced").inc(len(published.acked))
        m.articles.labels("failed").inc(len(published.failed))
        for ident, reason in published.failed.items():
            log.warning("article not acknowledged id=%s url=%s reason=%s", ident, spec.url, reason)
        after_success(
            state, self.clock(), policy, status=result.status,
            # Known entries are still listed: their ids must stay remembered (an id the
            # state forgot while the feed lists it would be published again).
            present_ids=[*parsed.known, *(a.id for a in parsed.articles)],
            new_ids=published.acked,
            etag=result.etag, last_modified=result.last_modified,
            complete=published.complete, problem=parsed.problem,
            permanent_redirect=result.permanent_redirect,
        )
        await self._io(self.store.save, spec.id, state)
        log.debug("polled url=%s entries=%s new=%s", spec.url, parsed.entries,
                  len(published.acked))
        return FeedOutcome(spec.url, "new" if published.acked else "unchanged",
                           new=len(published.acked), duplicates=duplicates,
                           next_poll_at=state.next_poll_at)

    async def _failed(self, spec: FeedSpec, state: FeedState, policy: Policy, reason: str,
                retry_after: float | None = None, status: int | None = None) -> FeedOutcome:
        was_disabled = state.disabled_reason is not None
        after_failure(state, self.clock(), policy, reason, retry_after=retry_after,
                      status=status)
        await self._io(self.store.save, spec.id, state)
        log.warning("feed failed url=%s failures=%s reason=%s", spec.url,
                    state.consecutive_failures, reason)
        if state.disabled_reason and not was_disabled:
            log.warning("feed disabled url=%s reason=%s", spec.url, state.disabled_reason)
            self._summary.disabled += 1
        return FeedOutcome(spec.url, "error", reason=reason, retry_after=retry_after,
                           next_poll_at=state.next_poll_at,
                           disabled=state.disabled_reason is not None)

    async def _io(self, fn: Callable[..., _T], *args: Any) -> _T:
        """State files off the event loop: a rename over an existing file makes ext4 flush
        the data first (about 1 ms here), which would stall every other poll."""
        return await asyncio.get_running_loop().run_in_executor(self._io_pool, fn, *args)

    # -- crash recovery ------------------------------------------------------------------

    async def recover(self, specs: Iterable[FeedSpec]) -> int:
        """Mark as seen what interrupted polls of these feeds did produce; returns how many.

        A poll that died between Kafka's acknowledgement and its state save left
        ``publishing_since`` set; the articles topic is read from that moment on.
        """
        marked = [(s, self.store.load(s.id, s.url)) for s in specs]
        marked = [(s, st) for s, st in marked if st.publishing_since is not None]
        if not marked:
            return 0
        if self.recovery is None:  # e.g. a dry run: nothing was produced anywhere
            return 0
        since = min(st.publishing_since or 0.0 for _, st in marked) - RECOVERY_MARGIN_S
        urls = {s.url for s, _ in marked}
        found = await asyncio.get_running_loop().run_in_executor(None, self.recovery, since, urls)
        total = 0
        for spec, _ in marked:
            state = self.store.load(spec.id, spec.url)  # fresh: the marker may be gone by now
            ids = found.get(spec.url, set())
            total += len(ids - state.seen.keys())
            self.store.save(spec.id, recovered(state, ids, self.clock()))
            log.info("recovered interrupted poll url=%s found_on_topic=%s", spec.url, len(ids))
        return total

    async def _recover_then_schedule(self, items: list[tuple[FeedSpec, int]]) -> None:
        try:
            await self.recover([spec for spec, _ in items])
        except BrokerUnavailableError as exc:
            log.error("recovery read failed, will retry feeds=%s error=%s", len(items), exc)
            await asyncio.sleep(15.0)
            for spec, gen in items:
                if self._active.get(spec.id) == gen:
                    del self._active[spec.id]
            self._reconcile()
            return
        for spec, gen in items:
            if self._active.get(spec.id) == gen:
                self._schedule(spec, self.store.load(spec.id, spec.url).next_poll_at, gen)

    # -- one cycle -----------------------------------------------------------------------

    async def run_once(self) -> CycleSummary:
        """Poll every enabled feed this poller owns once, now, within the host rules."""
        summary = self._summary = CycleSummary(started_at=self.clock())
        await self.recover(self._feeds[fid] for fid in self._wanted())
        by_host: dict[str, list[FeedSpec]] = {}
        for fid in sorted(self._wanted()):
            spec = self._feeds[fid]
            if self.store.load(fid, spec.url).disabled_reason:
                continue
            by_host.setdefault(spec.host, []).append(spec)
        broker_down: list[BrokerUnavailableError] = []

        async def lane(specs: list[FeedSpec]) -> None:
            free_at = 0.0
            for spec in specs:
                if broker_down:
                    return
                wait = free_at - self.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    async with self._sem:
                        outcome = await self.poll_feed(spec)
                except BrokerUnavailableError as exc:
                    broker_down.append(exc)
                    return
                summary.add(outcome)
                free_at = self.clock() + max(self.settings.min_host_gap_s,
                                             outcome.retry_after or 0.0)

        await asyncio.gather(*(lane(specs) for specs in by_host.values()))
        summary.finished_at = self.clock()
        self._update_feed_gauge()
        if broker_down:
            raise broker_down[0]
        return summary

    # -- continuous ----------------------------------------------------------------------

    def _schedule(self, spec: FeedSpec, due: float, gen: int) -> None:
        lane = self._lanes.get(spec.host)
        if lane is None:
            lane = self._lanes[spec.host] = _Lane(spec.host)
            lane.task = asyncio.get_running_loop().create_task(self._run_lane(lane))
        heapq.heappush(lane.heap, (due, gen, spec.id))
        lane.wake.set()

    async def _run_lane(self, lane: _Lane) -> None:
        while not self._stopping:
            lane.wake.clear()
            while lane.heap and self._active.get(lane.heap[0][2]) != lane.heap[0][1]:
                heapq.heappop(lane.heap)  # released, removed or rescheduled
            if not lane.heap:
                await lane.wake.wait()
                continue
            due, gen, fid = lane.heap[0]
            delay = max(due, lane.free_at) - self.clock()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lane.wake.wait(), timeout=delay)
                continue
            heapq.heappop(lane.heap)
            spec = self._feeds.get(fid)
            if spec is None or self._active.get(fid) != gen:
                continue
            retry_after = None
            try:
                async with self._sem:
                    if self._active.get(fid) != gen or self._stopping:
                        continue
                    outcome = await self.poll_feed(spec)
                self._summary.add(outcome)
                retry_after = outcome.retry_after
                if outcome.disabled:
                    self._active.pop(fid, None)
                    continue
                next_due = outcome.next_poll_at or self.clock()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the lane itself is being stopped
                log.debug("poll released before publishing url=%s", spec.url)
                continue
            except BrokerUnavailableError as exc:
                log.error("Kafka unavailable, feed state kept url=%s error=%s", spec.url, exc)
                next_due = self.clock() + 15.0
            except Exception:  # one feed's bug must not stop its host's lane
                log.exception("unexpected error polling url=%s", spec.url)
                next_due = self.clock() + policy_for(spec, self.settings).min_interval_s
            finally:
                lane.free_at = self.clock() + max(self.settings.min_host_gap_s,
                                                  retry_after or 0.0)
            if self._active.get(fid) == gen:
                heapq.heappush(lane.heap, (next_due, gen, fid))

    async def run_forever(
        self,
        stop: asyncio.Event,
        on_summary: Callable[[CycleSummary], None] | None = None,
        reload: Callable[[], Iterable[FeedSpec] | None] | None = None,
    ) -> None:
        """Poll on schedule until ``stop`` is set; report a summary every interval.

        ``reload`` is called each interval and returns a new feed list when it changed.
        """
        self._continuous = True
        self._summary = CycleSummary(started_at=self.clock())
        self._reconcile()
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.summary_interval_s)
                self._summary.finished_at = self.clock()
                self._update_feed_gauge()
                if on_summary is not None:
                    on_summary(self._summary)
                self._summary = CycleSummary(started_at=self.clock())
                if reload is not None and not stop.is_set():
                    feeds = reload()
                    if feeds is not None:
                        self.set_feeds(feeds)
        finally:
            await self.shutdown()

    async def shutdown(self, timeout_s: float = 30.0) -> None:
        """Stop starting polls; let the ones in flight finish (their state gets saved)."""
        self._stopping = True
        self._continuous = False
        for lane in self._lanes.values():
            lane.wake.set()
        if self._inflight:
            await asyncio.wait(list(self._inflight.values()), timeout=timeout_s)
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._lanes.clear()

    def _update_feed_gauge(self) -> None:
        counts: dict[str, int] = {"ok": 0, "failing": 0, "disabled": 0, "new": 0}
        for fid, spec in self._feeds.items():
            if self._owned(fid):
                counts[self.store.load(fid, spec.url).status] += 1
        for status, count in counts.items():
            self.metrics.feeds.labels(status).set(count)


def _status_label(reason: str) -> str:
    return reason.split()[1] if reason.startswith("HTTP ") else "error"
