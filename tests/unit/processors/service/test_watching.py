"""The ordered stage's watch step with a fake watch index: the documents it percolates, the
order kept, nothing sent without watches, Elasticsearch waited for, a refusal survived."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from newsflow.article import Article, article_id
from newsflow.errors import NewsflowError, SearchUnavailableError
from processors.service.metrics import ProcessorMetrics
from processors.service.retry import Backoff, Retrier
from processors.service.watching import WatchStep
from processors.store.documents import article_document
from processors.store.watches import matched_document

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def article(n: int, title: str, *, long_id: bool = False, taxonomy: str | None = "t1") -> Article:
    url = f"https://example.com/{n}"
    return Article(id="x" * 600 if long_id else article_id(url), url=url, canonical_url=url,
                   feed_url="https://example.com/feed", source="example.com", title=title,
                   summary="", published_at=T0, seen_at=T0, taxonomy_version=taxonomy,
                   watches=["stale"])


class FakeWatches:
    index = "news-watches"

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = dict(names)  # watch -> word in the title
        self.ready = 0
        self.batches: list[list[Mapping[str, Any]]] = []
        self.failures: list[Exception] = []

    def ensure_ready(self) -> None:
        self.ready += 1

    def has_watches(self) -> bool:
        return bool(self.names)

    def match(self, documents: Sequence[Mapping[str, Any]]) -> list[list[str]]:
        if self.failures:
            raise self.failures.pop(0)
        self.batches.append(list(documents))
        return [sorted(n for n, word in self.names.items() if word in d["title"])
                for d in documents]


async def direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def step(index: FakeWatches, sleeps: list[float]) -> WatchStep:
    async def sleep(s: float) -> None:
        sleeps.append(s)

    metrics = ProcessorMetrics()
    return WatchStep(index=index, run_io=direct,
                     retrier=Retrier(Backoff(first_s=0.1), metrics, sleep),
                     metrics=metrics)


def test_articles_get_their_watches_in_order() -> None:
    index = FakeWatches({"naval": "naval", "drone": "drone"})
    s = step(index, [])
    batch = [article(1, "naval drone"), article(2, "bicycles"),
             article(3, "big naval", long_id=True), article(4, "naval exercise")]
    out = asyncio.run(s.match(batch))
    assert [a.id for a in out] == [a.id for a in batch]
    assert [a.watches for a in out] == [["drone", "naval"], [], [], ["naval"]]
    # one request, the part of each article's stored document that watches read (the
    # too-long id is left out)
    assert len(index.batches) == 1
    sent = index.batches[0]
    assert [d["id"] for d in sent] == [batch[0].id, batch[1].id, batch[3].id]
    assert sent[0] == matched_document(
        article_document(batch[0], taxonomy_version="t1", indexed_at=T0))
    assert "tags" in sent[0] and "entity" not in sent[0] and "tag_details" not in sent[0]
    asyncio.run(s.match(batch))
    assert index.ready == 1  # prepared once


def test_no_watches_no_documents() -> None:
    index = FakeWatches({})
    out = asyncio.run(step(index, []).match([article(1, "naval")]))
    assert out[0].watches == [] and index.batches == []
    assert asyncio.run(step(index, []).match([])) == []


def test_waits_for_elasticsearch_and_survives_a_refusal() -> None:
    index = FakeWatches({"naval": "naval"})
    sleeps: list[float] = []
    s = step(index, sleeps)
    index.failures = [SearchUnavailableError("down"), SearchUnavailableError("down")]
    assert asyncio.run(s.match([article(1, "naval")]))[0].watches == ["naval"]
    assert len(sleeps) == 2
    index.failures = [NewsflowError("400 bad query")]
    assert asyncio.run(s.match([article(1, "naval")]))[0].watches == []
