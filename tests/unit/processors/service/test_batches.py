"""The two stages of a batch with fakes for the enricher, the index and the producers: the
enrich stage (processors.service.enrich_batches) hands each article over on the enriched
topic, the ordered stage (processors.service.batches) indexes and forwards it; the agent's
hold."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from newsflow.article import Article, Entity, Tag, article_id, decode_article, encode_article
from newsflow.errors import BrokerUnavailableError, SearchUnavailableError
from processors.service.agents import hold, release
from processors.service.batches import BatchHandler
from processors.service.enrich_batches import EnrichBatchHandler
from processors.service.metrics import ProcessorMetrics
from processors.service.ports import BatchReport, Received
from processors.service.retry import Backoff
from processors.store.deadletter import decode_dead_letter
from processors.store.ports import BulkOutcome, IndexRequest, ItemFailure
from processors.streams.envelope import unpack
from processors.streams.ports import OutMessage, SendOutcome

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def make_article(n: int, title: str) -> Article:
    url = f"https://example.com/{n}"
    return Article(id=article_id(url), url=url, canonical_url=url,
                   feed_url="https://example.com/feed", source="example.com", title=title,
                   published_at=datetime(2026, 10, 5, tzinfo=UTC), seen_at=NOW)


def received(offset: int, value: bytes | None, key: bytes | None = None) -> Received:
    return Received("news.articles", 0, offset, key, value)


def rec(offset: int, article: Article) -> Received:
    return received(offset, encode_article(article), article.id.encode())


class FakeEnricher:
    taxonomy_version = "test-1"

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.reloads = 0

    def enrich(self, articles: Sequence[Article], now: datetime) -> list[Article]:
        self.calls.append(len(articles))
        out = []
        for a in articles:
            if "BOOM" in a.title:
                raise RuntimeError("model exploded")
            tags = [Tag(tag="military-cooperation", score=0.9, taxonomy_version="test-1")] \
                if "joint" in a.title else []
            out.append(a.model_copy(update={
                "tags": tags, "enriched_at": now,
                "entities": [Entity(text="NATO", label="ORG", canonical="NATO", start=0,
                                    end=4)]}))
        return out

    def reload_taxonomy_if_changed(self) -> bool:
        self.reloads += 1
        return False


class FakeIndex:
    """Scripted: ``unavailable`` whole-request failures first, then per-id outcomes."""

    def __init__(self, *, unavailable: int = 0, reject: set[str] | None = None,
                 retry_once: set[str] | None = None, ready_failures: int = 0) -> None:
        self.unavailable = unavailable
        self.reject = reject or set()
        self.retry_once = set(retry_once or ())
        self.ready_failures = ready_failures
        self.ready_calls = 0
        self.calls: list[list[str]] = []
        self.stored: dict[str, tuple[str, dict[str, Any]]] = {}

    def ensure_ready(self, now: datetime) -> str:
        self.ready_calls += 1
        if self.ready_failures:
            self.ready_failures -= 1
            raise SearchUnavailableError("connection refused")
        return "idx"

    def bulk_index(self, requests: Sequence[IndexRequest]) -> BulkOutcome:
        self.calls.append([r.doc_id for r in requests])
        if self.unavailable:
            self.unavailable -= 1
            raise SearchUnavailableError("bulk request: ConnectionError", retry_after=None)
        outcome = BulkOutcome()
        for r in requests:
            if r.doc_id in self.reject:
                outcome.rejected.append(ItemFailure(r.doc_id, 400, "document_parsing_exception",
                                                    "failed to parse field [url]"))
            elif r.doc_id in self.retry_once:
                self.retry_once.discard(r.doc_id)
                outcome.retryable.append(ItemFailure(r.doc_id, 429, "es_rejected_execution",
                                                     "queue full"))
            else:
                self.stored[r.doc_id] = (r.index, dict(r.document))
                outcome.indexed.append(r.doc_id)
        return outcome


class FakeProducer:
    """Acknowledges what it is sent, after a script of bad attempts: "raise" raises
    BrokerUnavailableError, "half" acknowledges only every second message (the others come
    back unacknowledged). ``failures=n`` is a script of n "raise"."""

    def __init__(self, failures: int = 0, script: Sequence[str] = ()) -> None:
        self.script = list(script) or ["raise"] * failures
        self.sent: list[OutMessage] = []
        self.attempts: list[list[OutMessage]] = []

    async def send_all(self, messages: Sequence[OutMessage]) -> SendOutcome:
        self.attempts.append(list(messages))
        step = self.script.pop(0) if self.script else "ack"
        if step == "raise":
            raise BrokerUnavailableError("not enough replicas")
        if step == "half":
            self.sent.extend(messages[::2])
            return SendOutcome(tuple(messages[1::2]),
                               BrokerUnavailableError("NotEnoughReplicasError"))
        self.sent.extend(messages)
        return SendOutcome()

    def tag_messages(self) -> list[tuple[str, Article]]:
        return [(m.tag, decode_article(m.value)) for m in self.sent if m.tag is not None]

    def dead_letters(self) -> list[dict[str, Any]]:
        return [decode_dead_letter(m.value) for m in self.sent
                if m.tag is None and not m.enriched]


async def direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


class Handler:
    """Both stages, as the worker chains them: the enrich stage's hand-over messages become
    the ordered stage's records. ``producer`` is the ordered stage's (tag streams);
    ``handover`` the enrich stage's."""

    def __init__(self, index: FakeIndex | None = None,
                 producer: FakeProducer | None = None,
                 max_message_bytes: int | None = None,
                 handover_limit: int | None = None) -> None:
        self.enricher = FakeEnricher()
        self.index = index or FakeIndex()
        self.producer = producer or FakeProducer()
        self.handover = FakeProducer()
        self.sleeps: list[float] = []
        self.metrics = ProcessorMetrics()
        self.offset = 0

        async def get_enricher() -> FakeEnricher:
            return self.enricher

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        self.enrich_stage = EnrichBatchHandler(
            enricher=get_enricher, producer=self.handover, tag_prefix="news.tag.",
            run_cpu=direct, clock=lambda: NOW, sleep=sleep,
            backoff=Backoff(first_s=0.5, max_s=4), metrics=self.metrics,
            taxonomy_check_interval_s=0,
            max_message_bytes=max_message_bytes if handover_limit is None else handover_limit,
        )
        self.handler = BatchHandler(
            index=self.index, producer=self.producer,
            alias="news-articles", tag_prefix="news.tag.", run_io=direct,
            clock=lambda: NOW, sleep=sleep, backoff=Backoff(first_s=0.5, max_s=4),
            metrics=self.metrics, max_message_bytes=max_message_bytes,
        )

    def run(self, batch: list[Received]) -> BatchReport:
        async def both() -> BatchReport:
            sent_before = len(self.handover.sent)
            first = await self.enrich_stage.handle(batch)
            handed = [m for m in self.handover.sent[sent_before:] if m.enriched]
            records = [Received("news.enriched", 0, self.offset + n, m.key, m.value)
                       for n, m in enumerate(handed)]
            self.offset += len(records)
            second = await self.handler.handle(records)
            second.dead_letters += first.dead_letters
            second.duplicates += first.duplicates
            second.retries += first.retries
            second.received = first.received
            return second

        return asyncio.run(both())

    def dead_letters(self) -> list[dict[str, Any]]:
        """Of both stages, the enrich stage's first."""
        return self.handover.dead_letters() + self.producer.dead_letters()

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


