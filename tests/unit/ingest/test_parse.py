from __future__ import annotations

import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.defuse import defuse_xml
from ingest.normalize import FeedContext
from ingest.parse import parse_feed
from newsflow.errors import FeedError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"
SEEN = datetime(2026, 3, 4, tzinfo=UTC)
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def parse(name_or_body: str | bytes, headers: dict[str, str] | None = None,
          feed: str = "https://feed.example/rss") -> object:
    body = (FIXTURES / name_or_body).read_bytes() if isinstance(name_or_body, str) \
        else name_or_body
    return parse_feed(body, headers or RSS_HEADERS, FeedContext(feed), SEEN)


def test_wire_feed() -> None:
    result = parse("wire.rss")
    titles = [a.title for a in result.articles]
    assert titles == ["Poland and Lithuania agree joint air-defence exercises",
                      "Grain prices steady as harvest outlook improves"]
    first = result.articles[0]
    assert first.canonical_url == "https://wire.example/world/poland-lithuania-exercises"
    assert first.summary.startswith("The defence ministers of Poland and Lithuania signed")
    assert "&" in first.summary and "<" not in first.summary
    assert first.authors == ["Anna Kowalska"] and first.language == "en"
    assert result.problem == ""


def test_atom_relative_links_language_and_future_dates() -> None:
    result = parse("atom.xml", {"Content-Type": "application/atom+xml"},
                   feed="https://atom.example/feed.xml")
    first, second = result.articles
    assert first.canonical_url == "https://atom.example/artikel/uebung?id=7"  # fbclid dropped
    assert first.title == "Bundeswehr & Marine üben gemeinsam"
    assert first.summary == "Die Übung beginnt am Montag." and "alert" not in first.summary
    assert first.authors == ["Jan Becker", "Eva Roth"] and first.language == "de"
    assert second.url == "" and second.published_at_estimated  # 2099 clamped
    assert second.published_at == SEEN


def test_broken_xml_keeps_the_entries_it_can() -> None:
    result = parse("broken.xml")
    assert "https://broken.example/second" in [a.url for a in result.articles]
    assert "not well-formed" in result.problem


def test_wrong_charset_is_recovered() -> None:
    result = parse("wrong-charset.xml")
    assert result.articles[0].title == "Café owners in München protest new rules"
    assert "CharacterEncodingOverride" in result.problem


def test_html_page_is_a_clear_reason() -> None:
    with pytest.raises(FeedError, match=r"HTML page.*advertises a feed at "
                                        "https://html.example/feed.xml"):
        parse("html-page.html", {"Content-Type": "text/html"})


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_empty_body(body: bytes) -> None:
    with pytest.raises(FeedError, match="empty body"):
        parse(body)


def test_garbage_is_a_clear_reason() -> None:
    with pytest.raises(FeedError, match="not a feed"):
        parse(b"\x00\x01\x02 definitely not xml {json: maybe}")


def test_empty_but_valid_feed_yields_nothing() -> None:
    result = parse(b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                   b"</channel></rss>")
    assert result.articles == [] and result.entries == 0


def test_entity_bomb_and_external_entity_are_defused() -> None:
    started = time.monotonic()
    result = parse("entity-bomb.xml")
    assert time.monotonic() - started < 2
    assert [a.url for a in result.articles] == ["https://bomb.example/1",
                                                "https://bomb.example/2"]
    assert "root:" not in result.articles[0].summary  # no /etc/passwd
    assert len(result.articles[0].title) < 100
    assert "DTD internal subset removed" in result.problem


def test_quadratic_blowup_is_defused() -> None:
    # Without the defence feedparser spent 54 s and 8.7 GB on this one.
    body = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "A" * 1_000_000 + '">]>'
            '<rss version="2.0"><channel><title>t</title><item><title>' + "&a;" * 3000 +
            "</title><link>https://q.example/1</link></item></channel></rss>").encode()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = parse(body)
    assert time.monotonic() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    assert result.articles[0].url == "https://q.example/1"


@pytest.mark.parametrize(("body", "expected", "changed"), [
    (b"<rss/>", b"<rss/>", False),
    (b'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "http://x/rss.dtd"><rss/>',
     b'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "http://x/rss.dtd"><rss/>', False),
    (b'<!DOCTYPE rss [<!ENTITY a "x">]><rss/>', b"<!DOCTYPE rss ><rss/>", True),
    (b'<!DOCTYPE rss [<!ENTITY a "]>"> <!-- ] --> ]><rss/>', b"<!DOCTYPE rss ><rss/>", True),
    (b'<!DOCTYPE rss [<!ENTITY a "never closed', b"<!DOCTYPE rss >", True),
    ('<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY a "x">]><r/>'
     .encode("utf-16"), b'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE r ><r/>', True),
])
def test_defuse_xml(body: bytes, expected: bytes, changed: bool) -> None:
    assert defuse_xml(body) == (expected, changed)
