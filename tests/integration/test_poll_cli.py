"""`newsflow poll` and `newsflow feeds health` as subprocesses: real HTTP feeds on loopback,
the real Kafka (a unique topic per test), feed state in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ingest_feedserver import (
    ConditionalFeed,
    FeedServer,
    Reply,
    kafka_topic,  # noqa: F401 (fixture)
    rss,
    topic_keys,
)

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
NEWSFLOW = str(Path(sys.executable).with_name("newsflow"))


def newsflow(*args: str, env: dict[str, str], timeout: float = 120
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NEWSFLOW, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer("127.0.0.1") as srv:
        yield srv


@pytest.fixture
def env(kafka_topic: str, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    base.update({
        "NEWSFLOW_KAFKA__ARTICLES_TOPIC": kafka_topic,
        "NEWSFLOW_ALLOW_HOSTS": "127.0.0.1",
        "NEWSFLOW_POLLER__MIN_HOST_GAP_S": "0",
        "NEWSFLOW_POLLER__STATE_DIR": str(tmp_path / "state"),
    })
    return base


def feed_list(tmp_path: Path, *urls: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n" + "".join(f"  - url: {u}\n" for u in urls))
    return path


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_poll_twice_publishes_nothing_new_and_304_sends_validators(
    server: FeedServer, env: dict[str, str], kafka_topic: str, tmp_path: Path,  # noqa: F811
) -> None:
    links = [(f"https://news.test/story-{n}?utm_source=rss", f"Story {n}") for n in range(5)]
    feed = ConditionalFeed(rss(links))
    server.routes["/feed.xml"] = feed
    feeds = feed_list(tmp_path, server.url("/feed.xml"))

    first = summary_of(newsflow("poll", "--feeds", str(feeds), "--once", "--json", env=env))
    assert first["new_articles"] == 5 and first["errors"] == 0
    second = summary_of(newsflow("poll", "--feeds", str(feeds), "--once", "--json", env=env))
    assert second["not_modified"] == 1 and second["new_articles"] == 0
    assert server.hits("/feed.xml")[-1].headers.get("if-none-match") == feed.etag

    # The feed changes: two new items, three old ones kept. Only the two are produced.
    feed.set(rss([*links[2:], ("https://news.test/story-5", "Story 5"),
                  ("https://news.test/story-6", "Story 6")]))
    third = summary_of(newsflow("poll", "--feeds", str(feeds), "--once", "--json", env=env))
    assert third["new_articles"] == 2 and third["duplicates"] == 3

    keys = topic_keys(kafka_topic)
    assert len(keys) == 7 and len(set(keys)) == 7


def test_dry_run_prints_records_and_needs_no_broker(
    server: FeedServer, env: dict[str, str], tmp_path: Path,
) -> None:
    server.routes["/wire.rss"] = lambda req: Reply(200, (FIXTURES / "wire.rss").read_bytes())
    feeds = feed_list(tmp_path, server.url("/wire.rss"))
    env = {**env, "NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    for _ in range(2):  # a dry run keeps no state: the second prints the same records
        result = newsflow("poll", "--feeds", str(feeds), "--dry-run", env=env)
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["canonical_url"] for r in records] == [
            "https://wire.example/world/poland-lithuania-exercises",
            "https://wire.example/markets/grain"]
        assert "polled 1 feeds" in result.stderr
    assert not (tmp_path / "state").exists()


def test_unreachable_kafka_exits_nonzero_with_a_clear_message(
    server: FeedServer, env: dict[str, str], tmp_path: Path,
) -> None:
    server.routes["/wire.rss"] = lambda req: Reply(200, (FIXTURES / "wire.rss").read_bytes())
    feeds = feed_list(tmp_path, server.url("/wire.rss"))
    env = {**env, "NEWSFLOW_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = newsflow("poll", "--feeds", str(feeds), "--once", env=env)
    assert result.returncode == 1
    assert "newsflow: Kafka unreachable at 127.0.0.1:1" in result.stderr
    assert server.requests == []  # nothing fetched that could not be published


def test_malformed_feeds_yield_articles_or_a_health_reason(
    server: FeedServer, env: dict[str, str], kafka_topic: str, tmp_path: Path,  # noqa: F811
) -> None:
    def fixture(name: str, ctype: str = "application/rss+xml; charset=utf-8") -> Reply:
        return Reply(200, (FIXTURES / name).read_bytes(), {"Content-Type": ctype})

    def fifty_mb(req: object) -> Reply:
        def chunks() -> Iterator[bytes]:
            yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>'
            item = b"<item><title>x</title><link>https://big.test/x</link></item>" * 1000
            for _ in range(50_000_000 // len(item)):
                yield item
            yield b"</channel></rss>"

        return Reply(200, chunks())

    quadratic = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "A" * 1_000_000 +
                 '">]><rss version="2.0"><channel><title>q</title><item><title>' +
                 "&a;" * 3000 + "</title><link>https://quad.test/1</link></item>"
                 "</channel></rss>").encode()
    server.routes.update({
        "/broken": lambda req: fixture("broken.xml"),
        "/charset": lambda req: fixture("wrong-charset.xml"),
        "/html": lambda req: fixture("html-page.html", "text/html"),
        "/empty": lambda req: fixture("empty.xml"),
        "/bomb": lambda req: fixture("entity-bomb.xml"),
        "/quadratic": lambda req: Reply(200, quadratic),
        "/fifty-mb": fifty_mb,
        "/good": lambda req: fixture("wire.rss"),
    })
    paths = ["/broken", "/charset", "/html", "/empty", "/bomb", "/quadratic", "/fifty-mb",
             "/good"]
    feeds = feed_list(tmp_path, *(server.url(p) for p in paths))
    started = time.monotonic()
    summary = summary_of(newsflow("poll", "--feeds", str(feeds), "--once", "--json", env=env))
    assert time.monotonic() - started < 60
    health = {
        row["url"].rsplit("/", 1)[1]: row
        for row in map(json.loads, newsflow("feeds", "health", "--json", "--feeds", str(feeds),
                                             env=env).stdout.splitlines())
    }
    produced = {
        "broken": 1, "charset": 1, "bomb": 2, "quadratic": 1, "good": 2,
    }
    for name, count in produced.items():
        assert health[name]["status"] == "ok", health[name]
        assert health[name]["items_seen"] == count, name
    assert "not well-formed" in health["broken"]["problem"]
    assert "DTD internal subset removed" in health["bomb"]["problem"]
    assert health["html"]["status"] == "failing"
    assert health["html"]["reason"].startswith("not a feed: the server sent an HTML page")
    assert health["empty"]["reason"] == "empty body"
    assert health["fifty-mb"]["reason"] == "body larger than the 10485760 bytes cap (aborted)"
    assert summary["errors"] == 3 and summary["new_articles"] == sum(produced.values())
    assert len(topic_keys(kafka_topic)) == sum(produced.values())


def test_continuous_poll_serves_metrics_and_stops_on_sigterm(
    server: FeedServer, env: dict[str, str], kafka_topic: str, tmp_path: Path,  # noqa: F811
) -> None:
    import signal
    import socket

    import httpx

    server.routes["/wire.rss"] = lambda req: Reply(200, (FIXTURES / "wire.rss").read_bytes())
    feeds = feed_list(tmp_path, server.url("/wire.rss"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [NEWSFLOW, "poll", "--feeds", str(feeds), "--standalone", "--metrics-port", str(port)],
        env={**env, "NEWSFLOW_POLLER__SUMMARY_INTERVAL_S": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        text = ""
        while 'newsflow_ingest_articles_total{status="produced"} 2.0' not in text:
            assert time.monotonic() < deadline, text[-2000:]
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.5)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                continue
        assert 'newsflow_ingest_fetches_total{status="200"} 1.0' in text
        assert "newsflow_ingest_poll_lateness_seconds_bucket" in text
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "polled 1 feeds" in out and "2 new articles" in out
    assert len(topic_keys(kafka_topic)) == 2