def test_happy_batch_is_indexed_in_monthly_index_and_tagged_articles_forwarded() -> None:
    a, b = make_article(1, "US and Japan hold joint drills"), make_article(2, "Bakery")
    h = Handler()
    report = h.run([rec(0, a), rec(1, b)])
    assert (report.received, report.indexed, report.dead_letters, report.tag_messages) == \
        (2, 2, 0, 1)
    assert h.index.stored[a.id][0] == "news-articles-v1-2026.10"
    assert h.index.stored[a.id][1]["tags"] == ["military-cooperation"]
    assert h.index.stored[b.id][1]["entity"]["organizations"] == ["NATO"]
    [(tag, forwarded)] = h.producer.tag_messages()
    assert tag == "military-cooperation"
    assert forwarded.id == a.id and forwarded.indexed_at == NOW and forwarded.tag_names == [tag]
    assert h.enricher.calls == [2]  # one call for the whole batch
    # One hand-over message for the batch (an envelope), keyed by its first article.
    [handed] = [m for m in h.handover.sent if m.enriched]
    assert handed.key == a.id.encode() and len(unpack(handed.value)) == 2
    assert h.metric("newsflow_processors_articles_total", status="indexed") == 2
    assert h.metric("newsflow_processors_tag_messages_total", tag=tag) == 1


