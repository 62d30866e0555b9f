"""Publisher.publish reports exactly which records Kafka acknowledged, whichever thread the
producer's callbacks run on and whenever they come (before or after the last send). A fake
producer: kafka-python's future interface (add_callback / add_errback) only."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError, NotLeaderForPartitionError

from ingest.publish import Publisher
from newsflow.article import Article, article_id
from newsflow.errors import BrokerUnavailableError
from newsflow.settings import KafkaSettings


class _Future:
    def __init__(self) -> None:
        self.callbacks: list[Callable[[Any], None]] = []
        self.errbacks: list[Callable[[BaseException], None]] = []

    def add_callback(self, fn: Callable[[Any], None]) -> None:
        self.callbacks.append(fn)

    def add_errback(self, fn: Callable[[BaseException], None]) -> None:
        self.errbacks.append(fn)


class _Producer:
    """Each key's fate: "ok", "fail" (errback), "raise" (send raises), "now" (acknowledged
    before send returns, on the caller's thread); the rest are settled on another thread."""

    def __init__(self, fates: dict[str, str]) -> None:
        self.fates = fates
        self.later: list[tuple[_Future, str]] = []

    def send(self, _topic: str, *, key: bytes, value: bytes) -> _Future:
        fate = self.fates[key.decode()]
        if fate == "raise":
            raise KafkaTimeoutError("buffer full")
        future = _Future()
        if fate == "now":
            future.add_callback = lambda fn: fn(None)  # type: ignore[method-assign]
        else:
            self.later.append((future, fate))
        return future

    def settle_later(self) -> threading.Thread:
        def run() -> None:
            time.sleep(0.05)  # after publish is waiting
            for future, fate in self.later:
                if fate == "ok":
                    for fn in future.callbacks:
                        fn(None)
                else:
                    for err in future.errbacks:
                        err(NotLeaderForPartitionError("moved"))

        thread = threading.Thread(target=run)
        thread.start()
        return thread


def _article(n: int) -> Article:
    url = f"https://n.example/{n}"
    return Article(id=article_id(url), url=url, canonical_url=url, source="n.example",
                   title=f"t{n}", feed_url="https://n.example/",
                   published_at=datetime(2026, 3, 4, tzinfo=UTC),
                   seen_at=datetime(2026, 3, 4, tzinfo=UTC))


def _publish(fates: list[str]) -> tuple[list[Article], Any]:
    articles = [_article(n) for n in range(len(fates))]
    producer = _Producer({a.id: fate for a, fate in zip(articles, fates, strict=True)})
    publisher = Publisher(KafkaSettings(), topic="t")
    publisher._producer = producer

    async def run() -> Any:
        thread = producer.settle_later()
        try:
            return await publisher.publish(articles)
        except BrokerUnavailableError as exc:
            return exc
        finally:
            thread.join()

    return articles, asyncio.run(run())


def test_each_record_is_reported_acknowledged_or_failed_with_its_reason() -> None:
    articles, result = _publish(["ok", "fail", "now", "raise", "ok"])
    ids = [a.id for a in articles]
    assert result.acked == [ids[0], ids[2], ids[4]]
    assert result.failed == {ids[1]: "NotLeaderForPartitionError: [Error 6] "
                                     "NotLeaderForPartitionError: moved",
                             ids[3]: "KafkaTimeoutError: KafkaTimeoutError: buffer full"}
    assert not result.complete


@pytest.mark.parametrize("fates", [["now", "now"], ["ok", "ok", "ok"]])
def test_all_acknowledged_before_or_after_the_last_send(fates: list[str]) -> None:
    articles, result = _publish(fates)
    assert result.acked == [a.id for a in articles] and result.complete


def test_none_acknowledged_is_kafka_unavailable() -> None:
    _articles, result = _publish(["fail", "raise"])
    assert isinstance(result, BrokerUnavailableError)
