"""Two `newsflow poll` processes over 200 feeds split them through a Kafka consumer group;
kill one and the other takes its feeds over. Real HTTP feeds on ten loopback hosts, the real
Kafka, a shared state directory."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.integration.ingest_feedserver import (
    ConditionalFeed,
    FeedServer,
    delete_topics,
    kafka_topic,  # noqa: F401 (fixture)
    rss,
    topic_keys,
)

pytestmark = pytest.mark.integration

HOSTS, PER_HOST, ITEMS = 10, 20, 2
INTERVAL_S = 4.0
NEWSFLOW = str(Path(sys.executable).with_name("newsflow"))


@pytest.fixture
def servers() -> Iterator[list[FeedServer]]:
    with ExitStack() as stack:
        out = []
        for h in range(HOSTS):
            srv = stack.enter_context(FeedServer(f"127.0.2.{h + 1}"))
            for f in range(PER_HOST):
                srv.routes[f"/f{f}.xml"] = ConditionalFeed(rss(
                    [(f"https://group.test/{h}/{f}/{i}", f"Item {i}") for i in range(ITEMS)]))
            out.append(srv)
        yield out


def fetches(servers: list[FeedServer]) -> dict[str, list[tuple[float, str]]]:
    """feed URL -> [(time, poller)] from the servers' request logs."""
    out: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for srv in servers:
        for req in list(srv.requests):
            out[srv.url(req.path)].append((req.at, req.headers["user-agent"]))
    return out


def test_two_pollers_split_200_feeds_and_one_takes_over(
    servers: list[FeedServer], kafka_topic: str, tmp_path: Path,  # noqa: F811
) -> None:
    urls = [srv.url(f"/f{f}.xml") for srv in servers for f in range(PER_HOST)]
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + "".join(f"  - {u}\n" for u in urls))
    assignment = f"test.poller.assign.{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({
        "NEWSFLOW_KAFKA__ARTICLES_TOPIC": kafka_topic,
        "NEWSFLOW_ALLOW_HOSTS": "127.0.0.0/8",
        "NEWSFLOW_POLLER__STATE_DIR": str(tmp_path / "state"),
        "NEWSFLOW_POLLER__MIN_HOST_GAP_S": "0.02",
        "NEWSFLOW_POLLER__MIN_INTERVAL_S": str(INTERVAL_S),
        "NEWSFLOW_POLLER__MAX_INTERVAL_S": str(INTERVAL_S),
        "NEWSFLOW_POLLER__DEFAULT_INTERVAL_S": str(INTERVAL_S),
        "NEWSFLOW_POLLER__GROUP_ID": f"test-pollers-{uuid.uuid4().hex[:8]}",
        "NEWSFLOW_POLLER__ASSIGNMENT_TOPIC": assignment,
        "NEWSFLOW_POLLER__ASSIGNMENT_PARTITIONS": "16",
        "NEWSFLOW_POLLER__SESSION_TIMEOUT_S": "6",
        "NEWSFLOW_POLLER__SUMMARY_INTERVAL_S": "5",
        "NEWSFLOW_POLLER__PARSE_WORKERS": "0",
    })
    started = time.time()
    procs = {
        name: subprocess.Popen(
            [NEWSFLOW, "-q", "poll", "--feeds", str(feeds)],
            env={**env, "NEWSFLOW_POLLER__USER_AGENT": name}, stdout=subprocess.DEVNULL)
        for name in ("poller-a", "poller-b")
    }
    try:
        # Phase 1: both run. Wait until every feed was fetched, and then some more cycles.
        deadline = time.monotonic() + 90
        while len(fetches(servers)) < len(urls):
            assert time.monotonic() < deadline, f"only {len(fetches(servers))} feeds polled"
            assert all(p.poll() is None for p in procs.values())
            time.sleep(0.5)
        time.sleep(3 * INTERVAL_S)
        both = fetches(servers)
        by_poller = Counter(who for seen in both.values() for _, who in seen[-1:])
        assert set(by_poller) == {"poller-a", "poller-b"}, by_poller  # both did a share

        # Phase 2: poller-a dies without leaving the group; poller-b takes its feeds over.
        killed_at = time.time()
        procs["poller-a"].send_signal(signal.SIGKILL)
        procs["poller-a"].wait(timeout=10)
        deadline = time.monotonic() + 60
        while True:
            after = {u: [s for s in seen if s[0] > killed_at] for u, seen in
                     fetches(servers).items()}
            if all(any(who == "poller-b" for _, who in after.get(u, [])) for u in urls):
                break
            assert time.monotonic() < deadline, "poller-b did not take every feed over"
            assert procs["poller-b"].poll() is None
            time.sleep(0.5)
        procs["poller-b"].send_signal(signal.SIGTERM)
        assert procs["poller-b"].wait(timeout=60) == 0
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        delete_topics(assignment)

    # No feed was ever polled twice within one interval (by the same or the other poller):
    # the jitter is +-10 %, so two polls of one cycle would be much closer than this. Known
    # limit: while the group first forms (both pollers starting at once), the first member
    # polls everything and the second may poll a feed it is handed before the first one's
    # state write reached the shared state directory; that first settling cycle is left out.
    settled = started + 2 * INTERVAL_S
    for url, seen in fetches(servers).items():
        times = sorted(t for t, _ in seen if t > settled)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g > 0.8 * INTERVAL_S for g in gaps), (url, gaps)
    keys = topic_keys(kafka_topic)
    assert len(keys) == len(urls) * ITEMS and len(set(keys)) == len(keys)
