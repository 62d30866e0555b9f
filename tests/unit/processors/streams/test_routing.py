"""processors.streams.routing: which tag topics an article goes to, as which messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsflow.article import Article, Tag, article_id, decode_article
from processors.streams.routing import is_valid_tag, route_article, route_articles, tag_topic_name

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def make_article(url: str, *tags: str) -> Article:
    return Article(
        id=article_id(url), url=url, canonical_url=url, feed_url="https://example.com/feed",
        source="example.com", title="t", published_at=NOW, seen_at=NOW,
        tags=[Tag(tag=t, score=0.5, taxonomy_version="v1") for t in tags],
    )


@pytest.mark.parametrize(
    ("tag", "valid"),
    [("military-cooperation", True), ("sanctions", True), ("g7", True),
     ("Military", False), ("a--b", False), ("-a", False), ("a b", False), ("", False),
     ("a.b", False)],
)
def test_is_valid_tag(tag: str, valid: bool) -> None:
    assert is_valid_tag(tag) is valid


def test_tag_topic_name() -> None:
    assert tag_topic_name("news.tag.", "military-aid") == "news.tag.military-aid"
    with pytest.raises(ValueError, match="kebab-case"):
        tag_topic_name("news.tag.", "Bad Tag")
    with pytest.raises(ValueError, match="longer"):
        tag_topic_name("news.tag.", "a" * 250)


def test_one_route_per_distinct_tag_keyed_by_article_id_with_the_article_as_value() -> None:
    article = make_article("https://e.com/1", "military-cooperation", "sanctions",
                           "military-cooperation")
    routes, skipped = route_article(article, "news.tag.")
    assert [r.topic for r in routes] == ["news.tag.military-cooperation", "news.tag.sanctions"]
    assert {r.key for r in routes} == {article.id.encode()}
    assert decode_article(routes[0].value) == article
    assert skipped == []


def test_untagged_article_goes_nowhere_and_only_tags_limits_routes() -> None:
    assert route_article(make_article("https://e.com/2"), "news.tag.") == ([], [])
    article = make_article("https://e.com/3", "military-aid", "sanctions")
    routes, _ = route_article(article, "p.", tags={"sanctions"})
    assert [r.tag for r in routes] == ["sanctions"]


def test_invalid_tags_are_reported_not_routed() -> None:
    good = make_article("https://e.com/4", "sanctions")
    bad = make_article("https://e.com/5", "Not Valid", "military-aid")
    routes, skipped = route_articles([good, bad], "news.tag.")
    assert [(r.article_id, r.tag) for r in routes] == [(good.id, "sanctions"),
                                                       (bad.id, "military-aid")]
    assert skipped == [(bad.id, "Not Valid")]


def test_a_route_is_the_message_of_its_tag_and_knows_whether_it_fits() -> None:
    [route], _ = route_article(make_article("https://e.com/6", "sanctions"), "news.tag.")
    message = route.message()
    assert (message.tag, message.key, message.value) == ("sanctions", route.key, route.value)
    size = len(route.key) + len(route.value)
    assert route.fits(None) and route.fits(size)
    assert not route.fits(size - 1)
