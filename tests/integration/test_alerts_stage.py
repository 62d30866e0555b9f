"""Spike alerts in the worker's ordered stage, on the real Kafka and Elasticsearch: two days
of quiet background on a key, then a burst reported independently by six outlets raises one
alert, stored in the alerts index and sent to the alerts topic, with its evidence; a burst of
copies of one article raises none.

Enriched articles (tags and entities already set) are produced straight to the enriched
topic: this is the ordered stage's test; the enrich stage has its own.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from newsflow.article import Article, Entity, Tag, encode_article
from tests.integration.processors_support import (
    ES_URL,
    NEWSFLOW,
    Names,
    Worker,
    make_article,
    produce,
    read_topic,
    search_alias,
    wait_for,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
WORDS = [
    "ministers", "officials", "exports", "oil", "banks", "shipping", "assets", "freeze",
    "measures", "package", "envoy", "talks", "tanker", "insurance", "traders", "brokers",
    "ports", "refinery", "budget", "currency", "parliament", "court", "vote", "treaty",
    "summit", "council", "regulators", "lenders", "airline", "metals", "grain", "fertiliser",
    "cargo", "customs", "registry", "auditors", "bonds",
]


def enriched(n: int, at: datetime, source: str, rng: random.Random, tag: str,
             entity: str) -> Article:
    """An article as the enrich stage hands it over; its text is its own (no copy)."""
    words = rng.sample(WORDS, 18)
    article = make_article(n, f"{entity} {tag} update {n}: {' '.join(words[:6])}",
                           summary=" ".join(words) + f" ({n})", source=source,
                           published_at=at)
    return article.model_copy(update={
        "tags": [Tag(tag=tag, score=0.9, taxonomy_version="test")],
        "entities": [Entity(text=entity, label="GPE", canonical=entity, start=0,
                            end=len(entity))],
        "taxonomy_version": "test", "enriched_at": at,
    })


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    yield n
    n.cleanup()


def test_an_independent_burst_raises_one_alert_and_copies_raise_none(
    names: Names, tmp_path: Path,
) -> None:
    rng = random.Random(7)
    background = [enriched(n, T0 + timedelta(hours=2 * n), f"bg{n % 9}.example", rng,
                           "sanctions", "Iran") for n in range(24)]
    burst_at = T0 + timedelta(hours=48, minutes=5)
    burst = [enriched(100 + n, burst_at + timedelta(minutes=3 * n), f"outlet{n % 6}.example",
                      rng, "sanctions", "Iran") for n in range(9)]
    # On a quiet key of its own: one article and eight syndicated copies of it.
    original = enriched(200, burst_at, "wire.example", rng, "cyber-attack", "Estonia")
    copies = [original.model_copy(update={
        "id": f"copy{n:028d}", "url": f"https://copy{n}.example/x",
        "canonical_url": f"https://copy{n}.example/x", "source": f"copy{n}.example",
        "published_at": burst_at + timedelta(minutes=2 + n)}) for n in range(8)]
    quiet = [enriched(300 + n, T0 + timedelta(hours=5 * n), f"bg{n}.example", rng,
                      "cyber-attack", "Estonia") for n in range(9)]
    stream = sorted(background + quiet + [original, *copies] + burst,
                    key=lambda a: a.published_at)

    worker = Worker(names.env(tmp_path), tmp_path / "worker.log")
    try:
        worker.wait_ready()
        produce(f"it-{names.run}.enriched", [(a.id.encode(), encode_article(a))
                                             for a in stream])
        wait_for(lambda: len(search_alias(names.alias, size=500)) == len(stream), 90,
                 "every article indexed")
        wait_for(lambda: worker.handled("index", "alerts") >= 1, 30, "an alert raised")
        messages = [json.loads(v) for v in read_topic(f"it-{names.run}.alerts", expect=1)]
    finally:
        assert worker.stop() == 0, worker.output()[-3000:]

    keys = {m["key"] for m in messages}
    assert keys <= {"sanctions", "sanctions|Iran"} and keys, messages
    assert not any(k.startswith("cyber-attack") for k in keys), "copies counted"
    alert = next(m for m in messages if m["key"] == "sanctions|Iran") \
        if "sanctions|Iran" in keys else messages[0]
    burst_ids = {a.id for a in burst}
    assert alert["sources"] >= 3 and alert["count"] >= 5
    assert alert["count"] > 3 * alert["baseline"]
    assert set(alert["article_ids"]) & burst_ids
    assert len(alert["source_domains"]) >= 3
    # Evidence only from records published up to the moment it fired.
    fired = datetime.fromisoformat(alert["at"].replace("Z", "+00:00"))
    published = {a.id: a.published_at for a in stream}
    assert all(published[i] <= fired for i in alert["article_ids"])
    assert alert["story_id"] is not None

    es = Elasticsearch(ES_URL)
    try:
        es.indices.refresh(index=f"{names.alias}-alerts")
        stored = es.search(index=f"{names.alias}-alerts", size=20)["hits"]["hits"]
    finally:
        es.close()
    assert sorted(h["_id"] for h in stored) == sorted(m["alert_id"] for m in messages)
    # `newsflow alerts recent --json` reads the same alerts back, newest first.
    done = subprocess.run([*NEWSFLOW, "alerts", "recent", "--json"], env=names.env(tmp_path),
                          text=True, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    recent = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(a["alert_id"] for a in recent) == sorted(m["alert_id"] for m in messages)
    assert [a["at"] for a in recent] == sorted((a["at"] for a in recent), reverse=True)
    # `newsflow alerts tail --from-beginning` follows the alerts topic: the same alerts, in
    # the order raised, then stops after 3 quiet seconds.
    done = subprocess.run([*NEWSFLOW, "alerts", "tail", "--from-beginning", "--timeout", "3",
                           "--json"], env=names.env(tmp_path), text=True,
                          capture_output=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    tailed = [json.loads(line)["alert_id"] for line in done.stdout.splitlines()]
    assert tailed == [m["alert_id"] for m in messages]
    # One message per alert, none raised twice.
    assert len(messages) == len({m["alert_id"] for m in messages})
