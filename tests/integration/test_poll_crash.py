"""SIGKILL a poller between fetch and produce (and between Kafka's acknowledgement and the
state save); the restarted `newsflow poll` loses nothing and duplicates nothing, counted on
a unique topic of the real Kafka."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ingest_feedserver import (
    FeedServer,
    Reply,
    kafka_topic,  # noqa: F401 (fixture)
    rss,
    topic_keys,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FEEDS, ITEMS = 6, 3


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer("127.0.0.1") as srv:
        for f in range(FEEDS):
            body = rss([(f"https://crash.test/{f}/{i}", f"Feed {f} item {i}")
                        for i in range(ITEMS)])
            srv.routes[f"/f{f}.xml"] = lambda req, body=body: Reply(200, body)
        yield srv


@pytest.mark.parametrize("mode", ["before", "after"])
def test_sigkill_loses_nothing_and_duplicates_nothing(
    server: FeedServer, kafka_topic: str, tmp_path: Path, mode: str,  # noqa: F811
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + "".join(f"  - {server.url(f'/f{f}.xml')}\n"
                                           for f in range(FEEDS)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({"NEWSFLOW_KAFKA__ARTICLES_TOPIC": kafka_topic,
                "NEWSFLOW_ALLOW_HOSTS": "127.0.0.1",
                "NEWSFLOW_POLLER__MIN_HOST_GAP_S": "0",
                "NEWSFLOW_POLLER__STATE_DIR": str(tmp_path / "state")})
    marker = tmp_path / "frozen"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.ingest_crashing_poller", mode, "4",
         str(feeds), str(marker)], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the poller ended before freezing"
            assert time.monotonic() < deadline, "the poller never reached the 4th publish"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = topic_keys(kafka_topic)
    assert len(before) == (3 if mode == "before" else 4) * ITEMS

    restart = subprocess.run(
        [str(Path(sys.executable).with_name("newsflow")), "poll", "--feeds", str(feeds),
         "--once"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert restart.returncode == 0, restart.stderr
    keys = topic_keys(kafka_topic)
    duplicates = {k: n for k, n in Counter(keys).items() if n > 1}
    assert duplicates == {}
    assert len(keys) == FEEDS * ITEMS  # nothing lost
    # A second restart finds nothing new either.
    again = subprocess.run(
        [str(Path(sys.executable).with_name("newsflow")), "poll", "--feeds", str(feeds),
         "--once"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and "0 new articles" in again.stdout
    assert len(topic_keys(kafka_topic)) == FEEDS * ITEMS
