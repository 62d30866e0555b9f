from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsflow.article import (
    SCHEMA_VERSION,
    Article,
    Tag,
    article_id,
    decode_article,
    encode_article,
)
from newsflow.errors import PermanentError, SchemaError

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def make_article(**changes: object) -> Article:
    fields: dict[str, object] = {
        "id": article_id("https://example.com/a"),
        "url": "https://example.com/a?utm_source=x",
        "canonical_url": "https://example.com/a",
        "feed_url": "https://example.com/feed.xml",
        "source": "example.com",
        "title": "Title",
        "summary": "Summary.",
        "published_at": NOW,
        "seen_at": NOW,
    }
    fields.update(changes)
    return Article.model_validate(fields)


def test_article_id_is_stable_and_distinguishes_urls() -> None:
    assert article_id("https://example.com/a") == article_id("https://example.com/a")
    assert article_id("https://example.com/a") != article_id("https://example.com/b")
    assert len(article_id("x")) == 32


def test_round_trip_keeps_every_field() -> None:
    article = make_article(
        tags=[Tag(tag="sanctions", score=0.8, taxonomy_version="1.0.0")], authors=["A. B."]
    )
    assert decode_article(encode_article(article)) == article


def test_naive_and_offset_times_become_utc() -> None:
    naive = make_article(published_at=datetime(2026, 1, 1, 10, 0))
    assert naive.published_at.tzinfo == UTC
    plus_two_hours = timezone(timedelta(hours=2))
    plus_two = make_article(published_at=datetime(2026, 1, 1, 12, 0, tzinfo=plus_two_hours))
    assert plus_two.published_at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe garbage", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not an article record"),
        (json.dumps({"id": "x"}).encode(), "not an article record"),
    ],
)
def test_decode_rejects_garbage_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(SchemaError, match=reason):
        decode_article(raw)


def test_decoding_the_message_gives_the_record_decoding_its_json_object_gives() -> None:
    """decode_article parses bytes with pydantic's JSON parser; the record must be the one
    json.loads + model_validate made (naive and offset times, non-ASCII text, nested
    records), and what that parser refuses (a lone surrogate escape) still decodes."""
    entity = {"text": "Kyiv", "label": "GPE", "canonical": "Kyiv", "start": 0, "end": 4,
              "country_code": "UA", "mentions": [{"field": "title", "start": 0, "end": 4}]}
    tag = {"tag": "drone-warfare", "score": 0.91, "taxonomy_version": "1.3.0+model.x",
           "evidence": [{"sentence": "Drones hit Kyiv.", "start": 0, "end": 16,
                         "cues": ["drone"], "score": 0.9}]}
    record = json.loads(encode_article(make_article(title="Kyiv — «drones» über Kyjiw")))
    record.update(published_at="2026-01-01T10:00:00", seen_at="2026-01-01T12:00:00+02:00",
                  entities=[entity], tags=[tag], authors=["Ø. Ås"], watches=["w"])
    surrogate = {**record, "summary": "a\ud800b"}
    for value in (record, surrogate):
        raw = json.dumps(value)
        expected = Article.model_validate(json.loads(raw))
        for message in (raw, raw.encode("utf-8")):
            decoded = decode_article(message)
            assert decoded == expected
            assert decoded.model_fields_set == expected.model_fields_set
            assert decoded.published_at.tzinfo == UTC and decoded.seen_at.tzinfo == UTC
    assert decode_article(json.dumps(surrogate)).summary == "a\ud800b"


def test_unknown_schema_version_is_permanent() -> None:
    record = json.loads(encode_article(make_article()))
    record["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(PermanentError, match="schema_version"):
        decode_article(json.dumps(record).encode())


def test_wrong_types_and_unknown_fields_are_rejected() -> None:
    record = json.loads(encode_article(make_article()))
    with pytest.raises(SchemaError, match="title"):
        decode_article({**record, "title": ["a", "list"]})
    with pytest.raises(SchemaError, match="surprise"):
        decode_article({**record, "surprise": 1})


def test_text_for_analysis_does_not_repeat_a_summary_echoed_as_content() -> None:
    echoed = make_article(summary="Same words.", content="Same words.")
    assert echoed.text_for_analysis() == "Title\n\nSame words."
    full = make_article(summary="Lead.", content="Body.")
    assert full.text_for_analysis() == "Title\n\nLead.\n\nBody."


def test_entity_mentions_round_trip_and_older_records_still_decode() -> None:
    from newsflow.article import Entity, Mention

    entity = Entity(text="Moscow", label="GPE", canonical="Moscow", count=2, start=0, end=6,
                    country_code="RU", mentions=[Mention(field="title", start=0, end=6),
                                                 Mention(field="content", start=40, end=46)])
    assert Entity.model_validate_json(entity.model_dump_json()) == entity
    older = {"text": "Moscow", "label": "GPE", "canonical": "Moscow", "start": 0, "end": 6}
    assert Entity.model_validate(older).mentions == []
