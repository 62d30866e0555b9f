"""The ordered stage's story step with the real story engine and an in-memory store: story
fields on each article, a repeat answered as the first time, a gap read from the topic, a
start from the snapshot, and the result the same as one uninterrupted run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from newsflow.article import Article, Tag, article_id, encode_article
from processors.service.decoding import expand_envelopes
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport, Received
from processors.service.retry import Backoff, Retrier
from processors.service.storying import StoryStep
from processors.stories.engine import StoryEngine
from processors.streams.envelope import pack

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
TEXTS = [
    ("Strong earthquake shakes northern Chile near Antofagasta",
     "A magnitude 6.8 earthquake struck near Antofagasta in northern Chile, cutting power in "
     "Antofagasta and Calama, the US Geological Survey and Senapred said."),
    ("City council passes budget with new bicycle lanes in Springfield",
     "The Springfield city council voted 7-2 for a budget that funds protected bicycle lanes "
     "on three downtown streets."),
    ("Chile quake: Senapred inspects Calama mines after magnitude 6.8 tremor",
     "Chilean authorities inspected mines and roads around Calama and Antofagasta after the "
     "magnitude 6.8 earthquake in northern Chile; no deaths were reported, Senapred said."),
]


def article(n: int, text: int, *, source: str | None = None, minutes: int = 0,
            title_prefix: str = "", tags: Sequence[str] = ()) -> Article:
    url = f"https://outlet{n}.example/{n}"
    title, summary = TEXTS[text]
    return Article(
        id=article_id(url), url=url, canonical_url=url, feed_url="https://x.example/feed",
        source=source or f"outlet{n}.example", title=title_prefix + title, summary=summary,
        published_at=T0 + timedelta(minutes=minutes), seen_at=T0 + timedelta(minutes=minutes),
        tags=[Tag(tag=t, score=0.9, taxonomy_version="t") for t in tags])


class MemoryStore:
    index = "stories"

    def __init__(self) -> None:
        self.stories: dict[str, Mapping[str, Any]] = {}
        self.snapshot: tuple[int, bytes] | None = None

    def ensure_ready(self) -> None:
        pass

    def put_stories(self, updates: Iterable[tuple[Mapping[str, Any], str, str]]) -> int:
        for summary, _title, _first in updates:
            self.stories[summary["story_id"]] = summary
        return 0

    def save_snapshot(self, key: str, offset: int, blob: bytes) -> bool:
        self.snapshot = (offset, blob)
        return True

    def load_snapshot(self, key: str) -> tuple[int, bytes] | None:
        return self.snapshot


async def direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def no_sleep(_: float) -> None:
    pass


def step(store: MemoryStore, topic: list[bytes], *, snapshot_every_s: float = 1e9) -> StoryStep:
    metrics = ProcessorMetrics()
    return StoryStep(
        store=store,  # type: ignore[arg-type]
        read_range=lambda start, end: [(o, topic[o]) for o in range(start, min(end, len(topic)))],
        engine_factory=StoryEngine, restore=StoryEngine.restore, state_key="k",
        run_cpu=direct, run_io=direct, retrier=Retrier(Backoff(), metrics, no_sleep),
        metrics=metrics, clock=lambda: T0, snapshot_every_s=snapshot_every_s,
        monotonic=lambda: 1e6)


def records(articles: list[Article], first_offset: int = 0) -> list[tuple[Received, Article]]:
    return [(Received("news.enriched", 0, first_offset + n, a.id.encode(), encode_article(a)), a)
            for n, a in enumerate(articles)]


def run(s: StoryStep, batch: list[tuple[Received, Article]]) -> list[Article]:
    async def go() -> list[Article]:
        out = await s.assign(batch)
        await s.commit(BatchReport())
        return [a for _, a in out]
    return asyncio.run(go())


STREAM = [
    article(0, 0, tags=["natural-disaster"]),
    article(1, 1, minutes=5),
    article(2, 2, minutes=10, tags=["natural-disaster", "energy"]),
    article(3, 0, source="copier.example", minutes=20, title_prefix="BREAKING: "),
    article(4, 1, minutes=30),
]
TOPIC = [encode_article(a) for a in STREAM]


def assigned(articles: Iterable[Article]) -> dict[str, tuple[str | None, str | None]]:
    return {a.id: (a.story_id, a.dup_of) for a in articles}


def test_every_article_gets_its_story_and_a_copy_its_original() -> None:
    store = MemoryStore()
    out = run(step(store, TOPIC), records(STREAM))
    chile, budget, chile2, copy, budget2 = out
    assert chile.story_id == chile2.story_id == copy.story_id == chile.id
    assert budget.story_id == budget2.story_id == budget.id != chile.story_id
    assert copy.dup_of == chile.id and chile.dup_of is None
    # The copy adds no independent source; the story's first article opens its tags.
    assert copy.story_sources == 2
    assert chile.story_new_tags == ["natural-disaster"]
    assert chile2.story_new_tags == ["energy"] and copy.story_new_tags == []
    assert store.stories[chile.id]["article_count"] == 3


def test_a_batch_delivered_again_gets_the_same_answers() -> None:
    s = step(MemoryStore(), TOPIC)
    first = run(s, records(STREAM[:3]))
    again = run(s, records(STREAM[:3]))
    assert assigned(again) == assigned(first)


def test_a_gap_is_read_from_the_topic_and_a_start_uses_the_snapshot() -> None:
    whole = assigned(run(step(MemoryStore(), TOPIC), records(STREAM)))

    # This worker saw 0..1; another one went on with 2..3; it gets the partition back at 4.
    s = step(MemoryStore(), TOPIC)
    run(s, records(STREAM[:2]))
    gap = assigned(run(s, records(STREAM[4:], first_offset=4)))
    assert gap == {STREAM[4].id: whole[STREAM[4].id]}

    # A new worker: the snapshot covers 0..1 (saved every batch), the rest comes from the
    # topic before its first batch at offset 3.
    store = MemoryStore()
    run(step(store, TOPIC, snapshot_every_s=0), records(STREAM[:2]))
    assert store.snapshot is not None and store.snapshot[0] == 1
    fresh = step(store, TOPIC)
    later = assigned(run(fresh, records(STREAM[3:], first_offset=3)))
    assert later == {a.id: whole[a.id] for a in STREAM[3:]}


def test_a_snapshot_it_cannot_read_is_rebuilt_from_the_topic() -> None:
    whole = assigned(run(step(MemoryStore(), TOPIC), records(STREAM)))
    store = MemoryStore()
    store.snapshot = (1, b'{"format": "from another build"}')
    fresh = step(store, TOPIC)
    later = assigned(run(fresh, records(STREAM[3:], first_offset=3)))
    assert later == {a.id: whole[a.id] for a in STREAM[3:]}


def enveloped(
    groups: list[list[Article]],
) -> tuple[list[bytes], list[list[tuple[Received, Article]]]]:
    """The topic as hand-over envelopes (one message per group) and each message's records
    as the ordered stage sees them once opened."""
    topic = [pack([encode_article(a) for a in group])[0].value for group in groups]
    batches = [
        [(r, a) for r, a in zip(
            expand_envelopes([Received("news.enriched", 0, offset, None, topic[offset])]),
            group, strict=True)]
        for offset, group in enumerate(groups)
    ]
    return topic, batches


def test_records_of_one_envelope_are_new_and_a_gap_of_envelopes_is_read_in_full() -> None:
    whole = assigned(run(step(MemoryStore(), TOPIC), records(STREAM)))
    topic, batches = enveloped([STREAM[:2], STREAM[2:4], STREAM[4:]])
    assert [r.index for r, _ in batches[1]] == [0, 1]
    assert {r.offset for r, _ in batches[1]} == {1}

    # All records of one message share its offset: the second is not taken for a repeat.
    s = step(MemoryStore(), topic)
    first = run(s, batches[0])
    assert assigned(first) == {a.id: whole[a.id] for a in STREAM[:2]}
    # The message at offset 1 went to another worker: read it back whole from the topic.
    assert assigned(run(s, batches[2])) == {STREAM[4].id: whole[STREAM[4].id]}
    # Delivered again: the same answers.
    assert assigned(run(s, batches[0])) == assigned(first)

    # A start from a snapshot at offset 0, then the envelope at 1 from the topic.
    store = MemoryStore()
    run(step(store, topic, snapshot_every_s=0), batches[0])
    assert store.snapshot is not None and store.snapshot[0] == 0
    later = assigned(run(step(store, topic), batches[2]))
    assert later == {STREAM[4].id: whole[STREAM[4].id]}
