from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ingest.feeds import FeedSpec
from ingest.fetch import FetchResult
from ingest.normalize import FeedContext
from ingest.parse import ParsedFeed, parse_articles
from ingest.poller import KNOWN_IDS_SENT, CycleSummary, Poller, recent_seen
from ingest.publish import PublishResult
from ingest.state import StateStore
from newsflow.article import Article
from newsflow.errors import BrokerUnavailableError, RefusedError, TransientError
from newsflow.settings import PollerSettings


def rss(*links: str) -> bytes:
    items = "".join(f"<item><title>T {link}</title><link>{link}</link></item>" for link in links)
    return f'<rss version="2.0"><channel><title>f</title>{items}</channel></rss>'.encode()


class FakeFetcher:
    def __init__(self) -> None:
        self.replies: dict[str, list[FetchResult | Exception]] = {}
        self.calls: list[tuple[str, str | None]] = []

    def add(self, url: str, *replies: FetchResult | Exception) -> None:
        self.replies.setdefault(url, []).extend(replies)

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    allow_private: bool = False) -> FetchResult:
        self.calls.append((url, etag))
        reply = self.replies[url].pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


class InlineParser:
    """parse_articles in this process, given the seen ids as the parser pool is."""

    def __init__(self) -> None:
        self.results: list[ParsedFeed] = []

    async def parse(self, body: bytes, headers: dict[str, str], feed: FeedContext,
                    seen_at: datetime, *, known_ids: AbstractSet[str] = frozenset()
                    ) -> ParsedFeed:
        result = parse_articles(body, headers, feed, seen_at, timedelta(hours=1),
                                known_ids=known_ids)
        self.results.append(result)
        return result


class BlindParser(InlineParser):
    """Ignores the seen ids: every entry normalised, as before the parser skipped any."""

    async def parse(self, body: bytes, headers: dict[str, str], feed: FeedContext,
                    seen_at: datetime, *, known_ids: AbstractSet[str] = frozenset()
                    ) -> ParsedFeed:
        return await super().parse(body, headers, feed, seen_at)


class FakeSink:
    def __init__(self) -> None:
        self.published: list[str] = []
        self.down = False
        self.reject: set[str] = set()

    async def publish(self, articles: Sequence[Article]) -> PublishResult:
        if self.down and articles:
            raise BrokerUnavailableError("Kafka unreachable")
        result = PublishResult()
        for a in articles:
            if a.url in self.reject:
                result.failed[a.id] = "rejected"
            else:
                result.acked.append(a.id)
                self.published.append(a.url)
        return result


def ok(url: str, body: bytes, etag: str | None = None) -> FetchResult:
    return FetchResult(url=url, status=200, body=body, etag=etag)


def not_modified(url: str) -> FetchResult:
    return FetchResult(url=url, status=304)


FEED = "https://f.example/rss"


@pytest.fixture
def parts(tmp_path: Path) -> tuple[FakeFetcher, FakeSink, StateStore]:
    return FakeFetcher(), FakeSink(), StateStore(tmp_path)


def poller(parts: tuple[FakeFetcher, FakeSink, StateStore], *feeds: str, **settings: object
           ) -> Poller:
    fetcher, sink, store = parts
    conf = PollerSettings.model_validate({"min_host_gap_s": 0.0, **settings})
    return Poller(conf, [FeedSpec(url=u) for u in feeds or (FEED,)], fetcher=fetcher,
                  parser=InlineParser(), sink=sink, store=store)


def run(p: Poller) -> object:
    return asyncio.run(p.run_once())


def test_second_poll_publishes_only_new_items(parts) -> None:  # type: ignore[no-untyped-def]
    fetcher, sink, _store = parts
    fetcher.add(FEED, ok(FEED, rss("https://n.example/1", "https://n.example/2"), '"e1"'),
                ok(FEED, rss("https://n.example/2", "https://n.example/3"), '"e2"'),
                not_modified(FEED))
    p = poller(parts)
    first = run(p)
    assert first.new_articles == 2 and sink.published == ["https://n.example/1",
                                                            "https://n.example/2"]
    second = run(p)
    assert second.new_articles == 1 and sink.published[-1] == "https://n.example/3"
    assert second.duplicates == 1
    third = run(p)
    assert third.not_modified == 1 and len(sink.published) == 3
    assert [etag for _, etag in fetcher.calls] == [None, '"e1"', '"e2"']


