"""processors.store.retag with a fake tagger, index and producer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from newsflow.article import Article, Entity, Tag, article_id, decode_article
from newsflow.errors import BrokerUnavailableError, SearchUnavailableError
from processors.store.documents import article_document
from processors.store.ports import BulkOutcome, IndexRequest, ItemFailure
from processors.store.retag import retag_article, retag_query, run_retag
from processors.streams.ports import OutMessage, SendOutcome

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 1, tzinfo=UTC)


class WordTagger:
    """Tags 'sanctions' when the word is in the text, 'military-aid' for 'weapons'."""

    version = "2.0"

    def tag(self, text: str, entities: Sequence[Entity] = (), *, title_end: int = 0
            ) -> list[Tag]:
        tags = []
        for word, tag in (("sanction", "sanctions"), ("weapons", "military-aid")):
            if word in text.lower():
                tags.append(Tag(tag=tag, score=1.0, taxonomy_version=self.version))
        return tags


def article(n: int, title: str, tags: Sequence[str] = (), version: str = "1.0",
            score: float = 0.5) -> Article:
    url = f"https://e.com/{n}"
    return Article(id=article_id(url), url=url, canonical_url=url, feed_url="https://e.com/f",
                   source="e.com", title=title, published_at=EARLIER, seen_at=EARLIER,
                   indexed_at=EARLIER,
                   tags=[Tag(tag=t, score=score, taxonomy_version=version) for t in tags])


class FakeIndex:
    def __init__(self, docs: list[tuple[Article, str]], *, unavailable: int = 0,
                 reject: set[str] | None = None) -> None:
        self.docs = {a.id: ("idx-" + a.id[:4], article_document(
            a, taxonomy_version=version, indexed_at=EARLIER)) for a, version in docs}
        self.unavailable = unavailable
        self.reject = reject or set()
        self.queries: list[Mapping[str, Any]] = []
        self.written: list[IndexRequest] = []

    def scan(self, query: Mapping[str, Any], *, batch_size: int = 500
             ) -> Iterator[tuple[str, dict[str, Any]]]:
        self.queries.append(query)
        yield from list(self.docs.values())

    def bulk_index(self, requests: Sequence[IndexRequest]) -> BulkOutcome:
        if self.unavailable:
            self.unavailable -= 1
            raise SearchUnavailableError("down")
        outcome = BulkOutcome()
        for r in requests:
            if r.doc_id in self.reject:
                outcome.rejected.append(ItemFailure(r.doc_id, 400, "x", "bad"))
            else:
                self.written.append(r)
                outcome.indexed.append(r.doc_id)
        return outcome


class FakeProducer:
    """The tag streams' one producer interface; acknowledges everything."""

    def __init__(self) -> None:
        self.sent: list[OutMessage] = []

    async def send_all(self, messages: Sequence[OutMessage]) -> SendOutcome:
        self.sent.extend(messages)
        return SendOutcome()


class NoDelay:
    def __init__(self) -> None:
        self.attempts: list[int] = []

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        self.attempts.append(attempt)
        return 0.0


async def no_sleep(seconds: float) -> None:
    pass


def run(index: FakeIndex, producer: FakeProducer, **kwargs: Any) -> Any:
    return asyncio.run(run_retag(index=index, producer=producer, tagger=WordTagger(),
                                 tag_prefix="news.tag.", now=NOW, backoff=NoDelay(),
                                 sleep=no_sleep, **kwargs))


def test_retag_article_reports_gained_and_lost() -> None:
    old = article(1, "EU adds sanctions on weapons makers", tags=["military-aid", "taiwan"])
    new, gained, lost = retag_article(old, WordTagger())
    assert new.tag_names == ["sanctions", "military-aid"]
    assert gained == ["sanctions"] and lost == ["taiwan"]


def test_changed_documents_are_reindexed_in_place_and_gained_tags_published() -> None:
    gains = article(1, "New sanctions announced")
    same = article(2, "Shipment of weapons", tags=["military-aid"], version="2.0", score=1.0)
    stale = article(3, "Shipment of weapons", tags=["military-aid"])  # same tags, old version
    loses = article(4, "Bakery opens", tags=["sanctions"])
    index = FakeIndex([(gains, "1.0"), (same, "2.0"), (stale, "1.0"), (loses, "1.0")])
    producer = FakeProducer()

    report = run(index, producer)

    assert report.scanned == 4 and report.changed == 2
    assert {r.doc_id for r in index.written} == {gains.id, stale.id, loses.id}
    written = {r.doc_id: r for r in index.written}
    assert written[gains.id].index == index.docs[gains.id][0]  # same backing index
    assert written[gains.id].document["tags"] == ["sanctions"]
    assert written[gains.id].document["taxonomy_version"] == "2.0"
    assert written[gains.id].document["indexed_at"] == "2026-11-01T00:00:00Z"
    assert written[loses.id].document["tags"] == []
    assert [(m.tag, decode_article(m.value).id) for m in producer.sent] == \
        [("sanctions", gains.id)]
    assert report.gained == {"sanctions": 1} and report.lost == {"sanctions": 1}
    assert report.published == 1 and report.reindexed == 3


def test_dry_run_writes_and_publishes_nothing() -> None:
    index = FakeIndex([(article(1, "sanctions"), "1.0")])
    producer = FakeProducer()
    report = run(index, producer, dry_run=True)
    assert report.changed == 1 and index.written == [] and producer.sent == []


def test_es_outages_are_retried_and_rejections_reported() -> None:
    bad, good = article(1, "sanctions one"), article(2, "sanctions two")
    index = FakeIndex([(bad, "1.0"), (good, "1.0")], unavailable=2, reject={bad.id})
    producer = FakeProducer()
    report = run(index, producer)
    assert report.rejected == [bad.id]
    assert report.reindexed == 1
    # Announced before indexing (see the next test), so the rejected one was announced too.
    assert sorted(decode_article(m.value).id for m in producer.sent) == sorted([bad.id, good.id])


class FailingProducer(FakeProducer):
    """Kafka acknowledged nothing."""

    async def send_all(self, messages: Sequence[OutMessage]) -> SendOutcome:
        return SendOutcome(tuple(messages), BrokerUnavailableError("kafka down"))


def test_a_kafka_failure_leaves_the_index_untouched_so_a_rerun_announces_again() -> None:
    gained = article(1, "sanctions one")
    index = FakeIndex([(gained, "1.0")])
    with pytest.raises(BrokerUnavailableError):
        run(index, FailingProducer())
    assert index.docs[gained.id][1]["taxonomy_version"] == "1.0"
    producer = FakeProducer()
    report = run(index, producer)
    assert [decode_article(m.value).id for m in producer.sent] == [gained.id]
    assert report.published == 1


def test_query_skips_current_version_unless_everything() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    q = retag_query(version="2.0", since=since, everything=False)
    assert q["bool"]["must_not"] == [{"term": {"taxonomy_version": "2.0"}}]
    assert q["bool"]["filter"] == [{"range": {"published_at": {"gte": since.isoformat()}}}]
    assert retag_query(version="2.0", since=None, everything=True) == \
        {"bool": {"filter": [], "must_not": []}}
