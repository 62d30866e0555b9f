"""Watches, the pure part: a watch's query is `newsflow search`'s, names are tag-like, the
mappings, and the percolate / named-search request bodies and answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from newsflow.errors import DocumentRejectedError
from processors.store.documents import article_document
from processors.store.search import SearchQuery, build_search
from processors.store.watches import (
    MAX_NAME_LENGTH,
    PERCOLATE_MAX_SIZE,
    Watch,
    article_mappings,
    backfill_body,
    filters_search_body,
    is_valid_name,
    matched_article_document,
    matched_document,
    parse_filters_search,
    parse_percolate,
    percolate_body,
    percolate_total,
    watch_document,
    watch_from_document,
    watch_query,
    watch_topic_name,
    watches_mappings,
)
from tests.unit.processors.store.test_documents import make_article

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "tags", "entities"), [
    ("naval exercise", (), ()),
    ('"joint drills" -army', ("military-cooperation",), ()),
    ("", ("sanctions",), ("Iran", "EU")),
    ("drone*", ("drone-warfare", "military-aid"), ("Ukraine",)),
    ("", (), ("NATO",)),
])
def test_watch_query_is_the_search_query(
    text: str, tags: tuple[str, ...], entities: tuple[str, ...],
) -> None:
    search = build_search(SearchQuery(text=text, tags=tags, entities=entities))
    assert watch_query(Watch("w", query=text, tags=tags, entities=entities)) == search["query"]


def test_search_body_unchanged_by_the_shared_clauses() -> None:
    body = build_search(SearchQuery(text="naval", tags=("a",), since=T0, size=5))
    assert body["query"]["bool"]["must"] == [{"simple_query_string": {
        "query": "naval", "fields": ["title^3", "summary^2", "content", "authors"],
        "default_operator": "and"}}]
    assert body["query"]["bool"]["filter"] == [
        {"term": {"tags": "a"}}, {"range": {"published_at": {"gte": T0.isoformat()}}}]
    assert body["sort"] == ["_score", {"published_at": "desc"}]
    empty = build_search(SearchQuery())
    assert empty["query"]["bool"]["must"] == [{"match_all": {}}]
    assert "highlight" not in empty


@pytest.mark.parametrize("name", ["a", "naval-exercise", "iran-sanctions-2026", "x" * 100])
def test_valid_names(name: str) -> None:
    assert is_valid_name(name)
    assert Watch(name, query="q").name == name


@pytest.mark.parametrize("name", ["", "Naval", "naval exercise", "naval_exercise", "-naval",
                                  "naval-", "naval--exercise", "naval.exercise", "ü",
                                  "x" * (MAX_NAME_LENGTH + 1)])
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(ValueError, match="watch name"):
        Watch(name, query="q")
    with pytest.raises(ValueError):
        watch_topic_name("news.watch.", name)


def test_a_watch_needs_something_to_match_and_is_cleaned() -> None:
    with pytest.raises(ValueError, match="every article"):
        Watch("everything", query="   ")
    with pytest.raises(ValueError, match="empty tag"):
        Watch("w", query="q", tags=(" ",))
    watch = Watch("w", query="  naval  ", tags=("a", " a", "b"), entities=("NATO", "NATO"))
    assert (watch.query, watch.tags, watch.entities) == ("naval", ("a", "b"), ("NATO",))
    assert Watch("w", tags=("a",)).query == ""


def test_topic_name() -> None:
    assert watch_topic_name("news.watch.", "naval") == "news.watch.naval"
    with pytest.raises(ValueError, match="longer"):
        watch_topic_name("p" * 200, "x" * 60)


def test_document_round_trip() -> None:
    watch = Watch("naval", query="naval exercise", tags=("military-cooperation",),
                  entities=("China",), created_at=T0)
    document = watch_document(watch)
    assert document["query"] == watch_query(watch)
    assert document["watch"] == {"name": "naval", "query": "naval exercise",
                                 "tags": ["military-cooperation"], "entities": ["China"],
                                 "created_at": T0.isoformat()}
    back = watch_from_document(document)
    assert back == watch and back.created_at == T0
    assert watch_from_document({"watch": {"name": "n", "query": "q"}}).created_at is None


def test_mappings() -> None:
    articles = article_mappings("standard")
    percolating = watches_mappings("standard", percolator=True)
    assert percolating["properties"]["query"] == {"type": "percolator"}
    assert percolating["properties"]["watch"]["properties"]["name"] == {"type": "keyword"}
    assert percolating["dynamic"] == "strict"
    # every article field, parsed as the article index parses it
    for name, spec in articles["properties"].items():
        assert percolating["properties"][name] == spec
    assert "watches" in articles["properties"]
    assert "query" not in articles["properties"]  # a fresh copy, not the percolator's
    plain = watches_mappings("english", percolator=False)
    assert plain["properties"]["query"] == {"type": "object", "enabled": False}
    assert set(plain["properties"]) == {"query", "watch"}
    assert article_mappings("english")["properties"]["title"]["analyzer"] == "english"


def test_percolate_body_and_answer() -> None:
    docs = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    body = percolate_body(docs, 7)
    assert body["query"] == {"percolate": {"field": "query", "documents": docs}}
    assert body["size"] == 7 and body["_source"] is False and body["track_total_hits"]
    assert percolate_body(docs, 0)["size"] == 1
    assert percolate_body(docs, 10**6)["size"] == PERCOLATE_MAX_SIZE
    response = {"hits": {"total": {"value": 3, "relation": "eq"}, "hits": [
        {"_id": "zeta", "fields": {"_percolator_document_slot": [0, 2]}},
        {"_id": "alpha", "fields": {"_percolator_document_slot": [2]}},
        {"_id": "stray", "fields": {"_percolator_document_slot": [9]}},
    ]}}
    assert parse_percolate(response, 3) == [["zeta"], [], ["alpha", "zeta"]]
    assert percolate_total(response) == 3
    single = {"hits": {"total": 1, "hits": [{"_id": "only"}]}}
    assert parse_percolate(single, 1) == [["only"]]
    assert percolate_total(single) == 1


def test_filters_search_body_and_answer() -> None:
    watches = [Watch("naval", query="naval"), Watch("iran", entities=("Iran",))]
    ids = ["t-0", "t-1", "t-2"]
    body = filters_search_body(watches, ids)
    assert body["query"] == {"ids": {"values": ids}}
    assert body["size"] == 0
    buckets = body["aggs"]["watches"]
    assert buckets["filters"]["filters"] == {w.name: watch_query(w) for w in watches}
    assert buckets["aggs"]["docs"]["terms"] == {"field": "id", "size": 3}
    response = {"aggregations": {"watches": {"buckets": {
        "naval": {"doc_count": 1, "docs": {"buckets": [{"key": "t-2", "doc_count": 1}]}},
        "iran": {"doc_count": 3, "docs": {"buckets": [
            {"key": "t-2", "doc_count": 1}, {"key": "t-0", "doc_count": 1},
            {"key": "other-0", "doc_count": 1}]}},
        "none": {"doc_count": 0, "docs": {"buckets": []}},
    }}}}
    assert parse_filters_search(response, ids) == [["iran"], [], ["iran", "naval"]]
    assert parse_filters_search({}, ids) == [[], [], []]


def test_backfill_body() -> None:
    watch = Watch("naval", query="naval", tags=("a",))
    body = backfill_body(watch, since=T0, size=50)
    assert body["query"]["bool"]["must"] == watch_query(watch)["bool"]["must"]
    assert body["query"]["bool"]["filter"] == [
        {"term": {"tags": "a"}}, {"range": {"published_at": {"gte": T0.isoformat()}}}]
    assert body["sort"] == [{"published_at": "desc"}, {"id": "asc"}]
    assert body["seq_no_primary_term"] is True and "search_after" not in body
    later = backfill_body(watch, since=None, size=50, search_after=[123, "id"])
    assert later["search_after"] == [123, "id"]
    assert later["query"] == watch_query(watch)


def _fields_read(query: object) -> set[str]:
    """Every document field a query names: clause keys (term, terms, match, ...), the
    ``fields`` of query strings, and nested paths."""
    found: set[str] = set()
    if isinstance(query, list):
        for item in query:
            found |= _fields_read(item)
    elif isinstance(query, dict):
        for key, value in query.items():
            if key in ("term", "terms", "match", "match_phrase", "prefix", "wildcard",
                       "range", "exists") and isinstance(value, dict):
                found |= {str(value.get("field", name)) for name in value
                          if name != "field" or key == "exists"}
            elif key in ("simple_query_string", "query_string", "multi_match"):
                found |= {f.split("^")[0] for f in value.get("fields", [])}
            elif key == "nested":
                found.add(value["path"])
                found |= _fields_read(value["query"])
            else:
                found |= _fields_read(value)
    return found


def _values(document: dict[str, Any], path: str) -> list[Any]:
    """The values at a dotted path, through object arrays (as Elasticsearch flattens them)."""
    values: list[Any] = [document]
    for part in path.split("."):
        values = [v for value in values
                  for v in (value if isinstance(value, list) else [value])]
        values = [value[part] for value in values if isinstance(value, dict) and part in value]
    return values


def test_the_matched_document_keeps_every_field_a_watch_reads_and_nothing_else() -> None:
    article = make_article(content="Full text about the pact.", authors=["A. Writer"])
    document = article_document(article, taxonomy_version="1.3.0", indexed_at=T0)
    matched = matched_document(document)
    watch = Watch(name="w", query="pact", tags=("military-cooperation",),
                  entities=("Japan",))
    read = _fields_read(watch_query(watch))
    assert {"title", "summary", "content", "authors", "tags", "entities",
            "entities.text", "entities.canonical"} <= read
    leaves = {path for path in read if not any(p.startswith(f"{path}.") for p in read)}
    for path in leaves:
        assert _values(document, path), f"the test article has no {path}"
        assert _values(matched, path) == _values(document, path), path
    # What no watch reads is left out: nested tag details, entity offsets and mentions.
    assert {"tag_details", "url", "published_at", "story_id", "entity"}.isdisjoint(matched)
    assert {key for entity in matched["entities"] for key in entity} == {"text", "canonical"}
    assert matched["id"] == document["id"]


@pytest.mark.parametrize("changes", [
    {},
    {"content": "Full text about the pact.", "authors": ["A. Writer", "B. Writer"]},
    {"entities": [], "tags": []},
    {"title": "Ünïcode — “quoted” title", "summary": ""},
])
def test_the_matched_document_built_from_the_article_is_the_full_paths(
    changes: dict[str, object],
) -> None:
    # The ordered stage builds it straight from the article; it must be exactly what the
    # full document trimmed to the fields watches read is (same values, same order).
    article = make_article(**changes)
    full = matched_document(article_document(article, taxonomy_version="1.3.0",
                                             indexed_at=T0))
    direct = matched_article_document(article)
    assert direct == full
    assert list(direct) == list(full)


def test_the_matched_document_refuses_an_id_the_index_refuses() -> None:
    with pytest.raises(DocumentRejectedError):
        matched_article_document(make_article(id="x" * 600))
