"""Watch routes: one message per (article, watch) to news.watch.<name>, keyed by article id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsflow.article import Article, article_id, decode_article
from processors.streams import routing
from processors.streams.routing import WatchRoute, route_watches

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def article(n: int, watches: list[str]) -> Article:
    url = f"https://example.com/{n}"
    return Article(id=article_id(url), url=url, canonical_url=url,
                   feed_url="https://example.com/feed", source="example.com",
                   title=f"Story {n}", summary="", published_at=T0, seen_at=T0,
                   watches=watches)


def test_one_message_per_article_and_watch() -> None:
    a, b, c = article(1, ["naval", "iran"]), article(2, []), article(3, ["naval", "naval"])
    routes = route_watches([a, b, c], "news.watch.")
    assert [(r.watch, r.topic, r.article_id) for r in routes] == [
        ("naval", "news.watch.naval", a.id),
        ("iran", "news.watch.iran", a.id),
        ("naval", "news.watch.naval", c.id),
    ]
    first = routes[0]
    assert first.key == a.id.encode()
    assert decode_article(first.value).watches == ["naval", "iran"]
    message = first.message()
    assert message.topic == "news.watch.naval"
    assert (message.key, message.value, message.tag, message.enriched) == (
        first.key, first.value, None, False)


def test_bad_names_are_left_out_and_size_checked() -> None:
    routes = route_watches([article(1, ["Bad Name", "ok"])], "p.")
    assert [r.topic for r in routes] == ["p.ok"]
    route = WatchRoute("ok", "p.ok", b"k", b"v" * 10, "id")
    assert route.fits(None) and route.fits(11) and not route.fits(10)


def test_an_article_encoded_for_its_tag_streams_is_not_encoded_again() -> None:
    a, b = article(1, ["naval"]), article(2, ["naval"])
    routes = route_watches([a, b], "news.watch.", encoded={a.id: b"as sent to its tags"})
    assert routes[0].value == b"as sent to its tags"
    assert decode_article(routes[1].value).id == b.id


def test_an_article_without_a_route_is_not_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(routing, "encode_article", lambda a: calls.append(a.id) or b"x")
    assert routing.route_article(article(1, []), "news.tag.") == ([], [])
    assert route_watches([article(2, [])], "news.watch.") == []
    assert calls == []
