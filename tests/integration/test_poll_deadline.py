"""`newsflow poll --once` ends by its cycle deadline whatever a host says: the real CLI as a
subprocess, real HTTP feeds on four loopback hosts, the real Kafka (a unique topic).

- busy (127.0.5.1, two feeds): 429 with Retry-After: 3600;
- drip (127.0.5.2): a status line, then a byte every 1.5 s (never a read timeout), cut at
  the total per-fetch deadline;
- normal (127.0.5.3): three items;
- crowded (127.0.5.4, three feeds): the host gap puts the third one past the deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.ingest_feedserver import (
    ConditionalFeed,
    FeedServer,
    Reply,
    Seen,
    kafka_topic,  # noqa: F401 (fixture)
    rss,
    topic_keys,
)

pytestmark = pytest.mark.integration

NEWSFLOW = str(Path(sys.executable).with_name("newsflow"))
DEADLINE_S = 10.0
GAP_S = 6.0
TOTAL_TIMEOUT_S = 4.0
# Process start, Kafka connection and the topic's creation come on top of the cycle.
SLACK_S = 15.0


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Hosts:
    def __init__(self, stack: ExitStack) -> None:
        self.busy, self.drip, self.normal, self.crowded = (
            stack.enter_context(FeedServer(f"127.0.5.{n}")) for n in range(1, 5))
        refuse = Reply(429, b"slow down", {"Retry-After": "3600"})
        self.busy.routes.update({"/a.xml": lambda req: refuse, "/b.xml": lambda req: refuse})
        self.drip.routes["/feed.xml"] = self._drip
        self.normal.routes["/feed.xml"] = ConditionalFeed(rss(
            [(f"https://deadline.test/normal/{n}", f"Normal {n}") for n in range(3)]))
        for n in range(3):
            self.crowded.routes[f"/f{n}.xml"] = ConditionalFeed(rss(
                [(f"https://deadline.test/crowded/{n}", f"Crowded {n}")]))

    @staticmethod
    def _drip(_req: Seen) -> Reply:
        def chunks() -> Iterator[bytes]:
            yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>drip</title>'
            for _ in range(40):
                time.sleep(1.5)
                yield b" "

        return Reply(200, chunks())

    def urls(self) -> list[str]:
        return [self.busy.url("/a.xml"), self.busy.url("/b.xml"), self.drip.url("/feed.xml"),
                self.normal.url("/feed.xml"), *(self.crowded.url(f"/f{n}.xml") for n in range(3))]


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    with ExitStack() as stack:
        yield Hosts(stack)


def run_poll(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run([NEWSFLOW, "poll", *args], env=env, capture_output=True, text=True,
                            timeout=DEADLINE_S + SLACK_S + 60, check=False)
    assert result.returncode == 0, result.stderr
    return result, time.monotonic() - started


def test_once_ends_by_the_deadline_and_reports_what_it_deferred(
    hosts: Hosts, kafka_topic: str, tmp_path: Path,  # noqa: F811
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + "".join(f"  - url: {u}\n" for u in hosts.urls()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({
        "NEWSFLOW_KAFKA__ARTICLES_TOPIC": kafka_topic,
        "NEWSFLOW_ALLOW_HOSTS": "127.0.5.0/24",
        "NEWSFLOW_POLLER__STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_POLLER__MIN_HOST_GAP_S": str(GAP_S),
        "NEWSFLOW_POLLER__CYCLE_DEADLINE_S": str(DEADLINE_S),
        "NEWSFLOW_POLLER__READ_TIMEOUT_S": "3",
        "NEWSFLOW_POLLER__TOTAL_TIMEOUT_S": str(TOTAL_TIMEOUT_S),
    })
    a, b = hosts.busy.url("/a.xml"), hosts.busy.url("/b.xml")

    wall_start = time.time()
    result, elapsed = run_poll(env, "--feeds", str(feeds), "--once", "--json")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert elapsed < DEADLINE_S + SLACK_S, elapsed
    assert summary["seconds"] < DEADLINE_S + 1.0, summary

    # The busy host was asked once; the feed that asked got the 429, the other one waits.
    assert len(hosts.busy.requests) == 1
    refused = hosts.busy.url(hosts.busy.requests[0].path)
    waiting = ({a, b} - {refused}).pop()
    assert summary["error_feeds"][refused] == "HTTP 429, Retry-After 3600 s"
    deferred = summary["deferred_feeds"]
    assert deferred[waiting]["reason"] == "the host asked to wait (Retry-After)"
    assert wall_start + 3590 <= epoch(deferred[waiting]["next_due"]) <= time.time() + 3610
    # The drip was cut at the total per-fetch deadline, not left to drip on.
    assert summary["error_feeds"][hosts.drip.url("/feed.xml")].startswith(
        f"total timeout: no complete response within {TOTAL_TIMEOUT_S:g} s")
    # The crowded host: two feeds 6 s apart, the third would start after the deadline
    # (which is third is up to the feed ids: lanes go in id order).
    crowded_polled = sorted(hosts.crowded.url(r.path) for r in hosts.crowded.requests)
    assert len(crowded_polled) == 2
    (crowded_last,) = {hosts.crowded.url(f"/f{n}.xml") for n in range(3)} - set(crowded_polled)
    assert deferred[crowded_last]["reason"].startswith("the host's gap")
    assert set(deferred) == {waiting, crowded_last} and summary["deferred"] == 2
    # Everything else was produced: the normal host's three items and two crowded ones.
    assert summary["new_articles"] == 5 and summary["errors"] == 2
    assert len(hosts.normal.requests) == 1
    assert len(topic_keys(kafka_topic)) == 5

    # The next run honours the kept Retry-After: both busy feeds deferred, no request.
    result, elapsed = run_poll(env, "--feeds", str(feeds), "--once")
    assert elapsed < DEADLINE_S + SLACK_S, elapsed
    assert len(hosts.busy.requests) == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("polled ") and "deferred" in lines[0]
    for url in (a, b):
        (line,) = [x for x in lines if x.startswith(f"  deferred {url}: next due ")]
        assert line.endswith("Z (the host asked to wait (Retry-After))")
    health = {row["url"]: row for row in map(json.loads, subprocess.run(
        [NEWSFLOW, "feeds", "health", "--json", "--feeds", str(feeds)], env=env,
        capture_output=True, text=True, timeout=60, check=True).stdout.splitlines())}
    assert health[refused]["status"] == "failing" and health[refused]["last_status"] == 429
    assert epoch(health[refused]["next_poll"]) >= wall_start + 3590