def test_broker_down_leaves_state_untouched(parts) -> None:  # type: ignore[no-untyped-def]
    fetcher, sink, store = parts
    body = rss("https://n.example/1")
    fetcher.add(FEED, ok(FEED, body, '"e1"'), ok(FEED, body, '"e1"'))
    sink.down = True
    p = poller(parts)
    with pytest.raises(BrokerUnavailableError):
        run(p)
    state = store.load(FeedSpec(FEED).id, FEED)
    assert state.seen == {} and state.etag is None and state.last_poll_at is None
    sink.down = False
    assert run(p).new_articles == 1  # offered again, once


def test_partial_ack_retries_only_the_missing(parts) -> None:  # type: ignore[no-untyped-def]
    fetcher, sink, store = parts
    body = rss("https://n.example/1", "https://n.example/2")
    fetcher.add(FEED, ok(FEED, body, '"e1"'), ok(FEED, body, '"e1"'))
    sink.reject = {"https://n.example/2"}
    p = poller(parts)
    assert run(p).new_articles == 1
    assert store.load(FeedSpec(FEED).id, FEED).etag is None  # not advanced: refetch in full
    sink.reject = set()
    assert run(p).new_articles == 1
    assert sink.published == ["https://n.example/1", "https://n.example/2"]
    assert fetcher.calls[1] == (FEED, None)


def test_failures_become_health_and_disable(parts) -> None:  # type: ignore[no-untyped-def]
    fetcher, _sink, store = parts
    fetcher.add(FEED, TransientError("HTTP 503, Retry-After 30 s", retry_after=30.0),
                RefusedError("refused: f.example resolves to private address 10.0.0.1"))
    now = [1_780_000_000.0]
    p = Poller(PollerSettings(min_host_gap_s=0.0, max_consecutive_failures=2),
               [FeedSpec(url=FEED)], fetcher=fetcher, parser=InlineParser(), sink=_sink,
               store=store, clock=lambda: now[0])
    first = run(p)
    assert first.errors == 1 and first.error_feeds[FEED].startswith("HTTP 503")
    state = store.load(FeedSpec(FEED).id, FEED)
    assert state.status == "failing" and state.next_poll_at - state.last_poll_at >= 30
    now[0] += 31  # past the host's Retry-After, which the next run honours
    second = run(p)
    assert second.disabled == 1
    state = store.load(FeedSpec(FEED).id, FEED)
    assert state.disabled_reason is not None and "10.0.0.1" in state.disabled_reason
    assert run(p).feeds_polled == 0  # disabled feeds are skipped


def test_unparseable_body_is_a_reason_not_a_crash(parts) -> None:  # type: ignore[no-untyped-def]
    fetcher, _sink, store = parts
    other = "https://g.example/rss"
    fetcher.add(FEED, ok(FEED, b"<html><body>hello</body></html>"))
    fetcher.add(other, ok(other, rss("https://n.example/9")))
    summary = run(poller(parts, FEED, other))
    assert summary.errors == 1 and summary.new_articles == 1
    assert "HTML page" in (store.load(FeedSpec(FEED).id, FEED).last_error or "")


def test_same_host_feeds_are_polled_one_at_a_time_with_a_gap(parts) -> None:  # type: ignore[no-untyped-def]
    _fetcher, sink, store = parts
    urls = [f"https://same.example/{n}" for n in range(3)]
    times: list[float] = []
    active = {"now": 0, "max": 0}

    class Timed(FakeFetcher):
        async def fetch(self, url: str, **kw: object) -> FetchResult:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
            times.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.02)
            active["now"] -= 1
            return ok(url, rss(url + "/a"))

    p = Poller(PollerSettings(min_host_gap_s=0.2), [FeedSpec(url=u) for u in urls],
               fetcher=Timed(), parser=InlineParser(), sink=sink, store=store)
    asyncio.run(p.run_once())
    assert active["max"] == 1
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(times))


class DyingSink(FakeSink):
    """Kafka acknowledges, then the process 'dies' before the state is saved."""

    async def publish(self, articles: Sequence[Article]) -> PublishResult:
        await super().publish(articles)
        raise SystemExit("killed after the acknowledgement")


