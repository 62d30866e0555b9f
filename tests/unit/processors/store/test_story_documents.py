"""The stories index's pure part: story documents, the list query, snapshot chunks."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from processors.store import story_documents
from processors.store.search import SearchQuery, build_search
from processors.store.story_documents import (
    build_story_list,
    join_chunks,
    snapshot_chunks,
    story_document,
)

AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_snapshot_chunks_round_trip_and_stay_under_the_chunk_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(story_documents, "SNAPSHOT_CHUNK_BYTES", 1000)
    blob = os.urandom(5500)  # incompressible: six chunks of at most 1000 packed bytes
    chunks = list(snapshot_chunks(blob))
    assert len(chunks) >= 6
    assert join_chunks(chunks) == blob
    assert list(snapshot_chunks(b"")) and join_chunks(list(snapshot_chunks(b""))) == b""


def test_story_document_takes_the_summary_and_leaves_the_title_out() -> None:
    summary = {"story_id": "s1", "first_at": "2026-12-03T10:00:00Z",
               "last_at": "2026-12-03T11:00:00Z", "article_count": 3,
               "independent_sources": 2, "source_domains": ("a.example", "b.example"),
               "tags": ("sanctions",), "top_entities": ("EU",)}
    doc = story_document(summary, AT)
    assert doc["source_domains"] == ["a.example", "b.example"] and "title" not in doc
    assert doc["updated_at"] == AT.isoformat()


def test_story_list_sorts_and_filters() -> None:
    body = build_story_list(sort="biggest", size=5, tags=("sanctions",), active_since=AT,
                            min_sources=3)
    assert body["sort"][0] == {"independent_sources": "desc"}
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"tags": "sanctions"}} in filters
    assert {"range": {"last_at": {"gte": AT.isoformat()}}} in filters
    assert {"range": {"independent_sources": {"gte": 3}}} in filters
    assert build_story_list()["sort"][0] == {"last_at": "desc"}
    with pytest.raises(ValueError, match="sort must be one of"):
        build_story_list(sort="loudest")


def test_collapsed_search_is_one_hit_per_story_and_counts_stories() -> None:
    body = build_search(SearchQuery(text="earthquake", collapse=True))
    assert body["collapse"] == {"field": "story_id"}
    assert body["aggs"]["stories"] == {"cardinality": {"field": "story_id"}}
    assert {"exists": {"field": "story_id"}} in body["query"]["bool"]["filter"]
    assert "collapse" not in build_search(SearchQuery(text="earthquake"))
