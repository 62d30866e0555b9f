"""A one-shot poll ends by its deadline whatever a host says (ingest/poller.py run_once),
a host's Retry-After is kept for the next run, and feed state never touches the event
loop's thread."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.feeds import FeedSpec
from ingest.fetch import FetchResult
from ingest.lanes import HOST_GAP, RETRY_AFTER
from ingest.normalize import FeedContext
from ingest.poller import CANCELLED_AT_DEADLINE, Poller
from ingest.state import FeedState, StateStore
from newsflow.errors import FeedUnavailableError
from newsflow.settings import PollerSettings
from tests.unit.ingest.test_poller import FakeSink, InlineParser, rss

BUSY = [f"https://busy.example/{n}" for n in range(2)]  # 429, Retry-After 3600
HANG = "https://hang.example/rss"  # never answers
OK = "https://ok.example/rss"


class Hosts:
    """A fetcher with scripted hosts; records when each URL was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, float]] = []

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    allow_private: bool = False) -> FetchResult:
        self.asked.append((url, time.time()))
        if url.startswith("https://busy."):
            raise FeedUnavailableError("HTTP 429, Retry-After 3600 s", url=url, status=429,
                                       retry_after=3600.0)
        if url == HANG:
            await asyncio.sleep(3600)
        return FetchResult(url=url, status=200, body=rss(f"{url}/item-{len(self.asked)}"))

    def urls(self) -> list[str]:
        return [url for url, _ in self.asked]


@pytest.fixture(autouse=True, scope="module")
def _warm_parser() -> None:
    # The fake parser runs on the event loop; its first call loads the language model
    # (~1 s), which would count against the deadlines measured here.
    asyncio.run(InlineParser().parse(rss("https://warm.example/1"), {},
                                     FeedContext(feed_url=OK), datetime.now(UTC)))


def make(store: StateStore, hosts: Hosts, *urls: str, **settings: object) -> Poller:
    conf = PollerSettings.model_validate({"min_host_gap_s": 0.0, **settings})
    return Poller(conf, [FeedSpec(url=u) for u in urls], fetcher=hosts, parser=InlineParser(),
                  sink=FakeSink(), store=store)


def test_once_ends_at_the_deadline_whatever_a_host_says(tmp_path: Path) -> None:
    store, hosts = StateStore(tmp_path), Hosts()
    poller = make(store, hosts, *BUSY, HANG, OK)
    started = time.time()
    summary = asyncio.run(poller.run_once(deadline_s=0.5))
    assert time.time() - started < 1.5
    assert (summary.feeds_polled, summary.new_articles, summary.errors, summary.deferred) == \
        (2, 1, 1, 2)
    # The busy host was asked once; its other feed waits for the Retry-After, not the cycle.
    asked_busy = [u for u in hosts.urls() if u in BUSY]
    assert len(asked_busy) == 1
    (refused,) = asked_busy
    (other,) = set(BUSY) - {refused}
    assert summary.error_feeds == {refused: "HTTP 429, Retry-After 3600 s"}
    waiting = summary.deferred_feeds[other]
    assert waiting.reason == RETRY_AFTER
    assert started + 3600 <= waiting.next_due_at <= time.time() + 3600
    # The hanging fetch was cut at the deadline: deferred, due now, its state untouched.
    hung = summary.deferred_feeds[HANG]
    assert hung.reason == CANCELLED_AT_DEADLINE
    assert started + 0.5 <= hung.next_due_at <= time.time()
    assert store.load(FeedSpec(url=HANG).id, HANG).last_poll_at is None
    # One host's backoff delayed no other host.
    ok_at = next(at for url, at in hosts.asked if url == OK)
    assert ok_at - started < 0.3
    # The host's Retry-After is kept in the feed state, for the next run.
    kept = store.load(FeedSpec(url=refused).id, refused)
    assert kept.last_status == 429 and kept.host_retry_at is not None
    assert kept.host_retry_at >= started + 3600


