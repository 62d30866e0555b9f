"""The poller: which feed to poll when, within each host's rules, once or continuously.

It composes the jobs that live in modules of their own:
- ingest/feedpoll.py   one feed's poll (state -> fetch -> parse -> dedup -> publish -> state)
- ingest/lanes.py      per-host lanes: one request at a time, the host gap, Retry-After,
                       and the deadline decision of a one-shot poll
- ingest/reconcile.py  which feeds this poller polls (list x ownership), and recovery of
                       polls interrupted between Kafka's acknowledgement and the state save
- ingest/summary.py    the outcome of each poll and the cycle's summary

``run_once`` polls every wanted feed once; with a deadline (``newsflow poll --once``) it
ends by then whatever a host says: no sleep on a gap or Retry-After past it, polls still
fetching or parsing at the deadline cancelled, and every feed not reached reported as
deferred with when it is next due. ``run_forever`` polls each feed on its schedule until
stopped. A global semaphore bounds the fetches in flight; lanes never wait on each other.

The orchestrator takes its adapters (fetcher, parser pool, sink, state store) as arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from ingest.feedpoll import (
    KNOWN_IDS_SENT,
    FeedPoller,
    FetchPort,
    ParsePort,
    policy_for,
    recent_seen,
)
from ingest.feeds import FeedSpec
from ingest.lanes import Defer, HostLane, Wait
from ingest.metrics import IngestMetrics
from ingest.publish import Sink
from ingest.reconcile import Recovery, Roster, recover
from ingest.state import AsyncStateStore, FeedState, StateStore
from ingest.summary import CycleSummary, FeedOutcome
from newsflow.errors import BrokerUnavailableError
from newsflow.settings import PollerSettings

# Besides Poller, the names callers imported when all of this was one module (run.py,
# tests, bench/), re-exported from where they now live.
__all__ = [
    "KNOWN_IDS_SENT",
    "CycleSummary",
    "FeedOutcome",
    "Poller",
    "Recovery",
    "recent_seen",
]

log = logging.getLogger(__name__)

BROKER_RETRY_S = 15.0  # continuous: a feed whose poll found Kafka down is tried again then
CANCELLED_AT_DEADLINE = "the cycle deadline came while it was being fetched or parsed"


def _any_feed(_feed_id: str, _generation: int) -> bool:
    return True  # a one-shot poll has no reconcile: every queued feed is current


@dataclass
class _Cycle:
    """One ``run_once``: its summary, its deadline, and whether Kafka was found down."""

    summary: CycleSummary
    deadline: float | None
    broker_down: list[BrokerUnavailableError] = field(default_factory=list)


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
        self.states = AsyncStateStore(store)
        self.metrics.deferred_schedules.set_function(store.deferred)
        self.polls = FeedPoller(settings, fetcher=fetcher, parser=parser, sink=sink,
                                states=self.states, metrics=self.metrics, clock=clock)
        self.roster = Roster(feeds)
        self._sem = asyncio.Semaphore(max(1, settings.concurrency))
        self._lanes: dict[str, HostLane] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._summary = CycleSummary()
        self._stopping = False
        self._continuous = False

    # -- feed set ------------------------------------------------------------------------

    @property
    def feeds(self) -> list[FeedSpec]:
        return list(self.roster.feeds.values())

    def set_feeds(self, feeds: Iterable[FeedSpec]) -> None:
        self.roster.set_feeds(feeds)
        self._reconcile()

    def set_ownership(self, owns: Callable[[str], bool]) -> None:
        """Which feed ids this poller polls (all by default; a group assigns a share)."""
        self.roster.owned = owns
        self._reconcile()

    async def release(self, feed_ids: Iterable[str], timeout_s: float = 60.0) -> None:
        """Stop polling these feeds and wait until none of them is in flight.

        Called when the group takes feeds away, before another poller may start on them.
        """
        ids = set(feed_ids)
        self.roster.drop(ids)
        pending = self.polls.cancel(ids)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        await self.states.flush(ids)  # the next owner starts from their latest schedule

    def _reconcile(self) -> None:
        """Bring lanes in line with the wanted feeds (only while running continuously).

        The feeds started on are scheduled once their state is loaded, off the event loop.
        """
        if not self._continuous:
            return
        started = self.roster.reconcile()
        if started:
            self._in_background(self._start(started))
        for lane in self._lanes.values():
            lane.wake.set()

    def _in_background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _start(self, started: list[tuple[FeedSpec, int]]) -> None:
        states = await self.states.load_many((spec.id, spec.url) for spec, _ in started)
        interrupted: list[tuple[FeedSpec, int]] = []
        for (spec, gen), state in zip(started, states, strict=True):
            if not self.roster.is_current(spec.id, gen):
                continue  # released or removed while its state was loading
            if state.disabled_reason:
                self.roster.drop([spec.id], gen)
            elif state.publishing_since is not None:
                interrupted.append((spec, gen))
            else:
                self._schedule(spec, state, gen)
        if interrupted:
            await self._recover_then_schedule(interrupted)

    async def _recover_then_schedule(self, items: list[tuple[FeedSpec, int]]) -> None:
        try:
            await self.recover([spec for spec, _ in items])
        except BrokerUnavailableError as exc:
            log.error("recovery read failed, will retry feeds=%s error=%s", len(items), exc)
            await asyncio.sleep(BROKER_RETRY_S)
            for spec, gen in items:
                self.roster.drop([spec.id], gen)
            self._reconcile()
            return
        states = await self.states.load_many((spec.id, spec.url) for spec, _ in items)
        for (spec, gen), state in zip(items, states, strict=True):
            if self.roster.is_current(spec.id, gen):
                self._schedule(spec, state, gen)

    # -- one feed ------------------------------------------------------------------------

    async def poll_feed(self, spec: FeedSpec) -> FeedOutcome:
        """Poll one feed now (ingest/feedpoll.py). Raises BrokerUnavailableError (state
        untouched) if Kafka is; CancelledError if released before publishing."""
        return await self.polls.poll(spec)

    async def recover(self, specs: Iterable[FeedSpec]) -> int:
        """Mark as seen what interrupted polls of these feeds did produce; returns how many."""
        return await recover(self.states, self.recovery, specs, self.clock())

    # -- one cycle -----------------------------------------------------------------------

    async def run_once(self, deadline_s: float | None = None) -> CycleSummary:
        """Poll every enabled feed this poller owns once, now, within the host rules.

        ``deadline_s``: end by then (see the module docstring); None waits for every feed.
        Raises BrokerUnavailableError, after the polls in flight, if Kafka is unreachable.
        """
        summary = CycleSummary(started_at=self.clock())
        cycle = _Cycle(summary, None if deadline_s is None else summary.started_at + deadline_s)
        wanted = [self.roster.feeds[fid] for fid in sorted(self.roster.wanted())]
        await self.recover(wanted)
        lanes: dict[str, HostLane] = {}
        for spec, state in zip(wanted, await self._states(wanted), strict=True):
            if state.disabled_reason:
                continue
            lane = lanes.setdefault(spec.host, HostLane(spec.host))
            lane.push(summary.started_at, 0, spec.id)
            lane.hold(state.host_retry_at)
        tasks = [asyncio.get_running_loop().create_task(self._run_lane_once(lane, cycle))
                 for lane in lanes.values()]
        if tasks:
            timeout = None if cycle.deadline is None else max(0.0, cycle.deadline - self.clock())
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            if pending:
                # The deadline: polls still fetching or parsing stop (their lanes report
                # them deferred); polls already publishing finish and save their state.
                self.polls.cancel()
                await asyncio.wait(pending)
            for task in tasks:
                task.result()  # an unexpected error in a lane is the cycle's error
        summary.finished_at = self.clock()
        await self._update_feed_gauge()
        if cycle.broker_down:
            raise cycle.broker_down[0]
        return summary

    async def _run_lane_once(self, lane: HostLane, cycle: _Cycle) -> None:
        while not cycle.broker_down:
            step = lane.step(self.clock(), _any_feed, cycle.deadline)
            if step is None:
                return
            if isinstance(step, Defer):
                for fid in lane.drain(_any_feed):
                    cycle.summary.add(FeedOutcome(self.roster.feeds[fid].url, "deferred",
                                                  reason=step.reason, next_poll_at=step.due_at))
                return
            if isinstance(step, Wait):
                # Ends before the deadline (next_step said so): then the head feed's turn.
                await asyncio.sleep(step.seconds)
            due, gen, fid = lane.pop()
            spec = self.roster.feeds[fid]
            try:
                async with self._sem:
                    if cycle.deadline is not None and self.clock() >= cycle.deadline:
                        lane.push(due, gen, fid)  # the deadline passed while waiting for a slot
                        continue
                    outcome = await self.poll_feed(spec)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                outcome = FeedOutcome(spec.url, "deferred", reason=CANCELLED_AT_DEADLINE,
                                      next_poll_at=self.clock())
            except BrokerUnavailableError as exc:
                cycle.broker_down.append(exc)
                return
            cycle.summary.add(outcome)
            lane.rest(self.clock(), self.settings.min_host_gap_s, outcome.retry_after)

    # -- continuous ----------------------------------------------------------------------

    def _schedule(self, spec: FeedSpec, state: FeedState, gen: int) -> None:
        lane = self._lanes.get(spec.host)
        if lane is None:
            lane = self._lanes[spec.host] = HostLane(spec.host)
            lane.task = asyncio.get_running_loop().create_task(self._run_lane(lane))
        lane.hold(state.host_retry_at)
        lane.push(self.polls.due(spec, state), gen, spec.id)

    async def _run_lane(self, lane: HostLane) -> None:
        current = self.roster.is_current
        while not self._stopping:
            lane.wake.clear()
            step = lane.step(self.clock(), current)
            if step is None:
                await lane.wake.wait()
                continue
            if isinstance(step, Wait):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lane.wake.wait(), timeout=step.seconds)
                continue
            _due, gen, fid = lane.pop()
            spec = self.roster.feeds.get(fid)
            if spec is None:
                continue
            retry_after = None
            try:
                async with self._sem:
                    if not current(fid, gen) or self._stopping:
                        continue
                    outcome = await self.poll_feed(spec)
                self._summary.add(outcome)
                retry_after = outcome.retry_after
                if outcome.disabled:
                    self.roster.drop([fid], gen)
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
                next_due = self.clock() + BROKER_RETRY_S
            except Exception:  # one feed's bug must not stop its host's lane
                log.exception("unexpected error polling url=%s", spec.url)
                next_due = self.clock() + policy_for(spec, self.settings).min_interval_s
            finally:
                lane.rest(self.clock(), self.settings.min_host_gap_s, retry_after)
            if current(fid, gen):
                lane.push(next_due, gen, fid)

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
                await self._update_feed_gauge()
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
        for background in list(self._background):
            background.cancel()
        for lane in self._lanes.values():
            lane.wake.set()
        inflight = self.polls.in_flight()
        if inflight:
            await asyncio.wait(inflight, timeout=timeout_s)
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._background, return_exceptions=True)
        self._lanes.clear()
        await self.states.flush()

    # -- state reads ---------------------------------------------------------------------

    async def _states(self, specs: list[FeedSpec]) -> list[FeedState]:
        return await self.states.load_many((spec.id, spec.url) for spec in specs)

    async def _update_feed_gauge(self) -> None:
        owned = [spec for fid, spec in self.roster.feeds.items() if self.roster.owned(fid)]
        counts: dict[str, int] = {"ok": 0, "failing": 0, "disabled": 0, "new": 0}
        for state in await self._states(owned):
            counts[state.status] += 1
        for status, count in counts.items():
            self.metrics.feeds.labels(status).set(count)
