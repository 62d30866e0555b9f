"""Per-host rules with the real poller, real HTTP servers on loopback and the real Kafka:
one request at a time per host, a minimum gap between two, Retry-After honoured."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.feeds import FeedSpec
from ingest.fetch import Fetcher
from ingest.parsepool import ParserPool
from ingest.poller import Poller
from ingest.publish import Publisher
from ingest.state import StateStore
from newsflow.settings import KafkaSettings, PollerSettings
from tests.integration.ingest_feedserver import (
    FeedServer,
    Reply,
    Seen,
    kafka_topic,  # noqa: F401 (fixture)
    rss,
    topic_keys,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def two_hosts() -> Iterator[tuple[FeedServer, FeedServer]]:
    with FeedServer("127.0.3.1") as a, FeedServer("127.0.3.2") as b:
        for srv in (a, b):
            for f in range(4):
                body = rss([(f"https://polite.test/{srv.host}/{f}", f"Item {f}")])
                srv.routes[f"/f{f}.xml"] = lambda req, body=body: Reply(200, body, delay_s=0.05)
        yield a, b


def make_poller(settings: PollerSettings, specs: list[FeedSpec], topic: str, state: Path
                ) -> tuple[Poller, Publisher]:
    publisher = Publisher(KafkaSettings(articles_topic=topic)).__enter__()
    return Poller(settings, specs, fetcher=Fetcher(settings), parser=ParserPool(0),
                  sink=publisher, store=StateStore(state)), publisher


async def run_with_fetcher(poller: Poller, coro_factory) -> object:  # type: ignore[no-untyped-def]
    async with poller.fetcher:  # type: ignore[attr-defined]
        return await coro_factory()


def test_per_host_gap_and_concurrency_one(
    two_hosts: tuple[FeedServer, FeedServer], kafka_topic: str, tmp_path: Path,  # noqa: F811
) -> None:
    a, b = two_hosts
    settings = PollerSettings(allow_hosts=["127.0.3.0/24"], min_host_gap_s=1.0)
    specs = [FeedSpec(url=srv.url(f"/f{f}.xml")) for srv in (a, b) for f in range(4)]
    poller, publisher = make_poller(settings, specs, kafka_topic, tmp_path)
    try:
        summary = asyncio.run(run_with_fetcher(poller, poller.run_once))
    finally:
        publisher.close()
    assert summary.new_articles == 8
    for srv in (a, b):
        times = sorted(r.at for r in srv.requests)
        assert len(times) == 4
        # >= gap + the 50 ms the server takes: the gap runs from the end of a response.
        assert all(t2 - t1 >= 1.05 for t1, t2 in itertools.pairwise(times)), times
    # The two hosts were polled side by side, not one after the other.
    assert abs(min(r.at for r in a.requests) - min(r.at for r in b.requests)) < 0.5
    assert summary.finished_at - summary.started_at < 5.0
    assert len(topic_keys(kafka_topic)) == 8


def test_retry_after_is_honoured_for_the_host(
    kafka_topic: str, tmp_path: Path,  # noqa: F811
) -> None:
    with FeedServer("127.0.3.3") as srv:
        calls = {"busy": 0}

        def busy(req: Seen) -> Reply:
            calls["busy"] += 1
            if calls["busy"] == 1:
                return Reply(429, b"slow down", {"Retry-After": "3"})
            return Reply(200, rss([("https://polite.test/busy/1", "One")]))

        srv.routes["/busy.xml"] = busy
        srv.routes["/other.xml"] = lambda req: Reply(200, rss([("https://polite.test/o/1", "O")]))
        settings = PollerSettings(allow_hosts=["127.0.3.3"], min_host_gap_s=0.1,
                                  min_interval_s=1.0, max_interval_s=1.0,
                                  default_interval_s=1.0, summary_interval_s=1.0)
        specs = [FeedSpec(url=srv.url("/busy.xml")), FeedSpec(url=srv.url("/other.xml"))]
        poller, publisher = make_poller(settings, specs, kafka_topic, tmp_path)

        async def run_for(seconds: float) -> None:
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(seconds, stop.set)
            await poller.run_forever(stop)

        try:
            asyncio.run(run_with_fetcher(poller, lambda: run_for(6.0)))
        finally:
            publisher.close()
        refused_at = srv.hits("/busy.xml")[0].at
        later = [r.at for r in srv.requests if r.at > refused_at]
        assert later, "the host was never polled again"
        assert min(later) - refused_at >= 3.0  # no request to the host during Retry-After
        assert len(srv.hits("/busy.xml")) >= 2  # and then the feed was polled again