def test_the_next_run_honours_the_kept_retry_after(tmp_path: Path) -> None:
    store, hosts = StateStore(tmp_path), Hosts()
    asyncio.run(make(store, hosts, *BUSY, OK).run_once(deadline_s=0.5))
    hosts.asked.clear()
    started = time.time()
    summary = asyncio.run(make(store, hosts, *BUSY, OK).run_once(deadline_s=0.5))
    assert time.time() - started < 0.5  # nothing to wait for: deferred at once
    assert hosts.urls() == [OK]  # the busy host was not asked again
    assert set(summary.deferred_feeds) == set(BUSY)
    assert {d.reason for d in summary.deferred_feeds.values()} == {RETRY_AFTER}
    assert min(d.next_due_at for d in summary.deferred_feeds.values()) >= started + 3590


def test_a_host_gap_past_the_deadline_defers_the_rest_of_the_host(tmp_path: Path) -> None:
    store, hosts = StateStore(tmp_path), Hosts()
    same = [f"https://ok.example/{n}" for n in range(3)]
    started = time.time()
    summary = asyncio.run(make(store, hosts, *same, min_host_gap_s=10.0)
                          .run_once(deadline_s=1.0))
    assert time.time() - started < 0.8  # no sleep on a gap that ends past the deadline
    assert summary.feeds_polled == 1 and summary.deferred == 2
    for deferred in summary.deferred_feeds.values():
        assert deferred.reason == HOST_GAP
        assert started + 10 <= deferred.next_due_at <= time.time() + 10


def test_without_a_deadline_a_gap_is_waited_for(tmp_path: Path) -> None:
    store, hosts = StateStore(tmp_path), Hosts()
    same = [f"https://ok.example/{n}" for n in range(2)]
    summary = asyncio.run(make(store, hosts, *same, min_host_gap_s=0.3).run_once())
    assert summary.feeds_polled == 2 and summary.deferred == 0
    assert hosts.asked[1][1] - hosts.asked[0][1] >= 0.3


class ThreadCheckingStore(StateStore):
    """Records the thread of every state read and write."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.threads: set[int] = set()

    def load(self, feed_id: str, url: str) -> FeedState:
        self.threads.add(threading.get_ident())
        return super().load(feed_id, url)

    def save(self, feed_id: str, state: FeedState) -> None:
        self.threads.add(threading.get_ident())
        super().save(feed_id, state)


@pytest.mark.parametrize("mode", ["once", "continuous"])
def test_state_files_stay_off_the_event_loop(tmp_path: Path, mode: str) -> None:
    store, hosts = ThreadCheckingStore(tmp_path), Hosts()
    interrupted = store.load(FeedSpec(url=OK).id, OK)
    interrupted.publishing_since = time.time()  # recovery reads and writes state too
    store.save(FeedSpec(url=OK).id, interrupted)
    store.threads.clear()
    poller = make(store, hosts, *BUSY, OK, summary_interval_s=0.1)
    poller.recovery = lambda since, urls: {}

    async def go() -> None:
        if mode == "once":
            await poller.run_once(deadline_s=1.0)
        else:
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.5, stop.set)
            await poller.run_forever(stop)

    asyncio.run(go())
    assert OK in hosts.urls() and store.threads
    assert threading.get_ident() not in store.threads  # asyncio.run's loop ran here


def test_continuous_polling_honours_a_kept_retry_after(tmp_path: Path) -> None:
    store, hosts = StateStore(tmp_path), Hosts()
    held = store.load(FeedSpec(url=BUSY[0]).id, BUSY[0])
    held.host_retry_at = time.time() + 3600
    store.save(FeedSpec(url=BUSY[0]).id, held)
    poller = make(store, hosts, *BUSY, OK)

    async def go() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        await poller.run_forever(stop)

    asyncio.run(go())
    assert hosts.urls() == [OK]  # neither feed of the busy host was asked
