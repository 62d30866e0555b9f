"""processors.store.search: request bodies and result parsing (the real ES runs them in
tests/integration/test_search.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.article import Article, article_id
from processors.store.documents import article_document
from processors.store.search import (
    SearchQuery,
    StatsQuery,
    build_search,
    build_stats,
    parse_search,
    parse_stats,
    parse_when,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01", datetime(2025, 6, 1, tzinfo=UTC)),
        ("2025-06-01T08:30:00Z", datetime(2025, 6, 1, 8, 30, tzinfo=UTC)),
        ("2025-06-01T10:30:00+02:00", datetime(2025, 6, 1, 8, 30, tzinfo=UTC)),
        ("2025-06-01T08:30:00", datetime(2025, 6, 1, 8, 30, tzinfo=UTC)),
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 3D ", NOW - timedelta(days=3)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "7y", "2025-13-01", ""])
def test_parse_when_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_when(text, NOW)


def test_search_body_with_text_and_every_filter() -> None:
    since = datetime(2025, 1, 1, tzinfo=UTC)
    until = datetime(2025, 2, 1, tzinfo=UTC)
    body = build_search(SearchQuery(text="naval exercise", tags=("a", "b"), entities=("NATO",),
                                    sources=("reuters.com",), since=since, until=until,
                                    size=5, offset=10))
    query = body["query"]["bool"]
    assert query["must"][0]["simple_query_string"]["query"] == "naval exercise"
    assert query["must"][0]["simple_query_string"]["default_operator"] == "and"
    filters = query["filter"]
    assert {"term": {"tags": "a"}} in filters and {"term": {"tags": "b"}} in filters
    assert {"terms": {"source": ["reuters.com"]}} in filters
    assert {"range": {"published_at": {"gte": "2025-01-01T00:00:00+00:00",
                                       "lt": "2025-02-01T00:00:00+00:00"}}} in filters
    (entity,) = [f["nested"] for f in filters if "nested" in f]
    assert entity["path"] == "entities"
    assert entity["query"]["bool"]["should"] == [
        {"term": {"entities.text": {"value": "NATO", "case_insensitive": True}}},
        {"term": {"entities.canonical": {"value": "NATO", "case_insensitive": True}}},
    ]
    assert (body["size"], body["from"]) == (5, 10)
    assert body["sort"][0] == "_score"
    assert set(body["highlight"]["fields"]) == {"title", "summary", "content"}


def test_search_without_text_lists_newest_first_without_highlights() -> None:
    body = build_search(SearchQuery())
    assert body["query"]["bool"]["must"] == [{"match_all": {}}]
    assert body["query"]["bool"]["filter"] == []
    assert body["sort"][0] == {"published_at": "desc"}
    assert "highlight" not in body


def test_parse_search_returns_articles_scores_and_highlights() -> None:
    url = "https://e.com/1"
    article = Article(id=article_id(url), url=url, canonical_url=url, feed_url="https://e.com/f",
                      source="e.com", title="Naval exercise", published_at=NOW, seen_at=NOW)
    doc = article_document(article, taxonomy_version="v1", indexed_at=NOW)
    response = {"hits": {"total": {"value": 7, "relation": "eq"}, "hits": [
        {"_index": "news-articles-v1-2026.11", "_id": article.id, "_score": 2.5,
         "_source": doc, "highlight": {"title": ["<em>Naval</em> exercise"]}},
    ]}}
    result = parse_search(response)
    assert result.total == 7
    [hit] = result.hits
    assert hit.article.id == article.id and hit.score == 2.5
    assert hit.highlights == {"title": ["<em>Naval</em> exercise"]}
    assert hit.to_json()["title"] == "Naval exercise"
    assert hit.to_json()["score"] == 2.5


def test_stats_body_and_parsing() -> None:
    query = StatsQuery(tags=("military-aid",), interval="week", top=3)
    body = build_stats(query)
    assert body["size"] == 0
    assert body["aggs"]["per_tag"]["terms"]["include"] == ["military-aid"]
    assert body["aggs"]["per_tag"]["aggs"]["over_time"]["date_histogram"][
        "calendar_interval"] == "week"
    assert body["aggs"]["top_0"]["filter"] == {"term": {"tags": "military-aid"}}
    assert body["aggs"]["top_0"]["aggs"]["people"]["terms"] == {"field": "entity.people",
                                                                "size": 3}
    response = {
        "hits": {"total": {"value": 9}},
        "aggregations": {
            "untagged": {"doc_count": 4},
            "per_tag": {"buckets": [{"key": "military-aid", "doc_count": 5, "over_time": {
                "buckets": [{"key_as_string": "2026-11-23", "doc_count": 5}]}}]},
            "top_0": {
                "people": {"buckets": [{"key": "Joe Biden", "doc_count": 2}]},
                "organizations": {"buckets": []},
                "places": {"buckets": [{"key": "Ukraine", "doc_count": 5}]},
                "groups": {"buckets": []},
            },
        },
    }
    stats = parse_stats(query, response)
    assert (stats.total, stats.untagged) == (9, 4)
    assert stats.per_tag == {"military-aid": [("2026-11-23", 5)]}
    assert stats.top_entities["military-aid"]["places"] == [("Ukraine", 5)]
    out = stats.to_json()
    assert out["tags"]["military-aid"]["total"] == 5
    assert out["tags"]["military-aid"]["top_entities"]["people"] == [
        {"name": "Joe Biden", "articles": 2}]
