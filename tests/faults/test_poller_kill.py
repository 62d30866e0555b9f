"""Fault (d): the poller SIGKILLed between fetch and produce, and between Kafka's
acknowledgement and its state save, while the worker runs; the restarted `newsflow poll`
publishes the rest and nothing twice, so every article is indexed once and on its tag
streams without a duplicate anywhere.

The kill points come from tests/integration/ingest_crashing_poller.py (the real poller,
frozen at its Nth publish), which tests/integration/test_poll_crash.py uses to check the
articles topic alone on the shared stack; here the same kills run through the whole
pipeline, on the private stack, down to Elasticsearch and the tag streams."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from bench.e2e.wire import make_items
from tests.faults.harness import REPO, Pipeline, report, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration]

PER_PHASE = 120  # 30 per feed, 4 feeds


def crash_poller(pipeline: Pipeline, mode: str, nth: int) -> str:
    """Run the freezing poller until it reaches its ``nth`` publish, SIGKILL it there."""
    marker = pipeline.tmp / f"frozen-{mode}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.ingest_crashing_poller", mode, str(nth),
         str(pipeline.feeds_file), str(marker)], cwd=REPO, env=pipeline.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, 120,
                 f"the poller to freeze at publish {nth} ({mode})", every=0.05)
        assert proc.poll() is None, "the poller ended before freezing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return marker.read_text()


def test_poller_sigkilled_between_fetch_and_produce_loses_nothing(pipeline: Pipeline) -> None:
    worker = pipeline.start_worker("--batch-size", "20", "--within", "0.5")
    started = time.monotonic()

    # 1. Killed after fetching its 3rd feed, before producing it.
    first = make_items(PER_PHASE, run=pipeline.run)
    pipeline.add(first)
    frozen = crash_poller(pipeline, "before", 3)
    assert frozen.startswith("fetched 30")
    pipeline.wait_ready(worker)
    restart = pipeline.poll_once()
    assert restart["new_articles"] == PER_PHASE // 2, restart  # feeds 3 and 4

    # 2. Killed after Kafka acknowledged its 2nd feed, before saving that feed's state.
    second = make_items(PER_PHASE, run=pipeline.run, start=PER_PHASE)
    pipeline.add(second)
    frozen = crash_poller(pipeline, "after", 2)
    assert frozen.startswith("acked 30")
    pipeline.poll_once()

    pipeline.wait_complete(180)
    outcome = pipeline.outcome()
    outcome.seconds = time.monotonic() - started
    keys = Counter(k for k, _ in pipeline.topic_messages(pipeline.articles_topic))
    outcome.notes.update(articles_topic_messages=sum(keys.values()),
                         articles_topic_duplicates=sum(n - 1 for n in keys.values()))
    report("poller-sigkill", outcome)
    assert sum(keys.values()) == 2 * PER_PHASE, "each article produced exactly once"
    outcome.assert_exactly_once(max_tag_duplicates=0)
    assert not outcome.redelivered, "no article should reach the worker twice"
