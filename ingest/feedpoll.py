"""One feed's poll: state -> fetch -> parse -> dedup -> publish -> save state.

1. load its state (the state directory is the truth; another poller may have polled it);
2. conditional GET; a 304 advances only the schedule;
3. parse and normalise in the parser pool; drop the ids the feed state has seen (the pool
   is given them, and only counts those entries instead of normalising them);
4. publish the new articles and wait for Kafka's acknowledgement;
5. only then save the state: validators, seen ids, schedule, health.
A crash before 5 leaves the old state, so the next poll offers the same articles again.
If Kafka is unreachable the state is left as it was and BrokerUnavailableError propagates.

Each poll runs as its own task, so that it can be cancelled while it is still fetching or
parsing (a feed handed to another poller, a one-shot poll's deadline), never once it has
started publishing: from there on it ends by saving what Kafka acknowledged.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any, Protocol

from ingest.feeds import FeedSpec
from ingest.fetch import FetchResult
from ingest.metrics import IngestMetrics
from ingest.normalize import FeedContext
from ingest.parse import ParsedFeed
from ingest.publish import PublishResult, Sink
from ingest.schedule import Policy, after_failure, after_success
from ingest.state import AsyncStateStore, FeedState
from ingest.summary import FeedOutcome
from newsflow.errors import (
    FeedError,
    FeedTimeoutError,
    FeedUnavailableError,
    NewsflowError,
    RefusedError,
    TransientError,
)
from newsflow.settings import PollerSettings

__all__ = [
    "KNOWN_IDS_SENT",
    "FeedPoller",
    "FetchPort",
    "ParsePort",
    "failure_label",
    "policy_for",
    "recent_seen",
]

log = logging.getLogger(__name__)


class FetchPort(Protocol):
    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    allow_private: bool = False) -> FetchResult: ...


class ParsePort(Protocol):
    async def parse(self, body: bytes, headers: dict[str, str], feed: FeedContext,
                    seen_at: datetime, *, known_ids: AbstractSet[str] = ...) -> ParsedFeed: ...


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


def policy_for(spec: FeedSpec, settings: PollerSettings) -> Policy:
    low = spec.min_interval_s or settings.min_interval_s
    high = max(low, spec.max_interval_s or settings.max_interval_s)
    return Policy(min_interval_s=low, max_interval_s=high,
                  default_interval_s=min(high, max(low, settings.default_interval_s)),
                  max_failures=settings.max_consecutive_failures)


def failure_label(exc: NewsflowError) -> str:
    """The fetch metric's status label for a failed fetch: the HTTP status when the server
    answered, else what kind of failure it was."""
    if isinstance(exc, RefusedError):
        return "refused"
    if isinstance(exc, FeedError | FeedUnavailableError) and exc.status is not None:
        return str(exc.status)
    if isinstance(exc, FeedTimeoutError):
        return "timeout"
    return "transient" if isinstance(exc, TransientError) else "error"


class FeedPoller:
    """Polls single feeds with the adapters it is given, and tracks the polls in flight."""

    def __init__(
        self,
        settings: PollerSettings,
        *,
        fetcher: FetchPort,
        parser: ParsePort,
        sink: Sink,
        states: AsyncStateStore,
        metrics: IngestMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.parser = parser
        self.sink = sink
        self.states = states
        self.metrics = metrics
        self.clock = clock
        self._inflight: dict[str, asyncio.Task[FeedOutcome]] = {}
        self._publishing: set[str] = set()
        # Feeds whose poll was cancelled after its request went out: feed id -> when the
        # poll began. The host answered, the answer was dropped and the state does not
        # know. A group's rebalance revokes every partition and hands most back to the same
        # poller, which would otherwise ask the feed again at once (``due``).
        self._asked: dict[str, float] = {}

    # -- polls in flight -----------------------------------------------------------------

    async def poll(self, spec: FeedSpec) -> FeedOutcome:
        """Poll one feed now. Raises BrokerUnavailableError (state untouched) if Kafka is.

        Raises CancelledError when ``cancel`` stopped the poll before it published.
        """
        task = asyncio.get_running_loop().create_task(self._poll(spec))
        self._inflight[spec.id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._inflight.pop(spec.id, None)
            else:  # the caller was cancelled: the poll goes on and cleans up after itself
                task.add_done_callback(functools.partial(self._forget, spec.id))

    def due(self, spec: FeedSpec, state: FeedState) -> float:
        """When the feed is next due: its state's schedule, but after a cancelled poll of
        this process that had asked the host (and that no later poll recorded) not before
        the feed's minimum interval from it: politeness does not depend on who owns it."""
        asked = self._asked.pop(spec.id, None)
        if asked is None or (state.last_poll_at is not None and state.last_poll_at >= asked):
            return state.next_poll_at
        return max(state.next_poll_at, asked + policy_for(spec, self.settings).min_interval_s)

    def _forget(self, feed_id: str, _task: object) -> None:
        self._inflight.pop(feed_id, None)

    def cancel(self, feed_ids: Iterable[str] | None = None) -> list[asyncio.Task[FeedOutcome]]:
        """Cancel the polls of these feeds (default: all) that have not started publishing;
        returns every poll of them still in flight, publishing ones included."""
        ids = None if feed_ids is None else set(feed_ids)
        pending = [task for fid, task in self._inflight.items() if ids is None or fid in ids]
        for fid, task in self._inflight.items():
            if (ids is None or fid in ids) and fid not in self._publishing:
                task.cancel()  # still fetching or parsing: nothing was produced yet
        return pending

    def in_flight(self) -> list[asyncio.Task[FeedOutcome]]:
        return list(self._inflight.values())

    # -- one poll ------------------------------------------------------------------------

    async def _poll(self, spec: FeedSpec) -> FeedOutcome:
        m = self.metrics
        state = await self.states.load(spec.id, spec.url)
        policy = policy_for(spec, self.settings)
        now = self.clock()
        if state.next_poll_at:
            m.lateness.observe(max(0.0, now - state.next_poll_at))
        try:
            result = await self.fetcher.fetch(
                spec.url, etag=state.etag, last_modified=state.last_modified,
                allow_private=spec.allow_private,
            )
        except asyncio.CancelledError:
            self._asked[spec.id] = now
            raise
        except (FeedError, TransientError) as exc:
            m.fetches.labels(failure_label(exc)).inc()
            if isinstance(exc, FeedError):
                return await self._failed(spec, state, policy, exc.reason, status=exc.status)
            status = exc.status if isinstance(exc, FeedUnavailableError) else None
            return await self._failed(spec, state, policy, str(exc), exc.retry_after, status)
        m.fetches.labels(str(result.status)).inc()
        m.fetch_seconds.observe(result.elapsed_s)
        m.bytes.inc(result.wire_bytes)
        if result.not_modified:
            m.not_modified.inc()
            after_success(state, self.clock(), policy, status=304)
            # Only the schedule changed (unless this 304 follows a failure or a 200): it is
            # written at most every schedule_save_interval_s (ingest/state.py).
            deferred = await self.states.save_schedule(spec.id, state,
                                                       self.settings.schedule_save_interval_s)
            m.schedule_saves.labels("deferred" if deferred else "written").inc()
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
        except asyncio.CancelledError:
            self._asked[spec.id] = now
            raise
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
                await self.states.save(spec.id, state)
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
        await self.states.save(spec.id, state)
        log.debug("polled url=%s entries=%s new=%s", spec.url, parsed.entries,
                  len(published.acked))
        return FeedOutcome(spec.url, "new" if published.acked else "unchanged",
                           new=len(published.acked), duplicates=duplicates,
                           next_poll_at=state.next_poll_at)

    async def _failed(self, spec: FeedSpec, state: FeedState, policy: Policy, reason: str,
                      retry_after: float | None = None, status: int | None = None
                      ) -> FeedOutcome:
        was_disabled = state.disabled_reason is not None
        after_failure(state, self.clock(), policy, reason, retry_after=retry_after,
                      status=status)
        await self.states.save(spec.id, state)
        log.warning("feed failed url=%s failures=%s reason=%s", spec.url,
                    state.consecutive_failures, reason)
        disabled = state.disabled_reason is not None
        if disabled and not was_disabled:
            log.warning("feed disabled url=%s reason=%s", spec.url, state.disabled_reason)
        return FeedOutcome(spec.url, "error", reason=reason, retry_after=retry_after,
                           next_poll_at=state.next_poll_at, disabled=disabled,
                           newly_disabled=disabled and not was_disabled)
