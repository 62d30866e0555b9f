"""processors.stories.records: JSON lines onto StoryInputs and assignments back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newsflow.errors import SchemaError
from processors.stories.engine import StoryEngine
from processors.stories.records import cluster_lines, parse_record


def test_parse_record_normalises_time_and_source() -> None:
    item = parse_record({"id": 7, "title": "T", "text": None, "source": " Example.COM ",
                         "published_at": "2025-03-04T10:00:00+02:00", "url": "https://e.com/a"},
                        1)
    assert item.id == "7" and item.text == "" and item.source == "example.com"
    assert item.published_at == datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    assert item.url == "https://e.com/a" and item.guid is None
    naive = parse_record({"id": "a", "title": "T", "published_at": "2025-03-04T10:00:00"}, 1)
    assert naive.published_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("record", "message"),
    [({"id": "a", "title": " ", "published_at": "2025-03-04T10:00:00Z"}, "needs a non-empty"),
     ({"id": True, "title": "x", "published_at": "2025-03-04T10:00:00Z"}, "'id' must"),
     ({"id": "a", "title": "x", "source": 3, "published_at": "2025-03-04T10:00:00Z"},
      "'source' must be a string")],
)
def test_parse_record_errors(record: dict[str, object], message: str) -> None:
    with pytest.raises(SchemaError, match=f"line 4: {message}"):
        parse_record(record, 4)


def test_same_url_is_an_exact_copy() -> None:
    records = [
        {"id": "a", "title": "Council approves budget", "text": "The council voted 7-2.",
         "source": "one.example", "published_at": "2025-03-04T10:00:00Z",
         "url": "https://www.news.example/budget/"},
        {"id": "b", "title": "Budget passes", "text": "Different words entirely here.",
         "source": "two.example", "published_at": "2025-03-04T11:00:00Z",
         "url": "http://news.example/budget"},
    ]
    out = list(cluster_lines([json.dumps(r) for r in records], StoryEngine()))
    assert out[1]["dup_of"] == "a" and out[1]["story_id"] == "a"
    assert out[1]["independent_sources"] == 1