def test_poison_records_are_dead_lettered_with_reason_and_bytes_and_the_batch_goes_on() -> None:
    good = make_article(1, "joint patrol")
    h = Handler()
    report = h.run([received(0, b"{oops", b"k0"), rec(1, good), received(2, None),
                    received(3, b'{"schema_version": 1}')])
    assert report.indexed == 1 and report.dead_letters == 3
    letters = h.dead_letters()
    assert [(d["stage"], d["source"]["offset"]) for d in letters] == \
        [("decode", 0), ("decode", 2), ("decode", 3)]
    assert letters[0]["original_bytes"] == b"{oops"
    assert "not JSON" in letters[0]["reason"]
    assert "empty message" in letters[1]["reason"]
    assert "not an article record" in letters[2]["reason"]
    assert h.metric("newsflow_processors_dead_letters_total", stage="decode") == 3


def test_es_unavailable_is_retried_with_backoff_until_acknowledged() -> None:
    a = make_article(1, "joint drills")
    h = Handler(index=FakeIndex(unavailable=3))
    report = h.run([rec(0, a)])
    assert report.indexed == 1 and report.retries == 3
    assert len(h.index.calls) == 4
    assert len(h.sleeps) == 3 and all(0 < s <= 4 for s in h.sleeps)
    # forwarded once, only after Elasticsearch acknowledged
    assert len(h.producer.tag_messages()) == 1
    assert h.metric("newsflow_processors_retries_total", target="elasticsearch") == 3
    assert h.metric("newsflow_processors_waiting", target="elasticsearch") == 0


def test_template_is_put_before_the_first_bulk_and_retried_when_es_is_down() -> None:
    h = Handler(index=FakeIndex(ready_failures=2))
    h.run([rec(0, make_article(1, "x"))])
    h.run([rec(1, make_article(2, "y"))])
    assert h.index.ready_calls == 3  # two failures, one success, then never again
    assert len(h.index.calls) == 2


def test_rejected_document_goes_to_dead_letter_and_is_not_forwarded() -> None:
    bad, good = make_article(1, "joint bad"), make_article(2, "joint good")
    h = Handler(index=FakeIndex(reject={bad.id}))
    report = h.run([rec(5, bad), rec(6, good)])
    assert report.indexed == 1 and report.dead_letters == 1
    [letter] = h.dead_letters()
    assert letter["stage"] == "index"
    assert "400 document_parsing_exception" in letter["reason"]
    assert letter["article_id"] == bad.id
    # What failed is the enriched record, at its place on the enriched topic.
    original = decode_article(letter["original_bytes"])
    assert original.id == bad.id and original.tag_names == ["military-cooperation"]
    assert letter["source"]["topic"] == "news.enriched"
    assert [a.id for _, a in h.producer.tag_messages()] == [good.id]


def test_items_es_asks_to_retry_are_resent_alone() -> None:
    a, b = make_article(1, "a"), make_article(2, "b")
    h = Handler(index=FakeIndex(retry_once={b.id}))
    report = h.run([rec(0, a), rec(1, b)])
    assert h.index.calls == [[a.id, b.id], [b.id]]
    assert report.indexed == 2 and report.retries == 1


def test_an_article_that_breaks_the_enricher_is_isolated() -> None:
    ok, boom = make_article(1, "joint ok"), make_article(2, "BOOM")
    h = Handler()
    report = h.run([rec(0, ok), rec(1, boom)])
    assert report.indexed == 1
    [letter] = h.dead_letters()
    assert letter["stage"] == "enrich" and "model exploded" in letter["reason"]
    assert list(h.index.stored) == [ok.id]


def test_same_article_twice_in_a_batch_is_indexed_and_forwarded_once() -> None:
    a = make_article(1, "joint drills")
    h = Handler()
    report = h.run([rec(0, a), rec(1, a)])
    assert report.indexed == 1 and report.duplicates == 1
    assert len(h.producer.tag_messages()) == 1


def test_kafka_unavailable_for_forwarding_is_retried() -> None:
    h = Handler(producer=FakeProducer(failures=2))
    h.run([rec(0, make_article(1, "joint"))])
    assert len(h.producer.attempts) == 3
    assert len(h.producer.tag_messages()) == 1
    assert h.metric("newsflow_processors_retries_total", target="kafka") == 2


