"""The ordered stage's alert pieces: an article's detector input, the joint snapshot, and an
alert's document."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow.article import Article, Entity, Tag
from processors.service.alerting import (
    ENTITIES_PER_ARTICLE,
    AlertRaiser,
    alert_input,
    join_state,
    split_state,
)
from processors.store.alert_documents import alert_document, split_key, story_of

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def article(entities: int = 3, dup_of: str | None = None) -> Article:
    return Article(
        id="a1", url="https://x.example/1", canonical_url="https://x.example/1",
        feed_url="https://x.example/feed", source="x.example", title="t", published_at=AT,
        seen_at=AT, dup_of=dup_of, watches=["iran-oil"],
        tags=[Tag(tag="sanctions", score=1, taxonomy_version="v")],
        entities=[Entity(text=f"E{n}", label="GPE", canonical=f"Place {n}", count=n + 1,
                         start=n, end=n + 1) for n in range(entities)])


def test_detector_input_takes_tags_the_most_mentioned_entities_watches_and_dup_of() -> None:
    item = alert_input(article(entities=12, dup_of="a0"))
    assert item.tags == ("sanctions",) and item.dup_of == "a0"
    assert len(item.entities) == ENTITIES_PER_ARTICLE
    assert item.entities[0] == "Place 11"  # most mentioned first
    assert "watch:iran-oil" in item.keys and "sanctions|Place 11" in item.keys


def test_the_joint_snapshot_splits_back_and_reads_a_stories_only_one() -> None:
    raiser = AlertRaiser()
    raiser.observe(article())
    blob = join_state(b'{"stories": 1}', raiser.snapshot())
    stories, alerts = split_state(blob)
    assert stories == b'{"stories": 1}' and alerts == raiser.snapshot()
    assert split_state(b'{"stories": 1}') == (b'{"stories": 1}', None)
    fresh = AlertRaiser()
    assert alerts is not None
    fresh.load(alerts)
    assert fresh.snapshot() == raiser.snapshot()


def test_alert_document_splits_the_key_and_names_the_story() -> None:
    assert split_key("sanctions|Iran") == {"tag": "sanctions", "entity": "Iran", "watch": None}
    assert split_key("watch:iran-oil")["watch"] == "iran-oil"
    assert story_of(["s2", None, "s1", "s2"]) == "s2" and story_of([None]) is None
    record = {"alert_id": "x", "key": "sanctions", "at": "2026-12-03T09:00:00Z",
              "window_start": "2026-12-03T08:00:00Z", "window_min": 60.0, "count": 7,
              "stories": 7, "baseline": 0.5, "ratio": float("inf"), "p": 1e-9,
              "dispersion": 1.0, "sources": 5, "article_ids": ["a", "b"]}
    doc = alert_document(record, source_domains=["a.example"], story_id="s", raised_at=AT)
    assert doc["tag"] == "sanctions" and doc["ratio"] is None and doc["story_id"] == "s"
