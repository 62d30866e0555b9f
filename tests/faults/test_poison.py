"""Fault (e): poison records on the articles topic — invalid JSON, bytes that are not UTF-8,
an unknown schema version, wrong types, JSON that is not an object, an empty value, and a
5 MB article — each go to the dead-letter topic with the reason and the original bytes,
while the good articles around them are indexed and streamed as usual."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer

from bench.e2e.wire import make_items
from tests.faults.harness import Pipeline, report, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration]

BATCH = ["--batch-size", "20", "--within", "0.5"]


def _article(run: str, n: int, **changes: object) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    record: dict[str, object] = {
        "schema_version": 1, "id": f"poison-{run}-{n}",
        "url": f"https://poison.example.com/{run}/{n}",
        "canonical_url": f"https://poison.example.com/{run}/{n}",
        "feed_url": "https://poison.example.com/feed.xml", "source": "poison.example.com",
        "title": "Poison record", "summary": "A record written by the fault suite.",
        "published_at": now, "seen_at": now,
    }
    record.update(changes)
    return record


def small_poison(run: str) -> dict[str, bytes | None]:
    return {
        "invalid-json": b'{"id": "half a record", "title": ',
        "not-utf8": b'{"id": "\xff\xfe latin-1 \xe9"}',
        "unknown-schema-version": json.dumps(_article(run, 1, schema_version=99)).encode(),
        "wrong-types": json.dumps(_article(run, 2, title=["not", "a", "string"],
                                           published_at="yesterday")).encode(),
        "not-an-object": b'["an", "array"]',
        "empty-value": None,
    }


def five_megabytes(run: str) -> dict[str, bytes | None]:
    # A schema-valid article whose text is 5.3 MB: too long for the NER model (spaCy's
    # max_length is 1,000,000 characters), so it must become a dead letter.
    big = " ".join(["Ministers met to discuss joint naval exercises."] * 110_000)
    return {"five-megabytes": json.dumps(_article(run, 3, content=big)).encode()}


def produce(pipeline: Pipeline, records: dict[str, bytes | None]) -> None:
    producer = KafkaProducer(bootstrap_servers=pipeline.stack.bootstrap, acks="all",
                             max_request_size=8 * 1024 * 1024)
    try:
        for name, value in records.items():
            producer.send(pipeline.articles_topic, key=f"poison-{name}".encode(), value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def run_poison(pipeline: Pipeline, poison: dict[str, bytes | None], name: str) -> None:
    items = make_items(120, run=pipeline.run)
    pipeline.add(items[:60])
    pipeline.start_poller()
    worker = pipeline.start_worker(*BATCH)
    pipeline.wait_ready(worker)
    pipeline.wait_indexed(20, 120)

    produce(pipeline, poison)  # mid-stream: good articles before and after
    started = time.monotonic()
    pipeline.add(items[60:])

    # A message the producer refuses for its size is retried for ever: fail fast on it.
    pipeline.wait_complete(180, stuck_on=("MessageSizeTooLarge", "RecordTooLarge"))
    wait_for(lambda: len(pipeline.dead_letters()) >= len(poison), 60,
             f"{len(poison)} dead letters")
    letters: dict[str, list[dict[str, object]]] = {}
    for key, letter in pipeline.dead_letters():
        letters.setdefault(key, []).append(letter)
    outcome = pipeline.outcome()
    outcome.seconds = time.monotonic() - started
    outcome.notes.update(poison=len(poison), dead_letters=sum(map(len, letters.values())),
                         reasons={k.removeprefix("poison-"): str(v[0]["reason"])[:80]
                                  for k, v in letters.items()})
    report(name, outcome)

    outcome.assert_exactly_once()
    assert worker.poll() is None, "the worker must survive poison"
    assert set(letters) == {f"poison-{name}" for name in poison}, "only poison is dead-lettered"
    for kind, value in poison.items():
        (letter,) = letters[f"poison-{kind}"]
        assert letter["reason"], f"{kind}: a dead letter needs its reason"
        assert letter["source"]["topic"] == pipeline.articles_topic  # type: ignore[index]
        # Kept once: as text when the bytes are UTF-8, else as base64.
        text, b64 = letter["original"], letter["original_b64"]
        original = (text.encode("utf-8") if isinstance(text, str)
                    else base64.b64decode(b64) if isinstance(b64, str) else None)
        assert original == value, f"{kind}: the original bytes must be kept"
        assert letter["original_truncated"] is False


def test_poison_records_go_to_dead_letters_and_the_stream_goes_on(pipeline: Pipeline) -> None:
    run_poison(pipeline, small_poison(pipeline.run), "poison")


def test_five_megabyte_article_is_dead_lettered_and_the_stream_goes_on(
    pipeline: Pipeline,
) -> None:
    run_poison(pipeline, five_megabytes(pipeline.run), "poison-5mb")