def test_a_forwarding_retry_resends_only_what_kafka_did_not_acknowledge() -> None:
    articles = [make_article(n, f"joint drills {n}") for n in range(5)]
    h = Handler(producer=FakeProducer(script=["half", "half"]))
    report = h.run([rec(n, a) for n, a in enumerate(articles)])
    assert [len(attempt) for attempt in h.producer.attempts] == [5, 2, 1]
    # Each attempt holds exactly what the one before left unacknowledged.
    first, second, third = h.producer.attempts
    assert second == first[1::2] and third == second[1::2]
    forwarded = [a.id for _tag, a in h.producer.tag_messages()]
    assert sorted(forwarded) == sorted(a.id for a in articles), "each once, none lost"
    assert report.tag_messages == 5 and report.retries == 2
    assert h.metric("newsflow_processors_retries_total", target="kafka") == 2
    assert h.metric("newsflow_processors_waiting", target="kafka") == 0
    assert len(h.sleeps) == 2


def test_a_producer_that_raises_gets_the_whole_remainder_again() -> None:
    # Raising means nothing is known to be acknowledged: at-least-once sends it all again.
    articles = [make_article(n, f"joint drills {n}") for n in range(4)]
    h = Handler(producer=FakeProducer(script=["half", "raise"]))
    h.run([rec(n, a) for n, a in enumerate(articles)])
    first, second, third = h.producer.attempts
    assert (len(first), second, third) == (4, first[1::2], first[1::2])
    assert len(h.producer.tag_messages()) == 4


def test_nothing_to_forward_sends_nothing() -> None:
    h = Handler()
    h.run([rec(0, make_article(1, "Bakery"))])
    assert h.producer.attempts == []


def test_oversized_id_is_dead_lettered_before_the_bulk() -> None:
    bad = make_article(1, "x").model_copy(update={"id": "x" * 600})
    h = Handler()
    h.run([rec(0, bad)])
    assert h.index.calls == []
    [letter] = h.dead_letters()
    assert letter["stage"] == "index" and "512" in letter["reason"]


def test_an_enriched_article_too_large_to_hand_over_is_dead_lettered_and_others_go_on() -> None:
    big = make_article(1, "joint patrol").model_copy(update={"content": "word " * 2_000})
    small = make_article(2, "joint exercise")
    h = Handler(max_message_bytes=6_000)
    report = h.run([rec(0, big), rec(1, small)])
    assert report.indexed == 1 and list(h.index.stored) == [small.id]
    [letter] = h.dead_letters()
    assert letter["stage"] == "enrich" and letter["article_id"] == big.id
    assert "message limit" in letter["reason"]
    assert all(len(m.value) <= 6_000 for m in h.handover.sent + h.producer.sent)


def test_an_article_too_large_for_its_tag_stream_is_indexed_and_dead_lettered() -> None:
    big = make_article(1, "joint patrol").model_copy(update={"content": "word " * 2_000})
    small = make_article(2, "joint exercise")
    h = Handler(max_message_bytes=6_000, handover_limit=100_000)
    report = h.run([rec(0, big), rec(1, small)])
    assert report.indexed == 2  # searchable all the same
    assert [a.id for _tag, a in h.producer.tag_messages()] == [small.id]
    [letter] = h.dead_letters()
    assert letter["stage"] == "route" and letter["article_id"] == big.id
    assert "message limit" in letter["reason"]
    assert all(len(m.value) <= 6_000 for m in h.producer.sent)


@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 0.25, 0.5), (2, 0.5, 1.0),
                                                      (10, 2.0, 4.0)])
def test_backoff_grows_and_is_capped(attempt: int, low: float, high: float) -> None:
    assert low <= Backoff(first_s=0.5, max_s=4).delay(attempt) <= high


def test_backoff_honours_retry_after_up_to_the_cap() -> None:
    assert Backoff(first_s=0.1, max_s=30).delay(1, retry_after=7) == 7
    assert Backoff(first_s=0.1, max_s=5).delay(1, retry_after=60) == 5


class FakeMessage:
    def __init__(self) -> None:
        self.refcount = 1  # the stream's own reference

    def incref(self) -> None:
        self.refcount += 1

    def decref(self) -> None:
        self.refcount -= 1


class FakeEvent:
    def __init__(self) -> None:
        self.message = FakeMessage()


def test_hold_keeps_an_abandoned_batch_from_reaching_refcount_zero() -> None:
    events = [FakeEvent(), FakeEvent()]
    held = hold(events)
    for e in events:  # take()'s finally acks even when the batch was abandoned
        e.message.decref()
    assert [e.message.refcount for e in events] == [1, 1]  # never acked, never committed
    release(held)
    assert [e.message.refcount for e in events] == [0, 0]
