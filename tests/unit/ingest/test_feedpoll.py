"""One feed's poll (ingest/feedpoll.py): failures read from the errors' attributes, and
cancelling a poll stops it only before it publishes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingest.feedpoll import FeedPoller, failure_label
from ingest.feeds import FeedSpec
from ingest.fetch import FetchResult
from ingest.metrics import IngestMetrics
from ingest.publish import PublishResult
from ingest.state import AsyncStateStore, StateStore
from newsflow.article import Article
from newsflow.errors import (
    FeedError,
    FeedTimeoutError,
    FeedUnavailableError,
    NewsflowError,
    RefusedError,
    TransientError,
)
from newsflow.settings import PollerSettings
from tests.unit.ingest.test_poller import InlineParser, rss

FEED = "https://f.example/rss"
NOW = 1_780_000_000.0


@pytest.mark.parametrize(("error", "label"), [
    (FeedUnavailableError("HTTP 429, Retry-After 3600 s", status=429, retry_after=3600.0),
     "429"),
    (FeedUnavailableError("HTTP 503", status=503), "503"),
    (FeedError("HTTP 404", status=404), "404"),
    (FeedError("unexpected HTTP 304", status=304), "304"),
    (FeedError("too many redirects (more than 5)"), "error"),
    (RefusedError("body larger than the 10 bytes cap (aborted)"), "refused"),
    (FeedTimeoutError("total timeout: no complete response within 60 s"), "timeout"),
    (FeedUnavailableError("cannot connect to f.example (192.0.2.1): refused"), "transient"),
    (TransientError("HTTP 503 as text only"), "transient"),  # the text is never parsed
])
def test_failure_label_reads_attributes(error: NewsflowError, label: str) -> None:
    assert failure_label(error) == label


class Fetcher:
    def __init__(self, *replies: FetchResult | Exception) -> None:
        self.replies = list(replies)
        self.gate: asyncio.Event | None = None

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    allow_private: bool = False) -> FetchResult:
        if self.gate is not None:
            await self.gate.wait()
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


class Sink:
    def __init__(self) -> None:
        self.gate: asyncio.Event | None = None
        self.published: list[str] = []

    async def publish(self, articles: Sequence[Article]) -> PublishResult:
        if self.gate is not None and articles:
            await self.gate.wait()
        self.published += [a.id for a in articles]
        return PublishResult(acked=[a.id for a in articles])


def feed_poller(tmp_path: Path, fetcher: Fetcher, sink: Sink | None = None) -> FeedPoller:
    return FeedPoller(PollerSettings(), fetcher=fetcher, parser=InlineParser(),
                      sink=sink or Sink(), states=AsyncStateStore(StateStore(tmp_path)),
                      metrics=IngestMetrics(), clock=lambda: NOW)


def test_a_429_keeps_its_status_and_the_hosts_retry_after(tmp_path: Path) -> None:
    polls = feed_poller(tmp_path, Fetcher(FeedUnavailableError(
        "HTTP 429, Retry-After 3600 s", status=429, retry_after=3600.0)))
    outcome = asyncio.run(polls.poll(FeedSpec(url=FEED)))
    assert (outcome.status, outcome.retry_after) == ("error", 3600.0)
    state = StateStore(tmp_path).load(FeedSpec(url=FEED).id, FEED)
    assert state.last_status == 429 and state.host_retry_at == NOW + 3600.0
    assert state.next_poll_at >= NOW + 3600.0
    assert polls.metrics.registry.get_sample_value(
        "newsflow_ingest_fetches_total", {"status": "429"}) == 1


def test_cancel_stops_a_poll_before_publishing_and_keeps_the_state(tmp_path: Path) -> None:
    fetcher = Fetcher(FetchResult(url=FEED, status=200, body=rss("https://n.example/1")))
    polls = feed_poller(tmp_path, fetcher)

    async def go() -> None:
        fetcher.gate = asyncio.Event()  # the fetch hangs
        task = asyncio.create_task(polls.poll(FeedSpec(url=FEED)))
        await asyncio.sleep(0.05)
        assert len(polls.cancel()) == 1
        with pytest.raises(asyncio.CancelledError):
            await task
        assert polls.in_flight() == []

    asyncio.run(go())
    state = StateStore(tmp_path).load(FeedSpec(url=FEED).id, FEED)
    assert state.last_poll_at is None and state.consecutive_failures == 0


def test_cancel_lets_a_publishing_poll_finish(tmp_path: Path) -> None:
    sink = Sink()
    polls = feed_poller(tmp_path, Fetcher(FetchResult(url=FEED, status=200,
                                                      body=rss("https://n.example/1"))), sink)

    async def go() -> None:
        sink.gate = asyncio.Event()  # Kafka takes its time
        task = asyncio.create_task(polls.poll(FeedSpec(url=FEED)))
        await asyncio.sleep(0.1)
        pending = polls.cancel()
        assert len(pending) == 1
        sink.gate.set()
        assert (await task).new == 1

    asyncio.run(go())
    assert len(sink.published) == 1
    assert StateStore(tmp_path).load(FeedSpec(url=FEED).id, FEED).seen.keys() == \
        set(sink.published)


def _cancel_while_fetching(polls: FeedPoller, fetcher: Fetcher, spec: FeedSpec) -> None:
    """Start a poll of ``spec`` whose request is out with no answer yet, then cancel it."""

    async def go() -> None:
        fetcher.gate = asyncio.Event()
        task = asyncio.create_task(polls.poll(spec))
        await asyncio.sleep(0.05)
        polls.cancel([spec.id])
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_a_feed_asked_by_a_cancelled_poll_is_not_due_again_before_its_minimum_interval(
        tmp_path: Path) -> None:
    """A rebalance cancels polls still fetching and hands most feeds back to the same poller:
    the host was asked (its answer dropped, the state unchanged), so the feed waits its
    minimum interval instead of being asked again at once."""
    fetcher = Fetcher(FetchResult(url=FEED, status=200, body=rss("https://n.example/1")))
    polls = feed_poller(tmp_path, fetcher)
    spec = FeedSpec(url=FEED)
    store = StateStore(tmp_path)
    before = store.load(spec.id, FEED)
    assert polls.due(spec, before) == before.next_poll_at  # nothing cancelled yet

    _cancel_while_fetching(polls, fetcher, spec)
    state = store.load(spec.id, FEED)
    assert state.next_poll_at < NOW  # the state alone says: due now
    assert polls.due(spec, state) == NOW + PollerSettings().min_interval_s
    assert polls.due(spec, state) == state.next_poll_at  # said once, for the next schedule


def test_a_later_recorded_poll_wins_over_a_cancelled_one(tmp_path: Path) -> None:
    """If a poll after the cancelled one was recorded (another poller's), its schedule
    stands."""
    fetcher = Fetcher(FetchResult(url=FEED, status=200, body=rss("https://n.example/1")))
    polls = feed_poller(tmp_path, fetcher)
    spec = FeedSpec(url=FEED)

    _cancel_while_fetching(polls, fetcher, spec)
    state = StateStore(tmp_path).load(spec.id, FEED)
    state.last_poll_at, state.next_poll_at = NOW + 1.0, NOW + 5.0
    assert polls.due(spec, state) == NOW + 5.0
