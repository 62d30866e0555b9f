"""Entries the caller already has (``known_ids``) are identified and counted, not normalised.

The poller passes its feed state's seen ids; everything else about a parse must stay as it
was without them: the other entries' articles, the skipped count, the feed's metadata.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

import pytest

import ingest.parse
from bench.parse.feeds import generated_feeds
from ingest.normalize import FeedContext
from ingest.parse import ParsedFeed, parse_articles, parse_feed
from ingest.parsepool import ParserPool
from newsflow.article import Article

SEEN = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
FEED = FeedContext("https://f.example/", labels=("t",))
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def _parse(name: str, fast: bool, known: frozenset[str] = frozenset()) -> ParsedFeed:
    body, headers = generated_feeds()[name]
    return parse_articles(body, headers, FEED, SEEN, fast=fast, known_ids=known)


def _dump(articles: list[Article]) -> list[dict[str, Any]]:
    return [a.model_dump() for a in articles]


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("name", ["wire-rss-20", "wire-atom-20-de"])
def test_known_entries_are_counted_and_the_others_unchanged(name: str, fast: bool) -> None:
    reference = _parse(name, fast)
    ids = [a.id for a in reference.articles]
    assert len(ids) == 20 and reference.known == []
    known = frozenset(ids[::2]) | {"0" * 32}  # every other entry, and an id not in the feed
    result = _parse(name, fast, known)
    assert result.known == ids[::2]  # document order
    assert _dump(result.articles) == _dump(reference.articles[1::2])
    assert (result.entries, result.skipped, result.title, result.language, result.version,
            result.problem, result.parser, result.fallback) == \
        (reference.entries, reference.skipped, reference.title, reference.language,
         reference.version, reference.problem, reference.parser, reference.fallback)


@pytest.mark.parametrize("fast", [True, False])
def test_a_feed_whose_entries_are_all_known_gives_no_articles_and_no_error(fast: bool) -> None:
    ids = [a.id for a in _parse("wire-rss-20", fast).articles]
    result = _parse("wire-rss-20", fast, frozenset(ids))
    assert result.articles == [] and result.known == ids
    assert result.entries == 20 and result.skipped == 0 and result.problem == ""


def test_known_entries_are_not_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [a.id for a in _parse("wire-rss-20", True).articles]
    built: list[str] = []
    real = ingest.parse.article_from_entry

    def counting(entry: Mapping[str, Any], identity: tuple[str, str, str],
                 *args: Any, **kwargs: Any) -> Article:
        built.append(identity[0])
        return real(entry, identity, *args, **kwargs)

    monkeypatch.setattr(ingest.parse, "article_from_entry", counting)
    result = _parse("wire-rss-20", True, frozenset(ids[:16]))
    assert built == ids[16:] == [a.id for a in result.articles]


def test_repeats_unidentifiable_entries_and_the_in_document_order() -> None:
    items = [
        "<item><title>A</title><link>https://n.example/a</link></item>",
        "<item><description>no link, guid or title</description></item>",
        "<item><title>B</title><link>https://n.example/b</link></item>",
        "<item><title>A again</title><link>https://n.example/a?utm_source=x</link></item>",
        "<item><title>C</title><link>https://n.example/c</link></item>",
    ]
    body = (f'<rss version="2.0"><channel><title>f</title>{"".join(items)}'
            "</channel></rss>").encode()
    everything = parse_feed(body, RSS_HEADERS, FEED, SEEN)
    a, b, a_again, c = everything.articles
    assert a.id == a_again.id and everything.skipped == 1
    result = parse_feed(body, RSS_HEADERS, FEED, SEEN, known_ids=frozenset({a.id, c.id}))
    assert result.known == [a.id, a.id, c.id]  # a repeat of a known id counts each time
    assert result.articles == [b] and result.skipped == 1 and result.entries == 5


async def _pool_parse(workers: int, known: AbstractSet[str]) -> ParsedFeed:
    body, headers = generated_feeds()["wire-rss-20"]
    async with ParserPool(workers) as pool:
        return await pool.parse(body, headers, FEED, SEEN, known_ids=known)


@pytest.mark.parametrize("workers", [0, 1])
def test_the_parser_pool_passes_the_known_ids(workers: int) -> None:
    ids = [a.id for a in _parse("wire-rss-20", True).articles]
    # A dict's keys, as the poller passes them (state.seen.keys()).
    seen = {i: 1_780_000_000 for i in ids[:16]}
    result = asyncio.run(_pool_parse(workers, seen.keys()))
    assert result.known == ids[:16] and [a.id for a in result.articles] == ids[16:]
    assert asyncio.run(_pool_parse(workers, frozenset())).known == []