def test_crash_between_ack_and_state_save_is_recovered_from_the_topic(
        tmp_path: Path) -> None:
    fetcher, store = FakeFetcher(), StateStore(tmp_path)
    body = rss("https://n.example/1", "https://n.example/2")
    fetcher.add(FEED, ok(FEED, body, '"e1"'), ok(FEED, body, '"e1"'))
    dying = DyingSink()
    first = Poller(PollerSettings(), [FeedSpec(url=FEED)], fetcher=fetcher,
                   parser=InlineParser(), sink=dying, store=store)
    with pytest.raises(SystemExit):
        asyncio.run(first.run_once())
    state = store.load(FeedSpec(FEED).id, FEED)
    assert state.publishing_since is not None and state.seen == {}

    produced = {a for a in dying.published}
    asked: list[tuple[float, set[str]]] = []

    def topic(since: float, urls: set[str]) -> dict[str, set[str]]:
        asked.append((since, urls))
        from newsflow.article import article_id
        return {FEED: {article_id(u) for u in produced}}

    sink = FakeSink()
    second = Poller(PollerSettings(), [FeedSpec(url=FEED)], fetcher=fetcher,
                    parser=InlineParser(), sink=sink, store=store, recovery=topic)
    summary = asyncio.run(second.run_once())
    assert summary.new_articles == 0 and sink.published == []  # no duplicate
    assert asked and asked[0][1] == {FEED} and asked[0][0] <= state.publishing_since
    assert store.load(FeedSpec(FEED).id, FEED).publishing_since is None


def test_no_recovery_read_without_an_interrupted_poll(parts) -> None:  # type: ignore[no-untyped-def]
    fetcher, sink, store = parts
    fetcher.add(FEED, ok(FEED, rss("https://n.example/1")))
    calls: list[float] = []
    p = Poller(PollerSettings(), [FeedSpec(url=FEED)], fetcher=fetcher, parser=InlineParser(),
               sink=sink, store=store, recovery=lambda since, urls: calls.append(since) or {})
    asyncio.run(p.run_once())
    assert calls == []


def test_metrics_count_outcomes(parts) -> None:  # type: ignore[no-untyped-def]
    fetcher, _sink, _store = parts
    fetcher.add(FEED, ok(FEED, rss("https://n.example/1", "https://n.example/2")),
                not_modified(FEED), not_modified(FEED))
    p = poller(parts)
    run(p)
    run(p)
    value = p.metrics.registry.get_sample_value
    assert value("newsflow_ingest_fetches_total", {"status": "200"}) == 1
    assert value("newsflow_ingest_fetches_total", {"status": "304"}) == 1
    assert value("newsflow_ingest_not_modified_total") == 1
    assert value("newsflow_ingest_articles_total", {"status": "produced"}) == 2
    assert value("newsflow_ingest_feeds", {"status": "ok"}) == 1
    # The first 304 after a 200 changes the last status too: written. A 304 after a 304
    # changes only the schedule: kept in memory (ingest/state.py), and counted as held.
    assert value("newsflow_ingest_schedule_saves_total", {"how": "written"}) == 1
    assert value("newsflow_ingest_deferred_schedules") == 0
    run(p)
    assert value("newsflow_ingest_schedule_saves_total", {"how": "deferred"}) == 1
    assert value("newsflow_ingest_deferred_schedules") == 1
    asyncio.run(p.states.flush())
    assert value("newsflow_ingest_deferred_schedules") == 0


