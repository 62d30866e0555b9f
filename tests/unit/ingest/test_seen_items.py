"""The fast path's remembered items (ingest/fastparse.py): an item read and checked before,
byte for byte in the same context, whose id the caller holds is not read again, and the
parse comes out exactly as without the memory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import ingest.fastparse as fastparse
from bench.parse.feeds import generated_feeds, quirk_feeds
from ingest.fastparse import _shape_doubt, _ShapeCheck, fast_parse, forget_seen_items
from ingest.normalize import FeedContext
from ingest.parse import ParsedFeed, parse_feed
from newsflow.errors import FeedError

SEEN = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
FEED = FeedContext("https://f.example/feed.xml", labels=("t",))
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


@pytest.fixture(autouse=True)
def _empty_memory() -> None:
    forget_seen_items()


def _parse(body: bytes, headers: dict[str, str], known: frozenset[str] = frozenset(),
           feed: FeedContext = FEED) -> ParsedFeed | str:
    try:
        return parse_feed(body, headers, feed, SEEN, fast=True, known_ids=known,
                          detect_language=lambda text: "xx" if "Quirk" in text else None)
    except FeedError as exc:
        return f"FeedError: {exc.reason}"


def _summary(result: ParsedFeed | str) -> Any:
    if isinstance(result, str):
        return result
    return ([a.model_dump() for a in result.articles], result.known, result.entries,
            result.skipped, result.problem, result.title, result.language, result.version,
            result.parser, result.fallback)


def _ids(result: ParsedFeed | str) -> frozenset[str]:
    assert not isinstance(result, str)
    return frozenset(a.id for a in result.articles) | frozenset(result.known)


def _all_ways(body: bytes, headers: dict[str, str]) -> None:
    """Cold, warm with nothing known, warm with all but two known, warm with all known:
    each equal to the same parse with no memory at all."""
    first = _parse(body, headers)
    if isinstance(first, str):
        assert _parse(body, headers) == first
        return
    ids = sorted(_ids(first))
    for known in (frozenset(), frozenset(ids[2:]), frozenset(ids)):
        warm = _parse(body, headers, known)
        forget_seen_items()
        cold = _parse(body, headers, known)
        assert _summary(warm) == _summary(cold), sorted(known)[:3]
        _parse(body, headers)  # remember again for the next round


@pytest.mark.parametrize("name", ["wire-rss-20", "wire-atom-20-de", "wire-rss-70", "wire-atom-70"])
def test_generated_feeds_parse_the_same_with_and_without_memory(name: str) -> None:
    feeds = generated_feeds()
    if name not in feeds:
        pytest.skip(f"no generated feed {name}")
    _all_ways(*feeds[name])


def test_quirky_feeds_parse_the_same_with_and_without_memory() -> None:
    for name, (body, headers) in quirk_feeds(120, seed=11).items():
        try:
            _all_ways(body, headers)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


def _rss(items: list[str], ns: str = 'xmlns:dc="http://purl.org/dc/elements/1.1/"',
         channel: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {ns}><channel>'
            f"<title>T</title>{channel}" + "".join(items) + "</channel></rss>").encode()


def _item(n: int, extra: str = "") -> str:
    return (f"<item><title>Story {n}</title><link>https://news.example/{n}</link>"
            f"<pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate>{extra}"
            f"<description>Text {n}</description></item>")


def test_remembered_known_items_are_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    body = _rss([_item(n) for n in range(5)])
    first = _parse(body, RSS)
    assert isinstance(first, ParsedFeed) and first.parser == "feedparser-rs"
    reads: list[object] = []
    real = fastparse._entry
    monkeypatch.setattr(fastparse, "_entry", lambda *a: reads.append(a) or real(*a))
    ids = [a.id for a in first.articles]
    again = _parse(_rss([_item(9), *(_item(n) for n in range(5))]), RSS, frozenset(ids[1:]))
    assert isinstance(again, ParsedFeed)
    assert len(reads) == 2  # the new item, and item 0 whose id the caller does not hold
    assert again.known == ids[1:]
    assert [a.id for a in again.articles][1:] == ids[:1]


def test_the_context_is_part_of_the_memory() -> None:
    creator = "<dc:creator>Ann</dc:creator>"
    plain = _rss([_item(1, creator)])
    first = _parse(plain, RSS)
    assert isinstance(first, ParsedFeed) and first.articles[0].authors == ["Ann"]
    assert len(fastparse._SEEN_ITEMS) == 1
    # The same item bytes with other namespace declarations in scope: another key.
    dc = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
    more = _rss([_item(1, creator)], ns=f'{dc} xmlns:foo="http://foo.example/"')
    assert _summary(_parse(more, RSS)) == _summary(first)
    assert len(fastparse._SEEN_ITEMS) == 2
    # Another feed URL, or other feed-level authors, is another context as well.
    _parse(plain, RSS, feed=FeedContext("https://elsewhere.example/feed.xml"))
    assert len(fastparse._SEEN_ITEMS) == 3
    _parse(_rss([_item(1, creator)], channel="<managingEditor>ed@x.example (Ed)"
                                            "</managingEditor>"), RSS)
    assert len(fastparse._SEEN_ITEMS) == 4
    _parse(plain, RSS)
    assert len(fastparse._SEEN_ITEMS) == 4  # the first context again


def test_items_of_a_doubtful_document_are_not_remembered() -> None:
    no_date = "<item><title>x</title><link>https://news.example/x</link></item>"
    result = _parse(_rss([_item(1), no_date]), RSS)
    assert isinstance(result, ParsedFeed) and result.parser == "feedparser"
    assert not fastparse._SEEN_ITEMS
    # ... and a remembered item does not keep a doubtful document on the fast path.
    _parse(_rss([_item(1)]), RSS)
    assert len(fastparse._SEEN_ITEMS) == 1
    ids = _ids(_parse(_rss([_item(1)]), RSS))
    again = _parse(_rss([_item(1), no_date]), RSS, ids)
    assert isinstance(again, ParsedFeed) and again.parser == "feedparser"


def test_item_spans_are_the_items_bytes() -> None:
    body = b"\xef\xbb\xbf" + _rss([_item(1), "<item/>", _item(2, "<category>c</category>")])
    check = _ShapeCheck()
    assert _shape_doubt(body, check) == ""
    spans = [body[start:end] for start, end, _ns in check.items]
    assert spans[0] == _item(1).removesuffix("</item>").encode()
    assert spans[1] == b"<item/>"
    assert spans[2] == _item(2, "<category>c</category>").removesuffix("</item>").encode()
    assert all(ns == (("dc", "http://purl.org/dc/elements/1.1/"),) for *_, ns in check.items)


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastparse, "SEEN_ITEMS_BYTES", 2_000)
    for n in range(50):
        quick = fast_parse(_rss([_item(n)]), RSS, max_entries=10, feed_url=FEED.feed_url)
        assert quick.parsed is not None
    assert 0 < fastparse._seen_items_bytes <= 2_000
    assert len(fastparse._SEEN_ITEMS) < 50
