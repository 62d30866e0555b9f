from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ingest.normalize import (
    FeedContext,
    canonical_url,
    entry_identity,
    normalize_entry,
    plain_text,
    primary_language,
    resolve_published,
    source_of,
)
from newsflow.article import article_id

SEEN = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://Example.COM/Path?a=1#frag", "https://example.com/Path?a=1"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com:80/x", "http://example.com/x"),
    ("https://example.com:443/x", "https://example.com/x"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("https://example.com/x?utm_source=rss&utm_medium=feed&id=7", "https://example.com/x?id=7"),
    ("https://example.com/x?fbclid=1&gclid=2&b=2&a=1", "https://example.com/x?b=2&a=1"),
    ("https://example.com/x?UTM_Campaign=z", "https://example.com/x"),
    ("https://example.com/a b", "https://example.com/a%20b"),
    ("https://Bücher.example/", "https://xn--bcher-kva.example/"),
    ("  https://example.com/x  ", "https://example.com/x"),
    ("ftp://example.com/x", None),
    ("mailto:someone@example.com", None),
    ("/relative/path", None),
    ("", None),
    ("http://[::1]:8080/x", "http://[::1]:8080/x"),
])
def test_canonical_url(url: str, expected: str | None) -> None:
    assert canonical_url(url) == expected


def test_tracking_variants_share_one_id() -> None:
    a = canonical_url("https://News.example/story?utm_source=twitter#comments")
    b = canonical_url("https://news.example/story?fbclid=XYZ")
    assert a == b == "https://news.example/story"


@pytest.mark.parametrize(("html", "expected"), [
    ("<p>Hello <b>world</b></p>", "Hello world"),
    ("Tom &amp;amp; Jerry", "Tom & Jerry"),  # escaped twice
    ("AT&T rises", "AT&T rises"),
    ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
    ("<script>alert(1)</script>Text<style>p{}</style>", "Text"),
    ("line<br>break<p>para</p>", "line break para"),
    ("  lots \n\t of\u00a0 space  ", "lots of space"),
    ("zero\u200bwidth\ufeff", "zerowidth"),
    ("caf&eacute; &#8212; &#x2014;", "café — —"),
    ("", ""),
    (None, ""),
])
def test_plain_text(html: str | None, expected: str) -> None:
    assert plain_text(html) == expected


def test_plain_text_limit() -> None:
    assert plain_text("word " * 100, limit=12) == "word word wo"


@pytest.mark.parametrize(("tag", "expected"), [
    ("en-US", "en"), ("EN", "en"), ("de_DE", "de"), ("", None), (None, None), ("x1", None),
])
def test_primary_language(tag: str | None, expected: str | None) -> None:
    assert primary_language(tag) == expected


def _struct(dt: datetime) -> time.struct_time:
    return dt.timetuple()


@pytest.mark.parametrize(("entry", "expected", "estimated"), [
    ({"published_parsed": _struct(datetime(2026, 3, 1, 8))}, datetime(2026, 3, 1, 8, tzinfo=UTC),
     False),
    ({"updated_parsed": _struct(datetime(2026, 3, 2))}, datetime(2026, 3, 2, tzinfo=UTC), False),
    ({}, SEEN, True),
    ({"published_parsed": _struct(datetime(2099, 1, 1))}, SEEN, True),  # far future: clamped
    ({"published_parsed": _struct(SEEN.replace(tzinfo=None) + timedelta(minutes=30))},
     SEEN + timedelta(minutes=30), False),  # within the tolerance
    ({"published_parsed": "not a struct"}, SEEN, True),
])
def test_resolve_published(entry: dict[str, object], expected: datetime, estimated: bool) -> None:
    assert resolve_published(entry, SEEN, timedelta(hours=1)) == (expected, estimated)


def test_identity_prefers_canonical_link_then_guid_then_title() -> None:
    feed = "https://feed.example/rss"
    by_link = entry_identity({"link": "https://a.example/x?utm_source=1", "id": "g1"}, feed)
    assert by_link == (article_id("https://a.example/x"), "https://a.example/x?utm_source=1",
                       "https://a.example/x")
    by_url_guid = entry_identity({"id": "https://a.example/y"}, feed)
    assert by_url_guid is not None and by_url_guid[0] == article_id("https://a.example/y")
    by_urn = entry_identity({"id": "urn:uuid:1234"}, feed)
    assert by_urn == (article_id("urn:uuid:1234"), "", "")
    by_local_guid = entry_identity({"id": "1234"}, feed)
    assert by_local_guid == (article_id("https://feed.example/rss 1234"), "", "")
    assert entry_identity({"title": "Only a title"}, feed) is not None
    assert entry_identity({}, feed) is None


def test_normalize_entry_fields() -> None:
    entry = {
        "link": "https://www.news.example/a?utm_medium=x",
        "title": "<b>Ministers</b> meet &amp; agree",
        "summary": "<p>Short &lt;summary&gt;.</p>",
        "content": [{"value": "<p>Longer body text.</p>"}],
        "authors": [{"name": "By Jane Roe"}, {"name": "John Doe"}, {"name": "Jane Roe"}],
        "published_parsed": _struct(datetime(2026, 3, 1)),
    }
    feed = FeedContext("https://feed.example/rss", labels=("defence",), language="en-GB")
    art = normalize_entry(entry, feed, SEEN, detect_language=lambda text: "xx")
    assert art is not None
    assert art.id == article_id("https://www.news.example/a")
    assert art.canonical_url == "https://www.news.example/a"
    assert art.source == "news.example"
    assert art.title == "Ministers meet & agree"
    assert art.summary == "Short <summary>."
    assert art.content == "Longer body text."
    assert art.authors == ["Jane Roe", "John Doe"]
    assert art.language == "en"  # declared beats detected
    assert art.feed_labels == ["defence"]
    assert art.published_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert not art.published_at_estimated and art.seen_at == SEEN


def test_language_detected_when_not_declared() -> None:
    entry = {"link": "https://n.example/a", "title": "Un titre", "summary": "Un résumé"}
    art = normalize_entry(entry, FeedContext("https://f.example/"), SEEN,
                          detect_language=lambda text: "fr" if "résumé" in text else None)
    assert art is not None and art.language == "fr"


def test_source_of() -> None:
    assert source_of("https://www.Reuters.com/world") == "reuters.com"
    assert source_of("not a url") == ""
