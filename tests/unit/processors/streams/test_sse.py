"""processors.streams.sse: SSE positions and framing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from newsflow.article import Article, article_id, encode_article
from processors.streams.sse import decode_position, encode_position, sse_comment, sse_event
from processors.streams.subscribe import decode_record


@pytest.mark.parametrize("positions", [{0: 0}, {0: 42}, {0: 42, 1: 17, 10: 3}])
def test_positions_round_trip(positions: dict[int, int]) -> None:
    assert decode_position(encode_position(positions)) == positions


def test_position_is_sorted_by_partition() -> None:
    assert encode_position({2: 5, 0: 1}) == "0:1,2:5"


@pytest.mark.parametrize("text", ["", "garbage", "0:", ":5", "0:-1", "a:1", "0:1,x"])
def test_bad_positions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a stream position"):
        decode_position(text)


def test_sse_event_is_one_data_line_and_ends_with_a_blank_line() -> None:
    frame = sse_event("0:3", {"title": "two\nlines"})
    lines = frame.split("\n")
    assert lines[:3] == ["id: 0:3", "event: article", 'data: {"title": "two\\nlines"}']
    assert frame.endswith("\n\n")
    assert json.loads(lines[2][6:]) == {"title": "two\nlines"}
    assert sse_comment("keep-alive") == ": keep-alive\n\n"


def test_a_record_decodes_to_its_article_or_to_why_not() -> None:
    url = "https://e.com/1"
    article = Article(id=article_id(url), url=url, canonical_url=url, feed_url=url,
                      source="e.com", title="t", published_at=datetime(2026, 1, 1, tzinfo=UTC),
                      seen_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert decode_record(SimpleNamespace(value=encode_article(article))) == (article, None)
    for poison in (b"not json", None):
        decoded, reason = decode_record(SimpleNamespace(value=poison))
        assert decoded is None and reason