def test_seen_entries_count_as_duplicates_as_when_every_entry_was_normalised(
        tmp_path: Path) -> None:
    # Each document: the ids it lists (repeats within one document included).
    polls = [["1", "2", "2"], ["2", "3", "3", "1"], ["1", "2", "3"], ["4", "1", "4"]]
    outcomes = {}
    for name, parser in (("aware", InlineParser()), ("blind", BlindParser())):
        fetcher, sink, store = FakeFetcher(), FakeSink(), StateStore(tmp_path / name)
        fetcher.add(FEED, *(ok(FEED, rss(*(f"https://n.example/{i}" for i in ids)))
                            for ids in polls))
        p = Poller(PollerSettings(min_host_gap_s=0.0), [FeedSpec(url=FEED)], fetcher=fetcher,
                   parser=parser, sink=sink, store=store)
        summaries = [asyncio.run(p.run_once()) for _ in polls]
        duplicate_metric = p.metrics.registry.get_sample_value(
            "newsflow_ingest_articles_total", {"status": "duplicate"})
        outcomes[name] = (
            [(s.new_articles, s.duplicates, s.errors) for s in summaries], duplicate_metric,
            sink.published, store.load(FeedSpec(FEED).id, FEED).seen.keys(),
        )
        known = [len(r.known) for r in parser.results]
        assert known == ([0, 2, 3, 1] if name == "aware" else [0, 0, 0, 0])
    assert outcomes["aware"] == outcomes["blind"]
    counts, duplicate_metric, published, _seen = outcomes["aware"]
    assert counts == [(2, 1, 0), (1, 3, 0), (0, 3, 0), (1, 2, 0)]
    assert duplicate_metric == 9
    assert published == [f"https://n.example/{i}" for i in "1234"]


def test_a_feed_listing_only_seen_items_publishes_nothing_and_is_healthy(parts) -> None:  # type: ignore[no-untyped-def]
    fetcher, sink, store = parts
    body = rss("https://n.example/1", "https://n.example/2")
    fetcher.add(FEED, ok(FEED, body), ok(FEED, body))  # no validators: a full 200 each time
    p = poller(parts)
    assert run(p).new_articles == 2
    second = run(p)
    assert isinstance(second, CycleSummary)
    assert (second.new_articles, second.duplicates, second.errors, second.unchanged) == \
        (0, 2, 0, 1)
    assert len(sink.published) == 2
    state = store.load(FeedSpec(FEED).id, FEED)
    assert state.status == "ok" and state.last_error is None


def test_seen_ids_the_feed_still_lists_are_kept_past_the_retention(
        tmp_path: Path) -> None:
    # The state forgets an id after 14 days unless the feed still lists it; an entry the
    # parser only counted as known must still count as listed, or it would be forgotten
    # and published again on the next poll.
    fetcher, sink, store = FakeFetcher(), FakeSink(), StateStore(tmp_path)
    body = rss("https://n.example/1", "https://n.example/2")
    fetcher.add(FEED, *(ok(FEED, body) for _ in range(3)))
    now = [1_780_000_000.0]
    p = Poller(PollerSettings(min_host_gap_s=0.0), [FeedSpec(url=FEED)], fetcher=fetcher,
               parser=InlineParser(), sink=sink, store=store, clock=lambda: now[0])
    assert asyncio.run(p.run_once()).new_articles == 2
    for days in (15, 16):
        now[0] += days * 86_400.0
        summary = asyncio.run(p.run_once())
        assert (summary.new_articles, summary.duplicates) == (0, 2)
        assert len(store.load(FeedSpec(FEED).id, FEED).seen) == 2
    assert sink.published == ["https://n.example/1", "https://n.example/2"]


def test_recent_seen_is_the_newest_ids_in_first_seen_order() -> None:
    seen = {f"id{n}": n for n in range(10)}
    assert recent_seen(seen, 10) == seen.keys()
    assert recent_seen(seen, 3) == {"id7", "id8", "id9"}


def test_an_old_seen_id_listed_again_is_still_a_duplicate(parts) -> None:  # type: ignore[no-untyped-def]
    # Only the newest seen ids go to the parser; an older one is normalised and dropped
    # by the poller's own check, as before.
    fetcher, sink, store = parts
    old, new = "https://n.example/old", "https://n.example/new"
    fetcher.add(FEED, ok(FEED, rss(old)), ok(FEED, rss(new, old)))
    parser = InlineParser()
    p = Poller(PollerSettings(min_host_gap_s=0.0), [FeedSpec(url=FEED)], fetcher=fetcher,
               parser=parser, sink=sink, store=store)
    assert asyncio.run(p.run_once()).new_articles == 1
    fid = FeedSpec(FEED).id
    state = store.load(fid, FEED)
    state.seen.update({f"{n:032x}": 1 for n in range(KNOWN_IDS_SENT)})  # newer than old's
    store.save(fid, state)
    second = asyncio.run(p.run_once())
    assert (second.new_articles, second.duplicates) == (1, 1)
    assert parser.results[-1].known == [] and len(parser.results[-1].articles) == 2
    assert sink.published == [old, new]
